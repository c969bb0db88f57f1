"""Drafts (workflow issue, part 1): a transfer saved before it is sent.

A draft is validated like any transfer request, then sealed to the area's OWN key only:
nothing is addressed to the peer, nothing is queued, and the peer learns nothing until the
draft is sent. Sending opens it, validates it again (a date in it may have passed), and
hands it to `transfers.dispatch`, exactly the path of a transfer sent at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Envelope, Transfer
from gateway.domain import audit
from gateway.domain.areas.local_areas import current_secret_keys, get_area, secret_keys_by_id
from gateway.domain.areas.peers import recipient_key
from gateway.domain.audit import actions
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import SEND_ROLES, Principal
from gateway.domain.transfers import states, timeline
from gateway.domain.transfers.reading import TRANSFER_DRAFT, TRANSFER_REQUEST, TransferView, view
from gateway.domain.transfers.sending import (
    addressed_by,
    dispatch,
    new_transfer,
    validated_request,
)
from gateway.errors import Conflict, Invalid, NotFound, field_errors
from keys import CryptoError, MasterKey, canonical_json, open_envelope, seal_envelope
from schemas.wire.transfer_request import dump_transfer_request, load_transfer_request


def save_draft(
    session: Session,
    master: MasterKey,
    data: Mapping[str, Any],
    *,
    from_area: str,
    to_area: str,
    now: datetime,
    actor: Actor,
) -> TransferView:
    """Validate and store sealed to our own key, in `draft`; nothing is queued."""
    _, canonical = validated_request(data, from_area, to_area)
    with session.begin():
        get_area(session, from_area)
        # The recipient must be known now, so a draft cannot be saved for nowhere.
        recipient_key(session, to_area, now)
        own = current_secret_keys(session, master, from_area, now)
        sealed = seal_envelope(
            sender=own,
            recipient=recipient_key(session, from_area, now),
            payload_type=TRANSFER_DRAFT,
            payload={"from_area": from_area, "to_area": from_area, TRANSFER_REQUEST: canonical},
            created_at=now,
        )
        transfer = new_transfer(from_area, to_area, now, actor)
        transfer.envelope_id = sealed.id
        session.add(
            Envelope(
                envelope_id=sealed.id,
                area_code=from_area,
                direction=states.OUTBOUND,
                type=TRANSFER_DRAFT,
                peer_area=to_area,
                in_reply_to=None,
                digest=sealed.digest,
                body=canonical_json(sealed.wire).decode("ascii"),
                self_sealed_key=sealed.self_sealed_key,
                receipt=None,
                created_at=now,
                purged_at=None,
            )
        )
        session.add(transfer)
        session.flush()
        timeline.note(session, transfer, states.DRAFT, now, actor=actor)
        audit.record(
            session,
            from_area,
            audit.Event(
                action=actions.TRANSFER_DRAFTED,
                actor=actor,
                peer_area=to_area,
                objects={"transfer": transfer.id},
            ),
            now,
        )
        session.flush()
        return view(transfer)


def draft_as(
    session: Session,
    master: MasterKey,
    principal: Principal,
    data: Mapping[str, Any],
    now: datetime,
) -> TransferView:
    from_area, to_area, actor = addressed_by(principal, data)
    return save_draft(
        session, master, data, from_area=from_area, to_area=to_area, now=now, actor=actor
    )


def send_draft(
    session: Session,
    master: MasterKey,
    transfer_id: str,
    now: datetime,
    *,
    actor: Callable[[str], Actor],
    may_send: Callable[[str], bool],
) -> TransferView:
    """Seal a draft to its recipient and queue it (or hold it for a chair), in one
    transaction. `may_send(area)` says whether the caller sends for the draft's area (an
    area it may not answers NotFound); `actor(area)` names the caller for the audit."""
    with session.begin():
        row = session.get(Transfer, transfer_id, with_for_update=True)
        if row is None or row.direction != states.OUTBOUND or not may_send(row.area_code):
            raise NotFound("No such transfer.")
        if row.status != states.DRAFT:
            raise Conflict(f"The transfer is '{row.status}', not a draft: it was already sent.")
        draft = session.scalars(
            select(Envelope).where(
                Envelope.envelope_id == row.envelope_id,
                Envelope.area_code == row.area_code,
                Envelope.type == TRANSFER_DRAFT,
            )
        ).one()
        payload = _opened(session, master, draft)
        try:
            request = load_transfer_request(payload)
        except ValidationError as exc:
            raise Invalid(
                "The draft is no longer valid as it stands; correct it and save it again.",
                errors=field_errors(exc.messages),
            ) from exc
        finally:
            del payload
        session.delete(draft)
        session.flush()
        who = actor(row.area_code)
        dispatch(session, master, row, request, dump_transfer_request(request), now, who)
        return view(row)


def send_draft_as(
    session: Session, master: MasterKey, principal: Principal, transfer_id: str, now: datetime
) -> TransferView:
    return send_draft(
        session,
        master,
        transfer_id,
        now,
        actor=lambda area: principal.actor(area, SEND_ROLES),
        may_send=principal.may_send,
    )


def _opened(session: Session, master: MasterKey, draft: Envelope) -> dict[str, Any]:
    wire = json.loads(draft.body)
    keys = secret_keys_by_id(session, master, wire["to"]["key"])
    if keys is None:
        raise Conflict("The key this draft was sealed to is no longer held; save it again.")
    try:
        opened = open_envelope(wire, keys)
    except CryptoError as exc:
        raise Conflict("This draft can no longer be opened; save it again.") from exc
    inner = opened.get(TRANSFER_REQUEST)
    if not isinstance(inner, dict):
        raise Conflict("This draft can no longer be opened; save it again.")
    return inner

"""Drafts: a transfer saved before it is sent (a coordinator may start one and finish it
later).

A draft is validated like any transfer request, then sealed to the area's OWN key only:
nothing is addressed to the peer, nothing is queued, and the peer learns nothing until the
draft is sent. Sending opens it, validates it again (a date in it may have passed), and
hands it to `sending.dispatch`, exactly the path of a transfer sent at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Envelope, Transfer
from gateway.domain import audit
from gateway.domain.areas.local_areas import get_area, secret_keys_by_id
from gateway.domain.areas.peers import recipient_key
from gateway.domain.audit import actions
from gateway.domain.federation import envelope_writer
from gateway.domain.identity.principals import SEND_ROLES, Principal
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import states
from gateway.domain.transfers.reading import TRANSFER_DRAFT, TRANSFER_REQUEST, TransferView, view
from gateway.domain.transfers.sending import (
    addressed_by,
    dispatch,
    new_transfer,
    validated_request,
)
from gateway.errors import Conflict, Invalid, NotFound, field_errors
from keys import CryptoError, MasterKey, open_envelope
from schemas.wire.transfer_request import dump_transfer_request, load_transfer_request


@owns_transaction
def save_draft(
    session: Session,
    master: MasterKey,
    principal: Principal,
    data: Mapping[str, Any],
    now: datetime,
) -> TransferView:
    """Validate and keep sealed to the caller's own area, in `draft`; nothing is queued."""
    from_area, to_area, actor = addressed_by(principal, data)
    _, canonical = validated_request(data, from_area, to_area)
    with session.begin():
        get_area(session, from_area)
        # The recipient must be known now, so a draft cannot be saved for nowhere.
        recipient_key(session, to_area, now)
        transfer = new_transfer(from_area, to_area, now, actor)
        envelope_writer.write(
            session,
            master,
            transfer,
            envelope_writer.Outgoing(
                payload_type=TRANSFER_DRAFT,
                payload={"from_area": from_area, "to_area": from_area, TRANSFER_REQUEST: canonical},
                event=audit.Event(action=actions.TRANSFER_DRAFTED, actor=actor, peer_area=to_area),
                step=envelope_writer.Step(states.DRAFT, names_envelope=False),
                mode=envelope_writer.KEEP,
                own=True,
            ),
            now,
        )
        return view(transfer)


@owns_transaction
def send_draft(
    session: Session, master: MasterKey, principal: Principal, transfer_id: str, now: datetime
) -> TransferView:
    """Seal a draft to its recipient and queue it (or hold it for a chair), in one
    transaction, exactly as a transfer sent at once. A draft of an area the caller may not
    send for answers NotFound, as a missing id does."""
    with session.begin():
        row = session.get(Transfer, transfer_id, with_for_update=True)
        if row is None or row.direction != states.OUTBOUND or not principal.may_send(row.area_code):
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
        who = principal.actor(row.area_code, SEND_ROLES)
        dispatch(session, master, row, request, dump_transfer_request(request), now, who)
        return view(row)


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

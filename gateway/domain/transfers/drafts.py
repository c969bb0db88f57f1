"""Drafts: a transfer saved before it is sent (a coordinator may start one and finish it
later).

A draft is sealed to the area's OWN key only: nothing is addressed to the peer, nothing is
queued, and the peer learns nothing until the draft is sent. Sending opens it, validates it
whole (a date in it may have passed), and hands it to `sending.dispatch`, exactly the path
of a transfer sent at once.

Two ways in: the API saves a whole, valid request (`save_draft`); the pages start one from
the receiving area and the reason (`start_draft`) and add the rest part by part
(`update_draft`, each part validated on its own by the same schema), so an unfinished draft
is kept too. A draft that never left can be deleted (`delete_draft`).
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
from gateway.domain.casework import documents
from gateway.domain.federation import envelope_writer
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import SEND_ROLES, Principal
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import states, timeline
from gateway.domain.transfers.reading import TRANSFER_DRAFT, TRANSFER_REQUEST, TransferView, view
from gateway.domain.transfers.sending import (
    addressed_by,
    dispatch,
    new_transfer,
    validated_request,
)
from gateway.errors import Conflict, Invalid, NotFound, field_errors
from keys import CryptoError, MasterKey, open_envelope
from schemas.wire.transfer_request import (
    SCHEMA_VERSION,
    dump_transfer_request,
    load_part,
    load_transfer_request,
)


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
        return _keep(session, master, actor, canonical, now)


@owns_transaction
def start_draft(
    session: Session,
    master: MasterKey,
    principal: Principal,
    data: Mapping[str, Any],
    now: datetime,
) -> TransferView:
    """Begin a draft from `to_area` and the `reason` (and `from_area` for a caller who
    sends for several areas); everything else is added by `update_draft`."""
    errors: dict[str, Any] = {}
    try:
        part = load_part({"reason": data.get("reason")})
    except ValidationError as exc:
        errors.update(field_errors(exc.messages))
    try:
        from_area, to_area, actor = addressed_by(principal, data)
    except Invalid as exc:
        raise Invalid(
            "The draft cannot be started.", errors={**(exc.errors or {}), **errors}
        ) from exc
    if to_area == from_area:
        errors["to_area"] = ["Must differ from from_area."]
    if errors:
        raise Invalid("The draft cannot be started.", errors=errors)
    content = {
        "schema_version": SCHEMA_VERSION,
        "from_area": from_area,
        "to_area": to_area,
        **part,
    }
    with session.begin():
        return _keep(session, master, actor, content, now)


def _keep(
    session: Session,
    master: MasterKey,
    actor: Actor,
    content: dict[str, Any],
    now: datetime,
) -> TransferView:
    """A new draft transfer holding `content`, sealed to its own area; in the caller's
    transaction."""
    from_area, to_area = content["from_area"], content["to_area"]
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
            payload=_sealed_body(from_area, content),
            event=audit.Event(action=actions.TRANSFER_DRAFTED, actor=actor, peer_area=to_area),
            step=envelope_writer.Step(states.DRAFT, names_envelope=False),
            mode=envelope_writer.KEEP,
            own=True,
        ),
        now,
    )
    return view(transfer)


def _sealed_body(area: str, content: Mapping[str, Any]) -> dict[str, Any]:
    return {"from_area": area, "to_area": area, TRANSFER_REQUEST: dict(content)}


@owns_transaction
def draft_content(
    session: Session, master: MasterKey, principal: Principal, transfer_id: str
) -> tuple[TransferView, dict[str, Any]]:
    """The draft's answers so far, opened in memory for a caller who may send for its
    area (anyone else: NotFound, as for a missing id)."""
    with session.begin():
        row = _own_draft(session, principal, transfer_id, lock=False)
        return view(row), _opened(session, master, _draft_envelope(session, row))


@owns_transaction
def update_draft(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    part: Mapping[str, Any],
    now: datetime,
) -> TransferView:
    """Replace some answers of a draft (each validated on its own; see `load_part`) and
    seal it again to the area's own key. Nothing is logged: nothing left the area."""
    with session.begin():
        row = _own_draft(session, principal, transfer_id, lock=True)
        envelope = _draft_envelope(session, row)
        content = _opened(session, master, envelope)
        # A draft keeps the payload version it was started in (one saved before version 2
        # is finished as version 1, which every node accepts).
        try:
            values = load_part(part, content.get("schema_version", SCHEMA_VERSION))
        except ValidationError as exc:
            raise Invalid("Some answers are not valid.", errors=field_errors(exc.messages)) from exc
        # `consent.grounds` sets one answer within consent; `victim` replaces the victim.
        within = {name.partition(".")[0] for name in part if "." in name}
        for name, value in values.items():
            if name in within and isinstance(content.get(name), dict):
                content[name] = {**content[name], **value}
            else:
                content[name] = value
        envelope_writer.reseal_kept(
            session, master, row, envelope, _sealed_body(row.area_code, content), now
        )
        return view(row)


@owns_transaction
def delete_draft(
    session: Session, master: MasterKey, principal: Principal, transfer_id: str, now: datetime
) -> None:
    """Delete a draft that never left: its sealed content, the documents held with it and
    its timeline go; the log keeps that it was deleted (content-free)."""
    with session.begin():
        row = _own_draft(session, principal, transfer_id, lock=True)
        actor = principal.actor(row.area_code, SEND_ROLES)
        documents.drop_held(session, row)
        session.delete(_draft_envelope(session, row))
        timeline.forget(session, row)
        audit.record(
            session,
            row.area_code,
            audit.Event(
                action=actions.TRANSFER_DRAFT_DELETED,
                actor=actor,
                peer_area=row.peer_area,
                objects={"transfer": row.id},
            ),
            now,
            master,
        )
        session.delete(row)
        session.flush()


def _own_draft(session: Session, principal: Principal, transfer_id: str, *, lock: bool) -> Transfer:
    row = session.get(Transfer, transfer_id, with_for_update=lock)
    if row is None or row.direction != states.OUTBOUND or not principal.may_send(row.area_code):
        raise NotFound("No such transfer.")
    if row.status != states.DRAFT:
        raise Conflict(f"The transfer is '{row.status}', not a draft: it was already sent.")
    return row


def _draft_envelope(session: Session, row: Transfer) -> Envelope:
    return session.scalars(
        select(Envelope).where(
            Envelope.envelope_id == row.envelope_id,
            Envelope.area_code == row.area_code,
            Envelope.type == TRANSFER_DRAFT,
        )
    ).one()


@owns_transaction
def send_draft(
    session: Session, master: MasterKey, principal: Principal, transfer_id: str, now: datetime
) -> TransferView:
    """Seal a draft to its recipient and queue it (or hold it for a chair), in one
    transaction, exactly as a transfer sent at once. A draft of an area the caller may not
    send for answers NotFound, as a missing id does."""
    with session.begin():
        row = _own_draft(session, principal, transfer_id, lock=True)
        draft = _draft_envelope(session, row)
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

"""Sending a transfer (DESIGN section 3, "Sending a transfer"): validate it, then write the
transfer row, its sealed envelope, its audit event and its outbox row in ONE transaction
(through the one envelope writer), so a crash can lose nothing and half-send nothing.

States and their transitions live in `transfers.states`; a chair's approval of a held
transfer in `casework.chair_approval`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy.orm import Session

from adapters.db.models import Transfer
from gateway.domain import audit
from gateway.domain.areas.local_areas import require_hosted
from gateway.domain.audit import actions
from gateway.domain.casework import promised_documents
from gateway.domain.federation import envelope_writer
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import SEND_ROLES, TRANSFERS_WRITE, Principal
from gateway.domain.schedule import meetings, notifications
from gateway.domain.schedule.working_calendar import london_day
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import states
from gateway.domain.transfers.reading import TRANSFER_REQUEST, TransferView, view
from gateway.domain.transfers.states import AWAITING_APPROVAL, DRAFT, OUTBOUND, QUEUED
from gateway.errors import Forbidden, Invalid, field_errors
from keys import MasterKey
from schemas.common import parse_timestamp
from schemas.wire.transfer_request import (
    TransferRequest,
    dump_transfer_request,
    load_transfer_request,
)

# The decision forum that lets a transfer leave without a chair's approval here.
AT_MEETING = "at_meeting"


def addressed(data: Mapping[str, Any], from_area: str, to_area: str) -> dict[str, Any]:
    """The body with `from_area`/`to_area` filled in, or Invalid where it already names
    other areas (the command line names them beside a file)."""
    payload = dict(data)
    problems = {
        key: ["Does not match the area given on the command line."]
        for key, value in (("from_area", from_area), ("to_area", to_area))
        if payload.setdefault(key, value) != value
    }
    if problems:
        raise Invalid("The transfer request names different areas.", errors=problems)
    return payload


def validated_request(
    data: Mapping[str, Any], from_area: str, to_area: str
) -> tuple[TransferRequest, dict[str, Any]]:
    """The request loaded (or Invalid naming the fields) and its canonical payload."""
    payload = addressed(data, from_area, to_area)
    try:
        request = load_transfer_request(payload)
    except ValidationError as exc:
        raise Invalid(
            "The transfer request is not valid.", errors=field_errors(exc.messages)
        ) from exc
    return request, dump_transfer_request(request)


@owns_transaction
def send(
    session: Session,
    master: MasterKey,
    principal: Principal,
    data: Mapping[str, Any],
    now: datetime,
) -> TransferView:
    """Send the transfer the body describes from the caller's area (a coordinator's, a
    client's own, or the one the operator names): validated, sealed, logged and queued in
    ONE transaction, or held for a chair when the chair decided after the meeting."""
    from_area, to_area, actor = addressed_by(principal, data)
    request, canonical = validated_request(data, from_area, to_area)
    with session.begin():
        require_hosted(session, from_area)
        transfer = new_transfer(from_area, to_area, now, actor)
        dispatch(session, master, transfer, request, canonical, now, actor)
        return view(transfer)


def create_outbound(
    session: Session,
    master: MasterKey,
    request: TransferRequest,
    *,
    to_area: str,
    now: datetime,
    actor: Actor,
    event: Callable[[audit.Event], audit.Event] | None = None,
) -> Transfer:
    """A new outbound transfer of `request` (already validated) from its `from_area` to
    `to_area`, dispatched at once; in the caller's transaction (forwarding uses it: the
    documents promised in it are the originating area's, so none is kept here)."""
    transfer = new_transfer(request.from_area, to_area, now, actor)
    canonical = dump_transfer_request(request)
    dispatch(
        session, master, transfer, request, canonical, now, actor, event=event, own_promises=False
    )
    return transfer


def new_transfer(from_area: str, to_area: str, now: datetime, actor: Actor) -> Transfer:
    """An outbound transfer row in `draft`, not yet added to the session."""
    return Transfer(
        id=str(uuid.uuid4()),
        envelope_id="",
        area_code=from_area,
        peer_area=to_area,
        direction=OUTBOUND,
        status=DRAFT,
        failure_reason=None,
        created_at=now,
        updated_at=now,
        delivered_at=None,
        created_by=actor.id,
    )


def dispatch(
    session: Session,
    master: MasterKey,
    transfer: Transfer,
    request: TransferRequest,
    canonical: dict[str, Any],
    now: datetime,
    actor: Actor,
    *,
    event: Callable[[audit.Event], audit.Event] | None = None,
    own_promises: bool = True,
) -> None:
    """Take a transfer out of `draft` through the envelope writer: sealed to the
    recipient, the disclosure logged (or the hold for a chair), stored and queued; in the
    caller's transaction. `event` may reshape the disclosure event (a forward logs
    `forward.sent` with where the case came from). `own_promises`: the documents the
    request says will follow are this area's to send (kept for the reminders); a forward
    passes on the originating area's promises, which that area keeps."""
    held = needs_chair(session, request)
    if own_promises:
        promised_documents.record(session, transfer, request)
    transfer.restricted_reason = request.restricted_reason if request.restricted else None
    states.move(transfer, AWAITING_APPROVAL if held else QUEUED)
    disclosure = disclosure_event(request, transfer, actor)
    envelope_writer.write(
        session,
        master,
        transfer,
        envelope_writer.Outgoing(
            payload_type=TRANSFER_REQUEST,
            payload=canonical,
            event=event(disclosure) if event else disclosure,
            step=envelope_writer.Step(transfer.status),
            mode=envelope_writer.HOLD if held else envelope_writer.SEND,
            own=True,
        ),
        now,
    )
    if held:
        # The area's chairs are told one waits for them, content-free, with the hold.
        notifications.queue(
            session,
            transfer.area_code,
            notifications.APPROVAL_NEEDED,
            now,
            transfer_id=transfer.id,
            urgent=notifications.is_urgent(request),
        )


def needs_chair(session: Session, request: TransferRequest) -> bool:
    """Decided by the chair after the meeting, nothing leaves before a chair approves it
    here; nor does a decision called `at_meeting` on a day that was none of the sending
    area's recorded meetings: the chair cannot be bypassed by the label (seed 001 5.1)."""
    consent = request.consent
    if consent.decision_forum != AT_MEETING:
        return True
    decided_on = london_day(parse_timestamp(consent.decided_at))
    return not meetings.is_meeting_day(session, request.from_area, decided_on)


def disclosure_event(request: TransferRequest, transfer: Transfer, actor: Actor) -> audit.Event:
    """The disclosure (or, while held, the hold): the same shape whether sent at once or
    released later by a chair's approval; the writer adds the envelope."""
    facts = audit.transfer_facts(request)
    return audit.Event(
        action=actions.TRANSFER_HELD
        if transfer.status == AWAITING_APPROVAL
        else actions.TRANSFER_SENT,
        actor=actor,
        peer_area=transfer.peer_area,
        legal_basis=facts.legal_basis,
        consent=facts.consent,
        details={"type": TRANSFER_REQUEST, "restricted": request.restricted},
        personal=facts.personal,
    )


def sending_area(principal: Principal, data: Mapping[str, Any]) -> str:
    """The caller's area is the sender: a client's own area; a user's area as the body
    names it, or their only area with the coordinator role; the area the operator names."""
    named = data.get("from_area")
    if principal.is_operator:
        if not isinstance(named, str):
            raise Invalid("Name the sending area.", errors={"from_area": ["Required."]})
        return named
    allowed = principal.areas_for(SEND_ROLES, TRANSFERS_WRITE)
    if principal.kind == "client" or named is None:
        if len(allowed) == 1:
            return allowed[0]
        raise Invalid("Name the sending area.", errors={"from_area": ["Required."]})
    if named not in allowed:
        raise Forbidden("You may not send transfers for that area.")
    return str(named)


def addressed_by(principal: Principal, data: Mapping[str, Any]) -> tuple[str, str, Actor]:
    """The sending area the caller acts for, the recipient the body names, and the actor
    to record: shared by sending at once and saving a draft."""
    from_area = sending_area(principal, data)
    to_area = data.get("to_area")
    if not isinstance(to_area, str):
        raise Invalid("The transfer request is not valid.", errors={"to_area": ["Required."]})
    return from_area, to_area, principal.actor(from_area, SEND_ROLES)

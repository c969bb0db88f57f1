"""Outbound transfers: validate, seal, and queue in one transaction; list metadata.

States and their transitions live in `gateway.domain.transfers.states`; approval and
acknowledgement in `gateway.domain.workflow`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy.orm import Session

from adapters.db.models import Envelope, OutboxItem, Transfer
from gateway.domain import audit
from gateway.domain.areas.local_areas import current_secret_keys, get_area
from gateway.domain.areas.peers import recipient_key
from gateway.domain.audit import actions, checkpoints, evidence
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import (
    SEND_ROLES,
    Principal,
)
from gateway.domain.transfers import states, timeline
from gateway.domain.transfers.reading import TRANSFER_REQUEST, TransferView, view
from gateway.domain.transfers.states import (
    AWAITING_APPROVAL,
    DRAFT,
    OUTBOUND,
    QUEUED,
)
from gateway.errors import Forbidden, Invalid, field_errors
from keys import (
    MasterKey,
    canonical_json,
    seal_envelope,
)
from schemas.wire.transfer_request import (
    TransferRequest,
    dump_transfer_request,
    load_transfer_request,
)


def _addressed_payload(data: Mapping[str, Any], from_area: str, to_area: str) -> dict[str, Any]:
    """The flags fill `from_area`/`to_area`, or must match what the file already says."""
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
    payload = _addressed_payload(data, from_area, to_area)
    try:
        request = load_transfer_request(payload)
    except ValidationError as exc:
        raise Invalid(
            "The transfer request is not valid.", errors=field_errors(exc.messages)
        ) from exc
    return request, dump_transfer_request(request)


def send_transfer(
    session: Session,
    master: MasterKey,
    data: Mapping[str, Any],
    *,
    from_area: str,
    to_area: str,
    now: datetime,
    actor: Actor,
) -> TransferView:
    """Validate, seal and queue. The transfer row, the sealed envelope and its outbox row are
    written in ONE transaction, so a crash can lose nothing and half-send nothing."""
    request, canonical = validated_request(data, from_area, to_area)
    with session.begin():
        get_area(session, from_area)
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
    `to_area`, dispatched at once; in the caller's transaction (forwarding uses it)."""
    transfer = new_transfer(request.from_area, to_area, now, actor)
    canonical = dump_transfer_request(request)
    dispatch(session, master, transfer, request, canonical, now, actor, event=event)
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
) -> None:
    """Take a transfer out of `draft`: seal it to the recipient, log the disclosure (or the
    hold for a chair), store the envelope and queue it; in the caller's transaction.
    `event` may reshape the disclosure event (a forward logs `forward.sent` with where the
    case came from)."""
    # Decided by the chair after the meeting: nothing leaves before a chair approves it.
    needs_approval = request.consent.decision_forum == "chair_after_meeting"
    transfer.restricted_reason = request.restricted_reason if request.restricted else None
    from_area, to_area = transfer.area_code, transfer.peer_area
    sender = current_secret_keys(session, master, from_area, now)
    sealed = seal_envelope(
        sender=sender,
        recipient=recipient_key(session, to_area, now),
        payload_type=TRANSFER_REQUEST,
        payload=canonical,
        created_at=now,
    )
    states.move(transfer, AWAITING_APPROVAL if needs_approval else QUEUED)
    transfer.envelope_id = sealed.id
    transfer.updated_at = now
    disclosure = send_event(request, transfer, sealed.id, sealed.digest, actor)
    if event is not None:
        disclosure = event(disclosure)
    recorded = audit.record(session, from_area, disclosure, now, master)
    wire = sealed.wire
    if not needs_approval:
        # The disclosure travels with the proof that it is in our signed log. A held
        # transfer gets its evidence when a chair approves it (workflow issue).
        proof = checkpoints.issue(session, master, from_area, now, sender)
        wire = {**wire, "evidence": evidence.build(recorded, proof)}
    envelope = Envelope(
        envelope_id=sealed.id,
        area_code=from_area,
        direction=OUTBOUND,
        type=TRANSFER_REQUEST,
        peer_area=to_area,
        in_reply_to=None,
        digest=sealed.digest,
        body=canonical_json(wire).decode("ascii"),
        self_sealed_key=sealed.self_sealed_key,
        receipt=None,
        created_at=now,
        purged_at=None,
    )
    session.add(envelope)
    session.add(transfer)
    session.flush()
    timeline.note(session, transfer, transfer.status, now, actor=actor, envelope_id=sealed.id)
    if not needs_approval:
        session.add(queue_item(envelope.pk, now))
    session.flush()


def send_event(
    request: TransferRequest, transfer: Transfer, envelope_id: str, digest: str, actor: Actor
) -> audit.Event:
    """The disclosure (or, while held, the hold): the same shape whether sent at once or
    released later by a chair's approval."""
    facts = audit.transfer_facts(request)
    return audit.Event(
        action=actions.TRANSFER_HELD
        if transfer.status == AWAITING_APPROVAL
        else actions.TRANSFER_SENT,
        actor=actor,
        peer_area=transfer.peer_area,
        objects={"transfer": transfer.id, "envelope": envelope_id},
        envelope_digest=digest,
        legal_basis=facts.legal_basis,
        consent=facts.consent,
        details={"type": TRANSFER_REQUEST, "restricted": request.restricted},
        personal=facts.personal,
    )


def queue_item(envelope_pk: int, now: datetime) -> OutboxItem:
    return OutboxItem(
        envelope_pk=envelope_pk,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        claimed_until=None,
        last_error=None,
        created_at=now,
        finished_at=None,
    )


def sending_area(principal: Principal, data: Mapping[str, Any]) -> str:
    """The caller's area is the sender: a client's own area; a user's area as the body
    names it, or their only area with the coordinator role."""
    allowed = principal.areas_for(SEND_ROLES, "transfers:write")
    named = data.get("from_area")
    if principal.kind == "client" or named is None:
        if len(allowed) == 1:
            return allowed[0]
        raise Invalid("Name the sending area.", errors={"from_area": ["Required."]})
    if named not in allowed:
        raise Forbidden("You may not send transfers for that area.")
    return str(named)


def send_as(
    session: Session,
    master: MasterKey,
    principal: Principal,
    data: Mapping[str, Any],
    now: datetime,
) -> TransferView:
    from_area, to_area, actor = addressed_by(principal, data)
    return send_transfer(
        session, master, data, from_area=from_area, to_area=to_area, now=now, actor=actor
    )


def addressed_by(principal: Principal, data: Mapping[str, Any]) -> tuple[str, str, Actor]:
    """The sending area the caller acts for, the recipient the body names, and the actor
    to record: shared by sending at once and saving a draft."""
    from_area = sending_area(principal, data)
    to_area = data.get("to_area")
    if not isinstance(to_area, str):
        raise Invalid("The transfer request is not valid.", errors={"to_area": ["Required."]})
    return from_area, to_area, principal.actor(from_area, SEND_ROLES)

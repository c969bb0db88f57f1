"""Outbound transfers: validate, seal, and queue in one transaction; list metadata.

States (DESIGN and the workflow issue): sender `awaiting_approval`, `queued`, `delivered`,
`failed` (more arrive with the workflow issue); receiver `received`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Envelope, OutboxItem, Transfer
from gateway.domain import audit
from gateway.domain.actors import Actor
from gateway.domain.areas import current_secret_keys, get_area
from gateway.domain.audit import actions, checkpoints, evidence
from gateway.domain.peers import recipient_key
from gateway.errors import Invalid, field_errors
from keys import MasterKey, SealedEnvelope, canonical_json, seal_envelope
from schemas.transfer_request import (
    TransferRequest,
    dump_transfer_request,
    load_transfer_request,
)

INBOUND, OUTBOUND = "inbound", "outbound"
AWAITING_APPROVAL, QUEUED, DELIVERED, FAILED = "awaiting_approval", "queued", "delivered", "failed"
RECEIVED = "received"
TRANSFER_REQUEST = "transfer_request"


@dataclass(frozen=True)
class TransferView:
    """What anyone allowed to see a transfer's existence may see: metadata only."""

    id: str
    envelope_id: str
    direction: str
    status: str
    from_area: str
    to_area: str
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    failure_reason: str | None

    @property
    def peer_area(self) -> str:
        return self.to_area if self.direction == OUTBOUND else self.from_area

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "envelope_id": self.envelope_id,
            "direction": self.direction,
            "status": self.status,
            "from_area": self.from_area,
            "to_area": self.to_area,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
            "failure_reason": self.failure_reason,
        }


def view(row: Transfer) -> TransferView:
    outbound = row.direction == OUTBOUND
    return TransferView(
        id=row.id,
        envelope_id=row.envelope_id,
        direction=row.direction,
        status=row.status,
        from_area=row.area_code if outbound else row.peer_area,
        to_area=row.peer_area if outbound else row.area_code,
        created_at=row.created_at,
        updated_at=row.updated_at,
        delivered_at=row.delivered_at,
        failure_reason=row.failure_reason,
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
    payload = _addressed_payload(data, from_area, to_area)
    try:
        request = load_transfer_request(payload)
    except ValidationError as exc:
        raise Invalid(
            "The transfer request is not valid.", errors=field_errors(exc.messages)
        ) from exc
    canonical = dump_transfer_request(request)
    # Decided by the chair after the meeting: nothing leaves before a chair approves it.
    needs_approval = request.consent.decision_forum == "chair_after_meeting"
    with session.begin():
        get_area(session, from_area)
        sender = current_secret_keys(session, master, from_area, now)
        sealed = seal_envelope(
            sender=sender,
            recipient=recipient_key(session, to_area, now),
            payload_type=TRANSFER_REQUEST,
            payload=canonical,
            created_at=now,
        )
        transfer = Transfer(
            id=str(uuid.uuid4()),
            envelope_id=sealed.id,
            area_code=from_area,
            peer_area=to_area,
            direction=OUTBOUND,
            status=AWAITING_APPROVAL if needs_approval else QUEUED,
            failure_reason=None,
            created_at=now,
            updated_at=now,
            delivered_at=None,
        )
        recorded = audit.record(
            session, from_area, _send_event(request, transfer, sealed, actor), now, master
        )
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
        if not needs_approval:
            session.add(queue_item(envelope.pk, now))
        session.flush()
        return view(transfer)


def _send_event(
    request: TransferRequest, transfer: Transfer, sealed: SealedEnvelope, actor: Actor
) -> audit.Event:
    facts = audit.transfer_facts(request)
    return audit.Event(
        action=actions.TRANSFER_HELD
        if transfer.status == AWAITING_APPROVAL
        else actions.TRANSFER_SENT,
        actor=actor,
        peer_area=transfer.peer_area,
        objects={"transfer": transfer.id, "envelope": sealed.id},
        envelope_digest=sealed.digest,
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


def list_transfers(
    session: Session, area: str, *, direction: str | None = None
) -> list[TransferView]:
    with session.begin():
        get_area(session, area)
        query = select(Transfer).where(Transfer.area_code == area)
        if direction:
            query = query.where(Transfer.direction == direction)
        rows = session.scalars(query.order_by(Transfer.created_at.desc(), Transfer.id))
        return [view(row) for row in rows]

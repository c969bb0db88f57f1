"""The envelopes that follow a transfer: one way to send them and one shape for receiving
them (DESIGN section 2, workflow issue).

Everything after the first `transfer_request` (documents, acknowledgements, information
requests, withdrawals, forward permissions, repeat-incident and flag notices) is an
envelope `in_reply_to` a transfer's envelope. Sending one is always the same ONE
transaction: seal, log the disclosure, sign a checkpoint, attach the evidence, store the
envelope and queue it. Receiving one is always: validate the opened payload, keep only a
content-free summary, find the transfer it concerns (or refuse), then apply it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Envelope, Transfer
from gateway.domain import audit
from gateway.domain.actors import Actor
from gateway.domain.areas import current_secret_keys
from gateway.domain.audit import checkpoints, evidence
from gateway.domain.audit.log import Detail
from gateway.domain.peers import recipient_key
from gateway.domain.principals import Principal
from gateway.domain.states import OUTBOUND
from gateway.domain.transfers import queue_item
from gateway.errors import Invalid, NotFound, field_errors
from keys import MasterKey, canonical_json, seal_envelope

# --- sending ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One envelope to send in reply to a transfer's envelope, and how to log it."""

    payload_type: str
    payload: Mapping[str, Any]
    action: str
    actor: Actor
    details: Mapping[str, Detail] = field(default_factory=dict)
    # Disclosure facts, where the reply itself discloses about a person (a forward).
    legal_basis: tuple[str, ...] = ()
    consent: str | None = None
    # Reply to this envelope instead of the transfer's own (an answer to a request).
    in_reply_to: str | None = None
    # Extra content-free object ids for the audit leaf (a document id, a request id).
    objects: Mapping[str, str] = field(default_factory=dict)


Body = TypeVar("Body")


def loaded_body(
    load: Callable[[Mapping[str, Any]], Body], data: Mapping[str, Any], what: str
) -> Body:
    """A posted body loaded through its schema, or Invalid naming the fields at fault."""
    try:
        return load(data)
    except ValidationError as exc:
        raise Invalid(f"The {what} is not valid.", errors=field_errors(exc.messages)) from exc


def locked_for_sender(session: Session, principal: Principal, transfer_id: str) -> Transfer:
    """The transfer, locked, for a caller who may send for its area; NotFound for anyone
    else, exactly as for a missing id."""
    row = session.get(Transfer, transfer_id, with_for_update=True)
    if row is None or not principal.may_send(row.area_code):
        raise NotFound("No such transfer.")
    return row


def checked_payload(
    dumped: dict[str, Any], load: Callable[[Mapping[str, Any]], object], what: str
) -> dict[str, Any]:
    """What we send must be what a peer accepts: the canonical payload loaded back through
    its own schema, or Invalid naming the fields at fault."""
    try:
        load(dumped)
    except ValidationError as exc:
        raise Invalid(f"The {what} is not valid.", errors=field_errors(exc.messages)) from exc
    return dumped


def send_reply(
    session: Session, master: MasterKey, row: Transfer, reply: Reply, now: datetime
) -> Envelope:
    """Seal `reply` from the transfer's area to its peer, log it with evidence, store and
    queue it; in the caller's transaction. Returns the stored envelope."""
    sender = current_secret_keys(session, master, row.area_code, now)
    in_reply_to = reply.in_reply_to or row.envelope_id
    sealed = seal_envelope(
        sender=sender,
        recipient=recipient_key(session, row.peer_area, now),
        payload_type=reply.payload_type,
        payload=dict(reply.payload),
        in_reply_to=in_reply_to,
        created_at=now,
    )
    recorded = audit.record(
        session,
        row.area_code,
        audit.Event(
            action=reply.action,
            actor=reply.actor,
            peer_area=row.peer_area,
            objects={"transfer": row.id, "envelope": sealed.id, **reply.objects},
            envelope_digest=sealed.digest,
            legal_basis=reply.legal_basis,
            consent=reply.consent,
            details={"type": reply.payload_type, **reply.details},
        ),
        now,
    )
    proof = checkpoints.issue(session, master, row.area_code, now, sender)
    wire = {**sealed.wire, "evidence": evidence.build(recorded, proof)}
    envelope = Envelope(
        envelope_id=sealed.id,
        area_code=row.area_code,
        direction=OUTBOUND,
        type=reply.payload_type,
        peer_area=row.peer_area,
        in_reply_to=in_reply_to,
        digest=sealed.digest,
        body=canonical_json(wire).decode("ascii"),
        self_sealed_key=sealed.self_sealed_key,
        receipt=None,
        created_at=now,
        purged_at=None,
    )
    session.add(envelope)
    session.flush()
    session.add(queue_item(envelope.pk, now))
    row.updated_at = now
    session.flush()
    return envelope


# --- receiving ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Inbound:
    """A verified envelope being stored: its wire form (still sealed), the receiving area,
    and the content-free summary its handler kept from the opened payload."""

    area: str
    wire: Mapping[str, Any]
    summary: object | None
    now: datetime

    @property
    def envelope_id(self) -> str:
        return str(self.wire["id"])

    @property
    def sender(self) -> str:
        return str(self.wire["from"]["area"])

    @property
    def in_reply_to(self) -> str | None:
        value = self.wire.get("in_reply_to")
        return value if isinstance(value, str) else None


def _no_summary(loaded: object) -> object | None:
    return None


def _nothing(session: Session, inbound: Inbound, transfer_id: str | None) -> None:
    return None


@dataclass(frozen=True)
class Handler:
    """How this node receives one payload type.

    `load` validates the opened payload (raising marshmallow's ValidationError);
    `summary` keeps what may outlive the plaintext (never personal data);
    `target` runs first in the storing transaction and names the transfer the envelope
    concerns, raising `Refused` when it concerns none it may; `apply` runs after the
    envelope and its `envelope.received` event are stored.
    """

    load: Callable[[Mapping[str, Any]], object]
    target: Callable[[Session, Inbound], str | None]
    summary: Callable[[object], object | None] = _no_summary
    apply: Callable[[Session, Inbound, str | None], None] = _nothing


def replied_transfer(
    session: Session, inbound: Inbound, *, direction: str, lock: bool = True
) -> Transfer | None:
    """The local transfer whose envelope this one replies to, between these two areas.
    None if there is none (the caller refuses in its own words)."""
    if inbound.in_reply_to is None:
        return None
    query = select(Transfer).where(
        Transfer.envelope_id == inbound.in_reply_to,
        Transfer.area_code == inbound.area,
        Transfer.direction == direction,
        Transfer.peer_area == inbound.sender,
    )
    if lock:
        query = query.with_for_update()
    return session.scalar(query)

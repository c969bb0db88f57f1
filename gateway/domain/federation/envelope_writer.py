"""The envelopes that follow a transfer: one way to send them and one shape for receiving
them (DESIGN section 2, workflow issue).

Everything after the first `transfer_request` (documents, acknowledgements, information
requests, withdrawals, forward permissions, repeat-incident and flag notices) is an
envelope `in_reply_to` a transfer's envelope. Sending one is always the same ONE
transaction: seal, log the disclosure, sign a checkpoint, attach the evidence, store the
envelope and queue it. Receiving one is always: validate the opened payload, keep only a
content-free summary, find the transfer it concerns (or refuse), then apply it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from adapters.db.models import Envelope, Transfer
from gateway.domain import audit
from gateway.domain.areas.local_areas import current_secret_keys
from gateway.domain.areas.peers import recipient_key
from gateway.domain.audit import checkpoints, evidence
from gateway.domain.audit.log import Detail
from gateway.domain.identity.actors import Actor
from gateway.domain.transfers.sending import queue_item
from gateway.domain.transfers.states import OUTBOUND
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

"""Envelopes queued by hand: sealed and signed properly by the sending area's keys but
saying whatever a test wants, stored and queued as the envelope writer would, so that
the receiving node's refusals can be tested over real HTTP."""

from __future__ import annotations

from typing import Any

from support.nodes import RunningNode

from adapters.db.models import Envelope
from gateway.domain.areas.local_areas import current_secret_keys
from gateway.domain.areas.peers import recipient_key
from gateway.domain.clock import utcnow
from gateway.domain.federation.envelope_writer import queue_item
from keys import canonical_json, seal_envelope


def queue_forged(
    running: RunningNode,
    sender: str,
    recipient: str,
    payload_type: str,
    payload: dict[str, Any],
    in_reply_to: str,
) -> str:
    """Seal `payload` from `sender` to `recipient` in reply to `in_reply_to`, store it and
    queue it on `running`'s outbox; returns the envelope id."""
    now = utcnow()
    node = running.node
    with node.sessions() as session, session.begin():
        sealed = seal_envelope(
            sender=current_secret_keys(session, node.master, sender, now),
            recipient=recipient_key(session, recipient, now),
            payload_type=payload_type,
            payload=payload,
            in_reply_to=in_reply_to,
            created_at=now,
        )
        envelope = Envelope(
            envelope_id=sealed.id,
            area_code=sender,
            direction="outbound",
            type=payload_type,
            peer_area=recipient,
            in_reply_to=in_reply_to,
            digest=sealed.digest,
            body=canonical_json(sealed.wire).decode("ascii"),
            self_sealed_key=sealed.self_sealed_key,
            receipt=None,
            created_at=now,
            purged_at=None,
        )
        session.add(envelope)
        session.flush()
        session.add(queue_item(session, envelope, now))
    return sealed.id


def refusal_of(running: RunningNode, envelope_id: str) -> str:
    """The outbox's record of a delivery the peer refused for good."""
    query = (
        "SELECT o.{} FROM outbox o JOIN envelopes e ON e.pk = o.envelope_pk "
        "WHERE e.envelope_id = :e"
    )
    assert running.scalar(query.format("status"), e=envelope_id) == "failed"
    return str(running.scalar(query.format("last_error"), e=envelope_id))

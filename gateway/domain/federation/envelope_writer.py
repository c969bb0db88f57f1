"""The one writer of an outbound envelope (DESIGN sections 3 and 7).

Every envelope an area sends (a transfer, a forward, and every reply that follows a
transfer: documents, acknowledgements, information requests, withdrawals, forward
permissions, repeat-incident and flag notices), and every draft it keeps to itself, is
written here, in the caller's transaction: seal it, log the event, store the envelope,
queue it for delivery, and put the step on the transfer's timeline. The evidence of the
disclosure (inclusion proof and signed checkpoint, DESIGN section 7) is attached by
`attach_evidence` when the worker claims the envelope, so a burst of sends shares one
checkpoint and no send signs one. A transfer held for a chair is written the same way but
neither logged nor queued until `release` (the chair's approval); a draft is sealed to the
area's own key and never leaves.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from adapters.db.models import Envelope, OutboxItem, Peer, Transfer
from adapters.db.session import update_later
from gateway.domain import audit
from gateway.domain.areas.local_areas import current_secret_keys, secret_keys_by_id
from gateway.domain.areas.peers import accepts_of, recipient_key
from gateway.domain.audit import evidence
from gateway.domain.audit.log import Detail
from gateway.domain.identity.actors import Actor
from gateway.domain.transfers import timeline
from gateway.domain.transfers.states import OUTBOUND
from gateway.errors import Conflict
from gateway.logs import current_request_id
from keys import MasterKey, canonical_json, seal_envelope
from schemas.wire import payload_versions

# How an envelope leaves: proved and queued at once; held for a chair (logged, proved and
# queued on approval); or kept as a draft sealed to the area itself (never queued).
SEND, HOLD, KEEP = "send", "hold", "keep"
NO_PLACE = "The version the receiving area accepts has no place for this."


@dataclass(frozen=True)
class Step:
    """The step the envelope puts on the transfer's timeline (content-free codes only)."""

    kind: str
    detail: Mapping[str, Detail] = field(default_factory=dict)
    # Whether the step names the envelope (a draft's own envelope is dropped when sent).
    names_envelope: bool = True


@dataclass(frozen=True)
class Outgoing:
    """One envelope from a transfer's area about that transfer, and how to log it.

    `event` is the audit event without the envelope: the writer adds the transfer, the
    envelope and its digest. `in_reply_to` is None for a transfer_request itself; a reply
    names the transfer's envelope (or the envelope it answers)."""

    payload_type: str
    payload: Mapping[str, Any]
    event: audit.Event
    step: Step | None
    in_reply_to: str | None = None
    mode: str = SEND
    # The transfer's own envelope (its transfer_request, or its draft): the row takes its
    # id and is stored with it.
    own: bool = False


def write(
    session: Session, master: MasterKey, row: Transfer, outgoing: Outgoing, now: datetime
) -> Envelope:
    """Seal, log, prove, store, queue and note `outgoing`; in the caller's transaction.
    Returns the stored envelope."""
    area = row.area_code
    sender = current_secret_keys(session, master, area, now)
    keep = outgoing.mode == KEEP
    sealed = seal_envelope(
        sender=sender,
        recipient=recipient_key(session, area if keep else row.peer_area, now),
        payload_type=outgoing.payload_type,
        payload=dict(outgoing.payload) if keep else negotiated(session, row.peer_area, outgoing),
        in_reply_to=outgoing.in_reply_to,
        created_at=now,
    )
    event = dataclasses.replace(
        outgoing.event,
        objects={"transfer": row.id, "envelope": sealed.id, **outgoing.event.objects},
        envelope_digest=sealed.digest,
    )
    # The leaf is committed with the outbox row: no envelope can leave without it in the log.
    recorded = audit.record(session, area, event, now, master)
    envelope = Envelope(
        envelope_id=sealed.id,
        area_code=area,
        direction=OUTBOUND,
        type=outgoing.payload_type,
        peer_area=row.peer_area,
        in_reply_to=outgoing.in_reply_to,
        digest=sealed.digest,
        body=canonical_json(sealed.wire).decode("ascii"),
        self_sealed_key=sealed.self_sealed_key,
        receipt=None,
        created_at=now,
        purged_at=None,
        evidence_seq=recorded.seq if outgoing.mode == SEND else None,
    )
    session.add(envelope)
    if outgoing.own:
        row.envelope_id = sealed.id
        session.add(row)
    session.flush()
    if outgoing.mode == SEND:
        session.add(queue_item(session, envelope, now))
    if outgoing.step is not None:
        step = outgoing.step
        named = sealed.id if step.names_envelope else None
        timeline.note(
            session, row, step.kind, now, actor=event.actor, envelope_id=named, **step.detail
        )
    row.updated_at = now
    session.flush()
    return envelope


def negotiated(session: Session, recipient: str, outgoing: Outgoing) -> dict[str, Any]:
    """The payload as the newest version the recipient accepts (DESIGN section 4), down-
    converted if need be; Conflict naming the recipient's versions when none can carry it,
    before anything is sealed or stored (the caller's transaction rolls back)."""
    return negotiated_payload(session, recipient, outgoing.payload_type, outgoing.payload)


def negotiated_payload(
    session: Session, recipient: str, kind: str, payload: Mapping[str, Any]
) -> dict[str, Any]:
    """`negotiated` for a payload its caller must know as sent (a document's digest)."""
    accepted = payload_versions.versions_for(accepts_of(session, recipient), kind)
    try:
        return payload_versions.negotiate(kind, payload, accepted)
    except payload_versions.NotAccepted as exc:
        raise Conflict(
            exc.explanation + " Ask the receiving MARAC to upgrade its gateway and send "
            "its bundle again, or send without the facts named.",
            errors={field: [NO_PLACE] for field in exc.fields} or None,
        ) from exc


def reseal_kept(
    session: Session,
    master: MasterKey,
    row: Transfer,
    kept: Envelope,
    payload: Mapping[str, Any],
    now: datetime,
) -> Envelope:
    """Replace the transfer's own kept envelope (a draft) with `payload` sealed afresh to
    the area itself; nothing is logged or queued, because nothing leaves the area. In the
    caller's transaction."""
    area = row.area_code
    keys = current_secret_keys(session, master, area, now)
    sealed = seal_envelope(
        sender=keys,
        recipient=recipient_key(session, area, now),
        payload_type=kept.type,
        payload=dict(payload),
        in_reply_to=None,
        created_at=now,
    )
    kept.envelope_id, kept.digest = sealed.id, sealed.digest
    kept.body = canonical_json(sealed.wire).decode("ascii")
    kept.self_sealed_key = sealed.self_sealed_key
    kept.created_at = now
    row.envelope_id, row.updated_at = sealed.id, now
    session.flush()
    return kept


def release(
    session: Session,
    master: MasterKey,
    row: Transfer,
    envelope: Envelope,
    disclosure: audit.Event,
    now: datetime,
) -> None:
    """Send an envelope that was held for a chair: log its disclosure now and queue it (its
    evidence is attached on delivery, as any other's); in the caller's transaction. The
    envelope's signed part is unchanged (the evidence sits outside the signature), so its
    digest stays what was logged."""
    area = envelope.area_code
    event = dataclasses.replace(
        disclosure,
        objects={"transfer": row.id, "envelope": envelope.envelope_id, **disclosure.objects},
        envelope_digest=envelope.digest,
    )
    recorded = audit.record(session, area, event, now, master)
    envelope.evidence_seq = recorded.seq
    session.add(queue_item(session, envelope, now))
    session.flush()


def attach_evidence(
    session: Session, master: MasterKey, envelopes: Iterable[Envelope], now: datetime
) -> None:
    """Attach to each outbound envelope still waiting for it the evidence of its disclosure
    (DESIGN section 7): ONE checkpoint covering all their leaves per sending area (and
    signing key), and each leaf's inclusion proof against it. The body is stored with the
    evidence, so a retry or a resend posts the same bytes and the sender keeps what it
    sent. In the caller's transaction (the worker's claim, which holds the outbox rows)."""
    waiting: dict[tuple[str, str], list[tuple[Envelope, int, dict[str, Any]]]] = {}
    for envelope in envelopes:
        seq = envelope.evidence_seq
        if seq is not None and envelope.purged_at is None:
            wire = json.loads(envelope.body)
            signer = (envelope.area_code, str(wire["from"]["key"]))
            waiting.setdefault(signer, []).append((envelope, seq, wire))
    for (area, key_id), group in sorted(waiting.items(), key=lambda item: item[0]):
        # The checkpoint is signed by the key that signed the envelopes: a receiver that
        # takes the envelope takes its checkpoint (an envelope sealed before a rotation
        # and delivered after it is not refused for a checkpoint under a key the peer has
        # not pinned yet). A key no longer held: the current one (the POST fails anyway).
        keys = secret_keys_by_id(session, master, key_id) or current_secret_keys(
            session, master, area, now
        )
        proved = evidence.prove(session, master, area, [seq for _, seq, _ in group], now, keys)
        for envelope, seq, wire in group:
            body = canonical_json({**wire, "evidence": proved[seq]}).decode("ascii")
            update_later(session, envelope, body=body, evidence_seq=None)
    session.flush()


def queue_item(session: Session, envelope: Envelope, now: datetime) -> OutboxItem:
    """A new outbox row for a stored envelope: due at once, or, while its peer is down,
    when the peer's backlog is (behind the one probe that finds out whether it is back)."""
    peer = session.get(Peer, envelope.peer_area)
    held = peer.held_until if peer is not None else None
    return OutboxItem(
        envelope_pk=envelope.pk,
        status="pending",
        attempts=0,
        next_attempt_at=held if held is not None and held > now else now,
        claimed_until=None,
        last_error=None,
        created_at=now,
        finished_at=None,
        request_id=current_request_id(),
    )


def reply(
    row: Transfer,
    payload_type: str,
    payload: Mapping[str, Any],
    *,
    action: str,
    actor: Actor,
    step: Step | None,
    details: Mapping[str, Detail] | None = None,
    objects: Mapping[str, str] | None = None,
    legal_basis: tuple[str, ...] = (),
    consent: str | None = None,
    in_reply_to: str | None = None,
) -> Outgoing:
    """An envelope that follows the transfer `row`: in reply to its envelope (or to the one
    it answers), logged as `action` with its payload type among the details."""
    return Outgoing(
        payload_type=payload_type,
        payload=payload,
        event=audit.Event(
            action=action,
            actor=actor,
            peer_area=row.peer_area,
            objects=dict(objects or {}),
            legal_basis=legal_basis,
            consent=consent,
            details={"type": payload_type, **(details or {})},
        ),
        step=step,
        in_reply_to=in_reply_to or row.envelope_id,
    )

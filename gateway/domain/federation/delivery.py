"""The durable outbox: claim due envelopes, deliver them, store receipts, back off, give up.

Exactly-once at the receiver comes from two halves: the sender retries until it holds a
valid signed receipt (at-least-once), and the receiver is idempotent by envelope id. A
worker that dies mid-delivery leaves a claim that lapses after the lease; the next claim
retries, and the receiver answers with the receipt it already issued.

Backoff is per envelope, and per peer while the peer is down (unreachable, or answering
429/502/503/504): the failed envelope becomes the peer's one probe, at the peer's backoff,
and the rest of its backlog waits behind the probe; when a probe is delivered the backlog is
due at once, so it drains at full speed instead of each envelope finding out alone.

The POSTs themselves and the reading of the peers' answers are `posting` (no database).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, defer

from adapters.db import is_outage
from adapters.db.models import Envelope, OutboxItem, Peer, Transfer, TransferEvent, UsedToken
from adapters.db.session import read_only, update_later, writes_together
from adapters.peer_client import PeerClient
from gateway.domain import audit
from gateway.domain.areas.local_areas import secret_keys_by_id
from gateway.domain.areas.peers import accepts_batches, node_url, pinned_key, pinned_keys_of
from gateway.domain.audit import actions
from gateway.domain.audit.log import Detail
from gateway.domain.casework import acknowledgements, documents, messages
from gateway.domain.federation import envelope_writer
from gateway.domain.federation.posting import (
    CLOCK_SKEW,
    Claim,
    DeliveryError,
    Result,
    Route,
    send_one,
    verify_receipt_with,
)
from gateway.domain.identity.actors import Actor
from gateway.domain.schedule import notifications
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import states, timeline
from gateway.domain.transfers.states import DELIVERED, FAILED, QUEUED, WITHDRAWN
from gateway.errors import NotFound
from keys import MasterKey, PublicAreaKey, sha256_hex
from schemas.wire.envelope import ENVELOPES_PATH

PENDING = "pending"
# On the timeline of the transfer a reply belongs to when the outbox gives up on it.
REPLY_FAILED = "reply_failed"
_jitter = secrets.SystemRandom()
log = logging.getLogger("gateway.delivery")


@dataclass(frozen=True)
class DeliveryPolicy:
    backoff_base: float
    backoff_cap: float
    max_age: float
    lease: float

    def next_delay(self, attempts: int) -> float:
        """Exponential backoff with 'equal jitter': never hammer, never synchronise."""
        delay = min(self.backoff_cap, self.backoff_base * 2 ** max(attempts - 1, 0))
        return float(delay / 2 + _jitter.uniform(0, delay / 2))


@dataclass(frozen=True)
class Outcome:
    envelope_id: str
    delivered: bool
    final: bool
    detail: str
    # A fixed word for metrics (gateway/metrics.py): "" when delivered, else
    # DeliveryError.reason; never a value from the peer beyond its HTTP status.
    reason: str = ""


@owns_transaction
def claim_due(
    session: Session, master: MasterKey, *, now: datetime, lease: float, limit: int
) -> list[Claim]:
    """Claim up to `limit` due items. On PostgreSQL concurrent workers skip each other's rows
    (FOR UPDATE SKIP LOCKED); on SQLite the immediate transaction serialises claimers.
    Envelopes still waiting for their evidence get it here, in the claim's transaction
    (one checkpoint per sending area for the whole batch, DESIGN section 7): the outbox row
    is held, so no other worker proves or posts the same envelope meanwhile, and what the
    claim carries is what is stored. The batch's new leases and bodies go out a statement
    per table at the end (update_later), not one UPDATE a row in the ORM's flush."""
    with session.begin(), writes_together(session):
        rows = session.execute(
            select(OutboxItem, Envelope)
            .join(Envelope, Envelope.pk == OutboxItem.envelope_pk)
            .where(OutboxItem.status == PENDING, OutboxItem.next_attempt_at <= now)
            .where(or_(OutboxItem.claimed_until.is_(None), OutboxItem.claimed_until < now))
            .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=OutboxItem)
        ).all()
        envelope_writer.attach_evidence(session, master, [envelope for _, envelope in rows], now)
        claims = []
        for item, envelope in rows:
            update_later(session, item, claimed_until=now + timedelta(seconds=lease))
            wire = json.loads(envelope.body)
            claims.append(
                Claim(
                    outbox_id=item.id,
                    envelope_id=envelope.envelope_id,
                    from_area=envelope.area_code,
                    from_key=wire["from"]["key"],
                    to_area=envelope.peer_area,
                    body=envelope.body,
                    digest=envelope.digest,
                    created_at=item.created_at,
                    request_id=item.request_id,
                )
            )
        return claims


def deliver(
    session: Session,
    master: MasterKey,
    client: PeerClient,
    claim: Claim,
    policy: DeliveryPolicy,
    clock: Callable[[], datetime],
) -> Outcome:
    try:
        receipt = _post(session, master, client, claim, clock())
    except DeliveryError as exc:
        return _record_failure(session, claim, exc, policy, clock())
    return _record_delivery(session, master, claim, receipt, clock())


@dataclass(frozen=True)
class _Rows:
    """What recording one claim's outcome reads, loaded for a whole batch at once: its
    outbox item (locked), its envelope (without the body) and its transfer, if it is a
    transfer's own envelope; `holds_documents`: documents wait for that transfer."""

    item: OutboxItem | None
    envelope: Envelope | None
    transfer: Transfer | None
    holds_documents: bool = False


_GONE = _Rows(None, None, None)


def _load(session: Session, claims: list[Claim]) -> dict[int, _Rows]:
    """The rows of every claim in one statement, in the caller's transaction, rather than
    four per claim (each also flushing what the claim before it changed)."""
    found = session.execute(
        select(OutboxItem, Envelope, Transfer, documents.holds_documents())
        .join(Envelope, Envelope.pk == OutboxItem.envelope_pk)
        .outerjoin(
            Transfer,
            (Transfer.envelope_id == Envelope.envelope_id)
            & (Transfer.area_code == Envelope.area_code),
        )
        .where(OutboxItem.id.in_([claim.outbox_id for claim in claims]))
        .options(defer(Envelope.body))
        .with_for_update(of=OutboxItem)
        .execution_options(populate_existing=True)
    ).all()
    return {
        item.id: _Rows(item, envelope, transfer, bool(held))
        for item, envelope, transfer, held in found
    }


def _rows_of(session: Session, claim: Claim) -> _Rows:
    return _load(session, [claim]).get(claim.outbox_id, _GONE)


# --- a claimed batch at once (the worker) ---------------------------------------------


@owns_transaction
def routes(
    session: Session, master: MasterKey, claims: list[Claim]
) -> dict[tuple[str, str], Route]:
    """Every lookup the claims' POSTs need, in one read transaction."""
    found: dict[tuple[str, str], Route] = {}
    with session.begin():
        read_only(session)
        for claim in claims:
            key = (claim.from_key, claim.to_area)
            if key in found:
                continue
            try:
                url: str | None = node_url(session, claim.to_area)
            except NotFound:
                url = None
            found[key] = Route(
                url=url,
                batches=url is not None and accepts_batches(session, claim.to_area),
                sender=secret_keys_by_id(session, master, claim.from_key),
            )
    return found


@owns_transaction
def record_results(
    session: Session,
    master: MasterKey,
    results: list[tuple[Claim, Result]],
    policy: DeliveryPolicy,
    clock: Callable[[], datetime],
) -> list[tuple[Claim, Outcome]]:
    """Receipts and failures of a batch in one transaction. Envelopes that were not tried
    are released first, so a probe's failure then holds them behind it; receipts come
    last, so a peer that answered one lane while another lane found it down (it came back
    mid-batch) has its backlog released, not held for a lease."""
    now = clock()
    ordered = sorted(results, key=lambda pair: _settle_order(pair[1]))
    try:
        # Each delivered transfer's step on its timeline is kept and written with the
        # rest of the batch's, one statement (dropped with the transaction if it raises).
        with session.begin(), writes_together(session):
            rows = _load(session, [claim for claim, _ in ordered])
            settled = []
            for claim, result in ordered:
                found = rows.get(claim.outbox_id, _GONE)
                settled.append((claim, _settle(session, master, claim, result, policy, now, found)))
    except Exception as exc:
        if is_outage(exc):
            raise  # nothing recorded: the claims lapse and the receivers answer again
        log.warning("recording a batch failed (%s); recording one by one", type(exc).__name__)
        settled = []
        for claim, result in ordered:
            with session.begin():
                found = _rows_of(session, claim)
                settled.append((claim, _settle(session, master, claim, result, policy, now, found)))
    return [(claim, outcome) for claim, outcome in settled if outcome is not None]


def _settle_order(result: Result) -> int:
    if result is None:
        return 0
    return 1 if isinstance(result, DeliveryError) else 2


def _settle(
    session: Session,
    master: MasterKey,
    claim: Claim,
    result: Result,
    policy: DeliveryPolicy,
    now: datetime,
    rows: _Rows,
) -> Outcome | None:
    if result is None:
        if rows.item is not None and rows.item.status == PENDING:
            rows.item.claimed_until = None
        return None
    if isinstance(result, DeliveryError):
        return _apply_failure(session, claim, result, policy, now, rows)
    try:
        _verify_receipt(session, claim, result.text)
    except DeliveryError as exc:
        return _apply_failure(session, claim, exc, policy, now, rows)
    outcome = _apply_delivery(session, master, claim, result.text, now, rows)
    if result.retry and outcome.detail == "delivered":
        # The peer held it already (an answer lost, a lease lapsed): said, as it is rare.
        return Outcome(claim.envelope_id, True, True, "delivered (the peer already held it)")
    return outcome


@owns_transaction
def _post(
    session: Session, master: MasterKey, client: PeerClient, claim: Claim, now: datetime
) -> str:
    with session.begin():
        url = node_url(session, claim.to_area) + ENVELOPES_PATH
        sender = secret_keys_by_id(session, master, claim.from_key)
        # The keys the receipt may be signed with, read now rather than in a transaction
        # of their own after the POST.
        receipt_keys = pinned_keys_of(session, claim.to_area)
    text = send_one(client, url, sender, claim, now).text
    _check_receipt(receipt_keys, claim, text)
    return text


def _check_receipt(keys: dict[str, PublicAreaKey], claim: Claim, text: str) -> None:
    """As `_verify_receipt`, with the peer's keys read beforehand (one transaction fewer)."""
    verify_receipt_with(keys.get, claim, text)


def _verify_receipt(session: Session, claim: Claim, text: str) -> None:
    """The receipt is the peer's, signed by a key pinned for it, for this very envelope;
    in the caller's transaction."""
    verify_receipt_with(lambda key_id: pinned_key(session, key_id), claim, text)


@owns_transaction
def _record_delivery(
    session: Session, master: MasterKey, claim: Claim, receipt: str, now: datetime
) -> Outcome:
    with session.begin():
        rows = _rows_of(session, claim)
        return _apply_delivery(session, master, claim, receipt, now, rows)


def _apply_delivery(
    session: Session, master: MasterKey, claim: Claim, receipt: str, now: datetime, rows: _Rows
) -> Outcome:
    item, envelope, transfer = rows.item, rows.envelope, rows.transfer
    if item is None or envelope is None:
        return Outcome(claim.envelope_id, True, True, "already recorded")
    if item.attempts and item.status == PENDING:
        _release_backlog(session, claim, now)  # the peer answers again: drain it
    # A batch's changes go out a statement per table at the end of record_results'
    # block (update_later), not one UPDATE a row in the ORM's flush.
    update_later(
        session, item, status=DELIVERED, finished_at=now, claimed_until=None, last_error=None
    )
    update_later(session, envelope, receipt=envelope.receipt or receipt)
    if transfer is not None:
        changes: dict[str, Any] = {"delivered_at": transfer.delivered_at or now, "updated_at": now}
        if transfer.status in (QUEUED, FAILED):
            states.check(transfer, DELIVERED)  # as states.move does; written with the batch
            changes |= {"status": DELIVERED, "failure_reason": None}
            timeline.note(
                session,
                transfer,
                DELIVERED,
                now,
                actor=Actor.system(),
                envelope_id=claim.envelope_id,
            )
        elif transfer.status == WITHDRAWN and transfer.delivered_at is None:
            # Withdrawn while a worker was delivering it: the receipt still proves
            # delivery (withdrawn is final); the withdrawal envelope follows it.
            timeline.note(
                session,
                transfer,
                "delivered_after_withdrawal",
                now,
                actor=Actor.system(),
                envelope_id=claim.envelope_id,
            )
        update_later(session, transfer, **changes)
    else:
        _reply_delivered(session, claim, now)
        acknowledgements.redirect_delivered(session, envelope, now)
    event = _delivered_event(claim, transfer, receipt)
    if transfer is not None and transfer.status != WITHDRAWN and rows.holds_documents:
        # Documents added before it left follow it now, never ahead of it (an
        # acknowledgement may have overtaken this receipt: they follow all the same);
        # in the log too, so the delivery is appended before them.
        audit.record(session, claim.from_area, event, now)
        documents.release_held(session, master, transfer, now)
    else:
        # Appended at commit with the rest of the batch's: one insert, and the area's head
        # locked for the end of the transaction only (audit.log).
        audit.record_later(session, claim.from_area, event, now)
    return Outcome(claim.envelope_id, True, True, "delivered")


def _delivered_event(claim: Claim, transfer: Transfer | None, receipt: str) -> audit.Event:
    """Delivery, tied to the receiver's signed receipt and the leaf it committed to."""
    ref = json.loads(receipt)["body"].get("audit") or {}
    details: dict[str, Detail] = {"receipt_sha256": sha256_hex(receipt.encode("utf-8"))}
    if ref:
        details["peer_seq"] = int(ref["seq"])
        details["peer_leaf_hash"] = str(ref["leaf_hash"])
    return audit.Event(
        action=actions.TRANSFER_DELIVERED,
        actor=Actor.system(),
        peer_area=claim.to_area,
        objects=_objects(claim, transfer),
        envelope_digest=claim.digest,
        details=details,
    )


def _objects(claim: Claim, transfer: Transfer | None) -> dict[str, str]:
    objects = {"envelope": claim.envelope_id}
    if transfer is not None:
        objects["transfer"] = transfer.id
    return objects


@owns_transaction
def _record_failure(
    session: Session, claim: Claim, error: DeliveryError, policy: DeliveryPolicy, now: datetime
) -> Outcome:
    with session.begin():
        rows = _rows_of(session, claim)
        return _apply_failure(session, claim, error, policy, now, rows)


def _apply_failure(
    session: Session,
    claim: Claim,
    error: DeliveryError,
    policy: DeliveryPolicy,
    now: datetime,
    rows: _Rows,
) -> Outcome:
    item, transfer = rows.item, rows.transfer
    if item is None or item.status != PENDING:
        return Outcome(
            claim.envelope_id,
            item is not None and item.status == DELIVERED,
            True,
            "already settled",
            "already_settled",
        )
    item.attempts += 1
    item.claimed_until = None
    item.last_error = error.detail[:500]
    # While the peer is down its backlog shares one backoff (this envelope probes).
    level = _peer_level(session, claim) if error.peer_down else item.attempts
    delay = policy.next_delay(max(level, item.attempts))
    too_old = (now + timedelta(seconds=delay) - claim.created_at).total_seconds()
    if error.permanent or too_old > policy.max_age:
        item.status, item.finished_at = FAILED, now
        reason = (
            error.detail
            if error.permanent
            else f"gave up after {item.attempts} attempts: {error.detail}"
        )
        if transfer is not None and transfer.status == QUEUED:
            states.move(transfer, FAILED)
            transfer.failure_reason = reason[:500]
            transfer.updated_at = now
            timeline.note(
                session,
                transfer,
                FAILED,
                now,
                actor=Actor.system(),
                envelope_id=claim.envelope_id,
            )
            _tell_failed(session, transfer, notifications.DELIVERY_FAILED, now)
        elif transfer is None:
            transfer = _reply_failed(session, claim, rows.envelope, now)
            _tell_failed(session, transfer, notifications.REPLY_FAILED, now)
        audit.record(
            session,
            claim.from_area,
            audit.Event(
                action=actions.TRANSFER_FAILED,
                actor=Actor.system(),
                peer_area=claim.to_area,
                objects=_objects(claim, transfer),
                envelope_digest=claim.digest,
                # Our own fixed wording and the peer's problem slug: never content.
                details={"reason": reason[:200], "attempts": item.attempts},
            ),
            now,
        )
        return Outcome(claim.envelope_id, False, True, reason, error.reason)
    item.next_attempt_at = now + timedelta(seconds=delay)
    if error.peer_down:
        until = item.next_attempt_at + timedelta(seconds=policy.lease)
        _hold_backlog(session, claim, until, now)
        _hold_peer(session, claim.to_area, until)
    if error.slug == CLOCK_SKEW:
        _note_clock_skew(claim, transfer, error, now)
    return Outcome(claim.envelope_id, False, False, error.detail, error.reason)


def _tell_failed(session: Session, transfer: Transfer | None, kind: str, now: datetime) -> None:
    """The outbox gave up for good: the area's coordinators must act (send again, or reach
    the other area another way), so they are told, content-free, in the same transaction."""
    if transfer is not None:
        notifications.queue(session, transfer.area_code, kind, now, transfer_id=transfer.id)


def _backlog(claim: Claim, now: datetime) -> Any:
    """The peer's other pending envelopes that no worker holds right now."""
    return (
        (OutboxItem.id != claim.outbox_id)
        & (OutboxItem.status == PENDING)
        & or_(OutboxItem.claimed_until.is_(None), OutboxItem.claimed_until < now)
        & OutboxItem.envelope_pk.in_(
            select(Envelope.pk).where(
                Envelope.peer_area == claim.to_area, Envelope.area_code == claim.from_area
            )
        )
    )


def _peer_level(session: Session, claim: Claim) -> int:
    """The peer's backoff level: the most attempts any of its pending envelopes has had, so
    an envelope queued during an outage joins it where it stands instead of starting over."""
    level = session.scalar(
        select(func.max(OutboxItem.attempts)).where(
            OutboxItem.status == PENDING,
            OutboxItem.envelope_pk.in_(
                select(Envelope.pk).where(
                    Envelope.peer_area == claim.to_area, Envelope.area_code == claim.from_area
                )
            ),
        )
    )
    return int(level or 0)


def _hold_backlog(session: Session, claim: Claim, until: datetime, now: datetime) -> None:
    """Put the rest of the backlog behind the probe. `until` lies a lease past the probe,
    so a worker that dies while probing leaves the backlog to the next probe, not to a
    stampede; a delivered probe releases it at once, a failed one holds it again."""
    session.execute(
        update(OutboxItem)
        .where(_backlog(claim, now), OutboxItem.next_attempt_at < until)
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )


def _hold_peer(session: Session, area: str, until: datetime) -> None:
    """Envelopes queued from now on wait with the backlog (envelope_writer.queue_item)."""
    session.execute(
        update(Peer)
        .where(Peer.code == area, or_(Peer.held_until.is_(None), Peer.held_until < until))
        .values(held_until=until)
        .execution_options(synchronize_session=False)
    )


def _release_backlog(session: Session, claim: Claim, now: datetime) -> None:
    session.execute(
        update(Peer)
        .where(Peer.code == claim.to_area, Peer.held_until.is_not(None))
        .values(held_until=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxItem)
        .where(_backlog(claim, now), OutboxItem.next_attempt_at > now)
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )


def _note_clock_skew(
    claim: Claim, transfer: Transfer | None, error: DeliveryError, now: datetime
) -> None:
    """The peer refuses our tokens by its clock: say so on the transfer (it stays queued
    and is retried; the operator fixes a clock) and in the log."""
    log.warning(
        "envelope %s to %s refused for clock skew: %s",
        claim.envelope_id,
        claim.to_area,
        error.detail,
    )
    if transfer is not None and transfer.status == QUEUED:
        transfer.failure_reason = error.detail[:500]
        transfer.updated_at = now


def _reply_failed(
    session: Session, claim: Claim, envelope: Envelope | None, now: datetime
) -> Transfer | None:
    """A reply (acknowledgement, withdrawal, document, ...) the outbox gave up on: the
    transfer it belongs to is not failed (it arrived), but its coordinator must see that
    the reply did not, on the timeline, and may send it again (messages.resend)."""
    transfer = messages.thread_transfer(session, claim.from_area, claim.envelope_id)
    if envelope is None or transfer is None:
        return None
    timeline.note(
        session,
        transfer,
        REPLY_FAILED,
        now,
        actor=Actor.system(),
        envelope_id=claim.envelope_id,
        type=envelope.type,
    )
    transfer.updated_at = now
    return transfer


def _reply_delivered(session: Session, claim: Claim, now: datetime) -> None:
    """A reply delivered after its failure was on the timeline (sent again): say so."""
    transfer = messages.thread_transfer(session, claim.from_area, claim.envelope_id)
    if transfer is None:
        return
    failed = session.scalar(
        select(TransferEvent.id)
        .where(
            TransferEvent.transfer_id == transfer.id,
            TransferEvent.area_code == transfer.area_code,
            TransferEvent.kind == REPLY_FAILED,
            TransferEvent.envelope_id == claim.envelope_id,
        )
        .limit(1)
    )
    if failed is not None:
        timeline.note(
            session,
            transfer,
            "reply_delivered",
            now,
            actor=Actor.system(),
            envelope_id=claim.envelope_id,
        )


@owns_transaction
def forget_used_tokens(session: Session, now: datetime) -> int:
    """Token ids only need keeping until the token could no longer verify."""
    with session.begin():
        result = session.execute(delete(UsedToken).where(UsedToken.expires_at < now))
        return int(getattr(result, "rowcount", 0) or 0)


@owns_transaction
def counts(session: Session) -> tuple[list[tuple[str, int]], list[tuple[str, str, int]]]:
    """Outbox items by status and transfers by direction and status: counts only."""
    with session.begin():
        outbox = session.execute(
            select(OutboxItem.status, func.count()).group_by(OutboxItem.status)
        ).all()
        transfers = session.execute(
            select(Transfer.direction, Transfer.status, func.count()).group_by(
                Transfer.direction, Transfer.status
            )
        ).all()
    return [(s, n) for s, n in outbox], [(d, s, n) for d, s, n in transfers]


@dataclass(frozen=True)
class PeerBacklog:
    peer_area: str
    pending: int
    oldest: datetime


@owns_transaction
def backlog_by_peer(session: Session) -> list[PeerBacklog]:
    """Pending outbox items per receiving area and when the oldest was queued: counts and
    times only, for the metrics scraped from the database (gateway/metrics.py)."""
    with session.begin():
        rows = session.execute(
            select(Envelope.peer_area, func.count(), func.min(OutboxItem.created_at))
            .join(Envelope, Envelope.pk == OutboxItem.envelope_pk)
            .where(OutboxItem.status == PENDING)
            .group_by(Envelope.peer_area)
        ).all()
    return [PeerBacklog(peer, n, oldest) for peer, n, oldest in rows]

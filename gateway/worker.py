"""The worker process: delivers the outbox and does the node's periodic chores.

Stateless: every fact lives in the database, so any number of workers may run against
PostgreSQL, and a worker killed at any point loses nothing (its claims simply lapse).
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType

from adapters.db import is_outage
from adapters.db.outbox_wake import Waker
from gateway import metrics
from gateway.domain.areas import bundles
from gateway.domain.audit import checkpoints
from gateway.domain.clock import utcnow
from gateway.domain.federation import delivery, posting
from gateway.domain.federation.delivery import claim_due, forget_used_tokens
from gateway.domain.flags import lifecycle
from gateway.domain.identity import rate_limits
from gateway.domain.schedule import document_reminders, notifications, reminders
from gateway.errors import DomainError
from gateway.logs import new_request_id, request_id
from gateway.node import Node

log = logging.getLogger("gateway.worker")
READY = "worker ready: delivering the outbox"
# Envelopes claimed at once: one batch POST's worth, so a claim for one peer is one POST.
BATCH = posting.BATCH_SEND
# Deliveries in flight at once across peers (posting.PER_PEER bounds one peer's share).
LANES = 4
# Claimed batches in flight at once (see _Pipeline). Four kept a two-core machine busier in
# PostgreSQL bursts of 2,000 (bench/federation.py: cores busy 0.96 against 0.84-0.87) for
# 2-8% more transfers/s and 4-12% more CPU a transfer. But a worker then claims 100
# envelopes at once, and against a slow peer on SQLite under load a worker killed within a
# second had recorded nothing in nine rounds of tests/faults/test_worker_kill.py: a kill
# leaves more work to redo (nothing is lost: the leases lapse), for a few percent.
IN_FLIGHT = 2
CHORE_INTERVAL = 300.0
# How often the worker looks for logs that need a checkpoint: not on every poll, which
# runs several times a second; checkpoints.CHECKPOINT_AGE allows for the delay.
CHECKPOINT_LOOK = checkpoints.CHECKPOINT_LOOK.total_seconds()
COUNTER_KEEP = timedelta(days=2)
# Notifications go out within seconds of the event; reminders are looked for every few
# minutes (they are at most daily, and `send_reminders` is idempotent per day).
NOTIFY_LOOK = 5.0
# How often the worker looks for peers whose bundle is due a fetch (GATEWAY_BUNDLE_REFRESH
# is how old a fetch may get; docs/contract.md "Key rotation and revocation").
BUNDLE_LOOK = 60.0
# After a failed pass against an unreachable database: 0.5 s, doubling, at most 30 s.
OUTAGE_PAUSE, OUTAGE_PAUSE_CAP = 0.5, 30.0


def run_worker(node: Node, *, once: bool = False, stop: threading.Event | None = None) -> int:
    """Deliver until stopped; with `once`, until nothing is due. Returns items handled.

    A database outage (a PostgreSQL restart, say) does not end a long-running worker: it
    logs, waits with a growing pause and carries on; claims it held simply lapse."""
    stop = stop or threading.Event()
    _stop_on_signals(stop)
    state = _Pass()
    # Listening before the first look at the outbox: nothing committed after it is missed.
    waker = None if once else Waker(node.engine)
    if not once:
        # From here a SIGTERM finishes the batches in flight and exits 0.
        log.info(READY)
    try:
        return _run(node, state, stop, waker, once=once)
    finally:
        if waker is not None:
            waker.close()


def _run(
    node: Node, state: _Pass, stop: threading.Event, waker: Waker | None, *, once: bool
) -> int:
    pipeline = _Pipeline()
    try:
        _loop(node, state, stop, waker, pipeline, once=once)
    except BaseException:
        pipeline.drain(quietly=True)
        raise
    pipeline.drain()  # stopping: let the batches in flight record their receipts
    return state.handled


def _loop(
    node: Node,
    state: _Pass,
    stop: threading.Event,
    waker: Waker | None,
    pipeline: _Pipeline,
    *,
    once: bool,
) -> None:
    outages = 0
    while not stop.is_set():
        try:
            handled_now = _one_pass(node, state, pipeline)
        except Exception as exc:
            if once or not is_outage(exc):
                raise
            outages += 1
            pause = min(OUTAGE_PAUSE_CAP, OUTAGE_PAUSE * 2 ** min(outages - 1, 10))
            log.warning("database unavailable (%s); retrying in %.1f s", type(exc).__name__, pause)
            stop.wait(pause)
            continue
        metrics.worker_heartbeat()
        if outages:
            log.info("database reachable again after %s failed pass(es)", outages)
            outages = 0
        if handled_now == 0:
            if once or waker is None:
                if not pipeline.busy:
                    break
                # What the batches in flight record may queue more (a receipt releases
                # the documents promised with a case): look again once they are done.
                pipeline.drain()
                continue
            # A committed outbox row ends the wait at once; the poll is the safety net.
            waker.wait(node.settings.worker_poll_interval, stop)


@dataclass
class _Pass:
    """When each periodic job last ran in this process (None: not yet), and the total."""

    handled: int = 0
    chores: float | None = None
    look: float | None = None
    notify: float | None = None
    bundles: float | None = None


def _one_pass(node: Node, state: _Pass, pipeline: _Pipeline) -> int:
    if _due(state.chores, CHORE_INTERVAL):
        _chores(node)
        state.chores = time.monotonic()
    if _due(state.look, CHECKPOINT_LOOK):
        _checkpoint_due(node)
        state.look = time.monotonic()
    if _due(state.notify, NOTIFY_LOOK):
        send_notifications(node)
        state.notify = time.monotonic()
    if _due(state.bundles, BUNDLE_LOOK):
        refresh_bundles(node)
        state.bundles = time.monotonic()
    handled = pipeline.start(node)
    state.handled += handled
    return handled


def _due(last: float | None, interval: float) -> bool:
    # None: never done in this process; do it on the first pass.
    return last is None or time.monotonic() - last > interval


def deliver_batch(node: Node) -> int:
    """Claim a batch, POST it and record what came back; returns how many were claimed."""
    claimed = _claim(node)
    if claimed is None:
        return 0
    _finish(node, claimed)
    return len(claimed.claims)


@dataclass(frozen=True)
class _Claimed:
    claims: list[posting.Claim]
    units: list[posting.Unit]


def _claim(node: Node) -> _Claimed | None:
    """Claim up to BATCH due envelopes and look up where each goes (two transactions)."""
    policy = node.delivery_policy
    with node.sessions() as session:
        claims = claim_due(session, node.master, now=utcnow(), lease=policy.lease, limit=BATCH)
        if not claims:
            return None
        found = delivery.routes(session, node.master, claims)
    return _Claimed(claims, posting.plan(claims, found))


def _finish(node: Node, claimed: _Claimed) -> None:
    """POST a claimed batch (per peer: batches where the peer takes them, else a few
    envelopes at once; peers in parallel, over the client's keep-alive connections), then
    record every receipt and failure in one transaction."""
    units, now, client = claimed.units, utcnow(), node.client
    if len(units) == 1:
        results = posting.send_unit(client, units[0], now)
    else:
        results = []
        for done in _lanes().map(lambda unit: posting.send_unit(client, unit, now), units):
            results += done
    with node.sessions() as session:
        settled = delivery.record_results(
            session, node.master, results, node.delivery_policy, utcnow
        )
    for claim, outcome in settled:
        # The id of the request that queued it; one of its own for older rows.
        with request_id(claim.request_id or new_request_id()):
            metrics.observe_delivery(outcome)
            log.info("envelope %s to %s: %s", outcome.envelope_id, claim.to_area, outcome.detail)


class _Pipeline:
    """Claimed batches in flight. After a full claim (a backlog is waiting) the worker
    claims and posts the next batch while the first waits on its peer (the POST, the
    peer's checks and store, the receipt): at most IN_FLIGHT batches. After a partial
    claim it waits for that batch's receipts first, so what is committed meanwhile leaves
    together in the next batch: one claim, one checkpoint and one record for them all,
    which at a steady rate keeps the tail shorter than claiming each envelope as it comes
    (bench/federation.py's open loop). Each batch records its receipts in one transaction
    of its own, and a claim is a lease, so a worker stopped or killed with batches in
    flight loses nothing."""

    def __init__(self) -> None:
        self._running: list[Future[None]] = []
        self._backlog = False

    def start(self, node: Node) -> int:
        """Claim the next batch and send it on its way; 0 when nothing is due."""
        self.settle(block=len(self._running) >= IN_FLIGHT or not self._backlog)
        claimed = _claim(node)
        if claimed is None:
            self._backlog = False
            return 0
        self._backlog = len(claimed.claims) >= BATCH
        self._running.append(_finishers().submit(_finish, node, claimed))
        return len(claimed.claims)

    def settle(self, *, block: bool = False) -> None:
        """Forget finished batches, raising what one of them raised (a database outage is
        handled by the worker's loop as if the pass had raised it). With `block`, first
        wait until at least one is finished."""
        if block and self._running:
            wait(self._running, return_when=FIRST_COMPLETED)
        # One look at each: a batch finishing between two looks would be in neither list.
        finished: list[Future[None]] = []
        running: list[Future[None]] = []
        for future in self._running:
            (finished if future.done() else running).append(future)
        self._running = running
        for future in finished:
            future.result()

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def drain(self, *, quietly: bool = False) -> None:
        """Wait for every batch in flight (the worker is stopping, or ran `once`). What a
        batch raised is raised here, or only logged when `quietly` (the worker is already
        ending on another error, which must not be masked)."""
        running, self._running = self._running, []
        wait(running)
        for future in running:
            error = future.exception()
            if error is None:
                continue
            if not quietly:
                raise error
            log.warning("a batch in flight ended with %s", type(error).__name__)


@functools.cache
def _finishers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="delivery-batch")


@functools.cache
def _lanes() -> ThreadPoolExecutor:
    """The worker's few delivery threads, kept for its life (their HTTP connections are
    the client's, kept alive between batches)."""
    return ThreadPoolExecutor(max_workers=LANES, thread_name_prefix="delivery")


def _chores(node: Node) -> None:
    now = utcnow()
    with node.sessions() as session:
        forget_used_tokens(session, now)
        with session.begin():
            # The longest window a limit may name is a day; older counters can only reset.
            rate_limits.purge(session, now - COUNTER_KEEP)
    expire_flags(node, now)
    remind(node, now)


def remind(node: Node, now: datetime) -> list[reminders.Reminder]:
    """Queue reminders for overdue acknowledgements and documents promised and not sent,
    then send what is queued."""
    with node.sessions() as session:
        queued = reminders.send_reminders(session, now)
        promised = document_reminders.send_reminders(session, now)
    for reminder in queued:
        log.info("%s for transfer %s (due %s)", reminder.kind, reminder.transfer_id, reminder.due)
    for overdue in promised:
        log.info("document overdue for transfer %s (due %s)", overdue.transfer_id, overdue.due)
    send_notifications(node, now)
    return queued


def send_notifications(node: Node, now: datetime | None = None) -> int:
    """Send every notification that is due (as many batches as it takes)."""
    total = 0
    while True:
        handled = notifications.send_due(node.sessions, node.mailer, now or utcnow())
        total += handled
        if handled < notifications.BATCH:
            return total


def expire_flags(node: Node, now: datetime) -> None:
    """Re-derive flags set under older linkage rules, expire flags whose 12 months have
    lapsed, tell the index, and drop lapsed index tokens."""
    with node.sessions() as session:
        # Idempotent, so running it every few minutes makes expiry daily to the minute.
        try:
            # Before expiry: its index pass then publishes the re-derived flags.
            rederived = lifecycle.rederive_stale(session, node.flag_roles, now)
            if rederived:
                log.info("flags re-derived under the current linkage rules=%s", rederived)
            expired = lifecycle.expire_due(session, node.flag_roles, now)
            purged = lifecycle.purge_index(session, now)
        except DomainError as exc:  # a peer key gone, say: the next pass retries
            log.warning("flag expiry deferred: %s", type(exc).__name__)
            return
        if expired or purged:
            log.info("flags expired=%s index tokens dropped=%s", expired, purged)


def refresh_bundles(node: Node, now: datetime | None = None) -> dict[str, str]:
    """Fetch the bundle of every peer not fetched within GATEWAY_BUNDLE_REFRESH: a rotation
    its pinned key endorsed is pinned, any other new bundle waits for its fingerprint.
    Returns what happened per peer (for the log and the tests)."""
    now = now or utcnow()
    interval = timedelta(seconds=node.settings.bundle_refresh)
    done: dict[str, str] = {}
    with node.sessions() as session:
        for code in bundles.due_for_refresh(session, now, interval):
            try:
                done[code] = bundles.fetch(session, node.client, code, now).outcome
            except DomainError as exc:
                done[code] = "failed"
                log.warning("bundle of %s not fetched: %s", code, type(exc).__name__)
                continue
            log.info("bundle of %s fetched: %s", code, done[code])
    return done


def _checkpoint_due(node: Node) -> None:
    """At least one signed checkpoint a minute while events arrive (DESIGN section 7)."""
    with node.sessions() as session:
        for made in checkpoints.issue_due(session, node.master, utcnow()):
            log.info("checkpoint %s size %s", made.area, made.size)


def _stop_on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def _handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: finishing the current delivery, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)

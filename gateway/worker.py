"""The worker process: delivers the outbox and does the node's periodic chores.

Stateless: every fact lives in the database, so any number of workers may run against
PostgreSQL, and a worker killed at any point loses nothing (its claims simply lapse).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import datetime, timedelta
from types import FrameType

from gateway.domain.audit import checkpoints
from gateway.domain.clock import utcnow
from gateway.domain.federation.delivery import claim_due, deliver, forget_used_tokens
from gateway.domain.flags import lifecycle
from gateway.domain.identity import rate_limits
from gateway.domain.schedule import notifications, reminders
from gateway.errors import DomainError
from gateway.node import Node

log = logging.getLogger("gateway.worker")
BATCH = 10
CHORE_INTERVAL = 300.0
# How often the worker looks for logs that need a checkpoint: not on every poll, which
# runs several times a second; checkpoints.CHECKPOINT_AGE allows for the delay.
CHECKPOINT_LOOK = checkpoints.CHECKPOINT_LOOK.total_seconds()
COUNTER_KEEP = timedelta(days=2)
# Notifications go out within seconds of the event; reminders are looked for every few
# minutes (they are at most daily, and `send_reminders` is idempotent per day).
NOTIFY_LOOK = 5.0


def run_worker(node: Node, *, once: bool = False, stop: threading.Event | None = None) -> int:
    """Deliver until stopped; with `once`, until nothing is due. Returns items handled."""
    stop = stop or threading.Event()
    _stop_on_signals(stop)
    handled, last_chores, last_look, last_notify = 0, None, None, None
    while not stop.is_set():
        if _due(last_chores, CHORE_INTERVAL):
            _chores(node)
            last_chores = time.monotonic()
        if _due(last_look, CHECKPOINT_LOOK):
            _checkpoint_due(node)
            last_look = time.monotonic()
        if _due(last_notify, NOTIFY_LOOK):
            send_notifications(node)
            last_notify = time.monotonic()
        handled_now = deliver_batch(node)
        handled += handled_now
        if handled_now == 0:
            if once:
                break
            stop.wait(node.settings.worker_poll_interval)
    return handled


def _due(last: float | None, interval: float) -> bool:
    # None: never done in this process; do it on the first pass.
    return last is None or time.monotonic() - last > interval


def deliver_batch(node: Node) -> int:
    policy = node.delivery_policy
    with node.sessions() as session:
        claims = claim_due(session, now=utcnow(), lease=policy.lease, limit=BATCH)
        for claim in claims:
            outcome = deliver(session, node.master, node.client, claim, policy, utcnow)
            log.info("envelope %s to %s: %s", outcome.envelope_id, claim.to_area, outcome.detail)
    return len(claims)


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
    """Queue reminders for overdue acknowledgements, then send what is queued."""
    with node.sessions() as session:
        queued = reminders.send_reminders(session, now)
    for reminder in queued:
        log.info("%s for transfer %s (due %s)", reminder.kind, reminder.transfer_id, reminder.due)
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

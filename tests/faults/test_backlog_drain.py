"""A peer down while a backlog of 2,000 transfers builds up (the minutes it takes to create
them are the outage), then back: the backlog drains with nothing lost or duplicated, and
no transfer waits more than one backoff step after the peer is back. The peer is real
gunicorn (`marac-gateway serve`), stopped outright (connections refused) and started again
on its port; the sender runs a real delivery worker throughout.

"One backoff step": while the peer is down its whole backlog shares one backoff, probed by
one envelope (DESIGN, delivery); at the return the probe is due within the backoff cap, its
receipt releases the rest at once, and from then on deliveries follow each other at the
worker's own pace. So the first delivery comes within one step of the return, and no two
consecutive deliveries are further apart than one step (a transfer left on its own timer
would show as such a gap)."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.nodes import Pair, RunningNode
from support.served import (
    Gunicorn,
    Workers,
    delivered,
    exactly_once,
    rows,
    send_many,
    stop_in_process_server,
    tally,
    wait_for_progress,
    wait_until,
)

from gateway.domain.clock import utcnow

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(2400),
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]
# BACKLOG_SIZE lets a quick local run use a smaller backlog; CI runs the full 2,000.
BACKLOG = int(os.environ.get("BACKLOG_SIZE", "2000"))
DOWN_MORE = 10.0  # the peer stays down this long once the backlog is queued
BACKOFF, BACKOFF_CAP = 0.2, 2.0  # the cap is the "one step" once the peer has been down
POLL = 0.05
DRAIN_LIMIT = 1200.0  # on a quiet 2-core machine the drain takes about two minutes
STALL = 60.0  # no delivery for this long after the return: something is stuck
WORKER_ENV = {
    "GATEWAY_DELIVERY_BACKOFF": str(BACKOFF),
    "GATEWAY_DELIVERY_BACKOFF_CAP": str(BACKOFF_CAP),
    "GATEWAY_WORKER_POLL": str(POLL),
    "GATEWAY_DELIVERY_LEASE": "10",
    "GATEWAY_PEER_TIMEOUT": "5",
}


def attempts(node: RunningNode) -> int:
    return int(node.scalar("SELECT coalesce(sum(attempts), 0) FROM outbox"))


@pytest.fixture
def served(pair: Pair, tmp_path: Path) -> Iterator[tuple[Gunicorn, Workers]]:
    stop_in_process_server(pair.south)
    web = Gunicorn(pair.south, 2, tmp_path)
    workers = Workers(pair.north, tmp_path, **WORKER_ENV)
    try:
        yield web, workers
    finally:
        workers.stop()
        web.stop()


def test_a_backlog_of_2000_drains_after_the_outage_without_waiting_on_its_own_timers(
    pair: Pair, served: tuple[Gunicorn, Workers]
) -> None:
    web, workers = served
    workers.start()  # the peer is not listening: every attempt is refused
    created = send_many(pair, BACKLOG)
    assert wait_until(lambda: attempts(pair.north) > 0, 60)
    # A transfer queued while the peer is down is tried once (it is due at once) and then
    # joins the peer's shared backoff; with the whole backlog queued, only the probe goes.
    before = attempts(pair.north)
    time.sleep(DOWN_MORE)  # the outage itself: nothing to await but time
    probes = attempts(pair.north) - before
    outage_attempts = attempts(pair.north)
    assert delivered(pair.north) == 0

    web.start()  # the peer is back: ready (its /readyz answers 200) from here
    back = utcnow()
    drained = wait_for_progress(lambda: delivered(pair.north), BACKLOG, STALL, DRAIN_LIMIT)
    assert not workers.exited(), workers.log_text()[-3000:]
    codes = workers.stop()
    counts = tally(pair)
    times = sorted(
        when if when.tzinfo else when.replace(tzinfo=UTC)
        for (when,) in rows(
            pair.north,
            "SELECT delivered_at FROM transfers WHERE direction='outbound' "
            "AND delivered_at IS NOT NULL",
        )
        if isinstance(when, datetime)
    )
    first_wait = (times[0] - back).total_seconds() if times else None
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    span = (times[-1] - times[0]).total_seconds() if len(times) > 1 else 0.0
    print(
        f"\npeer down {created + DOWN_MORE:.0f} s while {BACKLOG} transfers were created: "
        f"{outage_attempts} delivery attempts, {probes} in the last {DOWN_MORE:.0f} s; "
        f"back at {back:%H:%M:%S}, first delivery "
        f"{first_wait} s later, drained in {span:.1f} s ({(len(times) - 1) / max(span, 1e-9):.1f}"
        f"/s), longest gap {max(gaps, default=0):.2f} s; {counts}"
    )
    assert drained, counts
    assert codes == [0]
    assert counts == exactly_once(BACKLOG)
    # Probed one envelope at a time: one probe per backoff step (equal jitter: at least
    # half the cap apart), plus a batch the worker may have claimed just before, not a
    # retry of every queued transfer on its own timer.
    assert probes <= 10 + 2 + DOWN_MORE / (BACKOFF_CAP / 2), probes
    # Nobody waits more than one backoff step (the cap, which jitter only shortens) after
    # the return, give or take a poll and a slow POST on a loaded machine.
    slack = BACKOFF_CAP + POLL + 1.0
    assert first_wait is not None and first_wait <= slack, first_wait
    # Within the drain a round of concurrent POSTs waits for its slowest, which a busy
    # receiver can stretch up to the peer timeout; a backlog held on a timer would wait a
    # lease (10 s) instead.
    peer_timeout = float(WORKER_ENV["GATEWAY_PEER_TIMEOUT"])
    assert max(gaps) <= slack + peer_timeout, max(gaps)
    assert max(gaps) < float(WORKER_ENV["GATEWAY_DELIVERY_LEASE"]), max(gaps)

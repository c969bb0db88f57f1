"""A peer that is down is probed by one delivery at a time (per-peer backoff), not retried
envelope by envelope, and once it answers again its backlog drains at full speed. The
peer's HTTP server is really stopped (connections refused) and started again on its port."""

from __future__ import annotations

import threading
import time

import pytest
from support.nodes import Pair, RunningNode
from werkzeug.serving import make_server

from gateway.worker import run_worker

pytestmark = pytest.mark.slow
BACKLOG = 20
DOWN_SECONDS = 3.0
DRAIN_LIMIT = 30.0


def take_down(node: RunningNode) -> int:
    port = int(node.url.rsplit(":", 1)[1])
    node._server.shutdown()
    node._server.server_close()
    node._thread.join(timeout=10)
    return port


def bring_up(node: RunningNode, port: int) -> None:
    server = make_server("127.0.0.1", port, node.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    node._server, node._thread = server, thread


def delivered(node: RunningNode) -> int:
    return int(node.scalar("SELECT count(*) FROM outbox WHERE status = 'delivered'"))


def start(pair: Pair, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=run_worker, args=(pair.north.node,), kwargs={"stop": stop})
    thread.start()
    return thread


@pytest.fixture
def pair(node_factory) -> Pair:  # type: ignore[no-untyped-def]
    north = node_factory(
        "north",
        GATEWAY_DELIVERY_BACKOFF="0.1",
        GATEWAY_DELIVERY_BACKOFF_CAP="0.5",
        GATEWAY_WORKER_POLL="0.05",
        GATEWAY_PEER_TIMEOUT="2",
        GATEWAY_DELIVERY_LEASE="5",
    )
    south = node_factory("south")
    north.create_area("northshire")
    south.create_area("south-vale")
    south.import_peer(north.bundle("northshire"))
    north.import_peer(south.bundle("south-vale"))
    return Pair(north, south)


def attempts(node: RunningNode) -> int:
    return int(node.scalar("SELECT coalesce(sum(attempts), 0) FROM outbox"))


def wait_for(condition, limit: float) -> float:  # type: ignore[no-untyped-def]
    """Poll `condition` until true (or `limit` seconds); the seconds it took."""
    began = time.monotonic()
    while not condition() and time.monotonic() - began < limit:
        time.sleep(0.05)
    return time.monotonic() - began


def test_a_down_peer_is_probed_one_envelope_at_a_time_then_drained(
    pair: Pair, backend: str
) -> None:
    port = take_down(pair.south)
    for _ in range(BACKLOG):
        pair.send()
    stop = threading.Event()
    thread = start(pair, stop)
    try:
        wait_for(lambda: attempts(pair.north) > 0, 30)
        before = attempts(pair.north)
        time.sleep(DOWN_SECONDS)  # the outage itself: nothing to await but time
        during = attempts(pair.north) - before
        # After the first failure only the probe goes (backoff 0.1 s doubling to 0.5 s:
        # under 10 probes in 3 s) plus what was already claimed in that first batch;
        # retrying envelope by envelope would make about BACKLOG times as many.
        assert during <= BACKLOG + 10, during
        bring_up(pair.south, port)
        drain = wait_for(lambda: delivered(pair.north) == BACKLOG, DRAIN_LIMIT)
        assert delivered(pair.north) == BACKLOG
        # The same backlog with the peer up all along: the speed to compare with.
        for _ in range(BACKLOG):
            pair.send()
        normal = wait_for(lambda: delivered(pair.north) == 2 * BACKLOG, DRAIN_LIMIT)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert pair.south.count("envelopes") == 2 * BACKLOG  # none lost, none doubled
    print(  # the figures the report quotes (pytest -s)
        f"\n[{backend}] peer down {DOWN_SECONDS:.0f} s with {BACKLOG} queued: {during} "
        f"attempts; backlog drained in {drain:.2f} s after it came back "
        f"(the same backlog to a live peer: {normal:.2f} s)"
    )
    # Full speed, give or take the probe's wait and a busy machine; a backlog held for a
    # lease (5 s) after the peer answered would exceed it.
    assert drain <= min(2 * normal + 3.0, 4.9)


def held_until(node: RunningNode) -> object:
    return node.scalar("SELECT held_until FROM peers WHERE code = 'south-vale'")


def test_envelopes_queued_while_a_peer_is_down_wait_behind_its_probe(
    pair: Pair, backend: str
) -> None:
    port = take_down(pair.south)
    pair.send()
    stop = threading.Event()
    thread = start(pair, stop)
    try:
        wait_for(lambda: attempts(pair.north) > 0, 30)
        assert held_until(pair.north) is not None  # set with the probe's failure
        for _ in range(BACKLOG):
            pair.send()
        time.sleep(DOWN_SECONDS)  # the outage itself: nothing to await but time
        # Only the probe was tried: what was queued meanwhile waited behind it.
        tried = pair.north.scalar("SELECT count(*) FROM outbox WHERE attempts > 0")
        assert tried == 1, tried
        bring_up(pair.south, port)
        drain = wait_for(lambda: delivered(pair.north) == BACKLOG + 1, DRAIN_LIMIT)
        assert delivered(pair.north) == BACKLOG + 1
        assert held_until(pair.north) is None  # a delivery lifts the hold
    finally:
        stop.set()
        thread.join(timeout=30)
    assert pair.south.count("envelopes") == BACKLOG + 1  # none lost, none doubled
    print(f"\n[{backend}] queued behind the probe: drained in {drain:.2f} s once back")

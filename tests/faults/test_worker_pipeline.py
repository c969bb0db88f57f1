"""With a backlog, the delivery worker claims and posts the next batch while a full one
is still waiting on its peer (gateway/worker.py `_Pipeline`): more than a batch is claimed
and in flight while the peer holds its answers, and all of it is delivered once the peer
answers. Real nodes on loopback; the peer's server is the real one, its answers held by a
gate in front of its app."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from support.nodes import RunningNode
from support.served import wait_until

from gateway.devtools.samples import sample_transfer
from gateway.worker import BATCH, run_worker

HELD_LIMIT = 20.0  # seconds; a bound for an overloaded machine, never waited out when green


class Gate:
    """WSGI middleware: each request waits until the gate opens; `entered` is set when the
    first one arrives."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        self.entered.set()
        self.opened.wait(HELD_LIMIT)
        return self.app(environ, start_response)  # type: ignore[no-any-return]


def count(node: RunningNode, where: str) -> int:
    return int(node.scalar(f"SELECT count(*) FROM outbox WHERE {where}"))  # noqa: S608


def test_with_a_backlog_the_next_batch_is_claimed_while_one_waits(node_factory) -> None:  # type: ignore[no-untyped-def]
    north = node_factory("north", GATEWAY_WORKER_POLL="0.05", GATEWAY_PEER_TIMEOUT="30")
    south = node_factory("south")
    north.create_area("northshire")
    south.create_area("south-vale")
    south.import_peer(north.bundle("northshire"))
    north.import_peer(south.bundle("south-vale"))
    backlog = BATCH + 1
    for _ in range(backlog):
        north.send(sample_transfer("northshire", "south-vale"), "northshire", "south-vale")
    gate = Gate(south._server.app)
    south._server.app = gate
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(north.node,), kwargs={"stop": stop})
    worker.start()
    try:
        assert gate.entered.wait(HELD_LIMIT), "the worker never posted"
        # The first batch (BATCH) is held at the peer; the one left over is claimed too.
        claimed = "claimed_until IS NOT NULL AND status = 'pending'"
        assert wait_until(lambda: count(north, claimed) == backlog, HELD_LIMIT), count(
            north, claimed
        )
        assert not gate.opened.is_set()
        gate.opened.set()
        assert wait_until(lambda: count(north, "status = 'delivered'") == backlog, HELD_LIMIT)
    finally:
        gate.opened.set()
        stop.set()
        worker.join(timeout=60)
        south._server.app = gate.app
    assert not worker.is_alive()
    assert south.count("envelopes") == backlog

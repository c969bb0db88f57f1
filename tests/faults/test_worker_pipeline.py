"""The delivery worker claims the next batch while one is still waiting on its peer
(gateway/worker.py `_Pipeline`): an envelope to a peer that answers at once is delivered
while a POST to a peer that holds its answer is still in flight, and the held one is
delivered once its peer answers. Real nodes on loopback; the slow peer's server is the
real one, its answer held by a gate in front of its app."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from support.nodes import RunningNode

from gateway.devtools.samples import sample_transfer
from gateway.worker import run_worker

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


def status(node: RunningNode, transfer_id: str) -> str:
    return str(node.scalar("SELECT status FROM transfers WHERE id = :id", id=transfer_id))


def wait_until(condition: Callable[[], bool], limit: float = HELD_LIMIT) -> bool:
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > limit:
            return False
        time.sleep(0.02)
    return True


def test_a_batch_waiting_on_a_slow_peer_does_not_hold_up_the_next(node_factory) -> None:  # type: ignore[no-untyped-def]
    north = node_factory("north", GATEWAY_WORKER_POLL="0.05", GATEWAY_PEER_TIMEOUT="30")
    slow, fast = node_factory("slow"), node_factory("fast")
    north.create_area("northshire")
    slow.create_area("slow-vale")
    fast.create_area("fast-vale")
    for peer in (slow, fast):
        peer.import_peer(north.bundle("northshire"))
        north.import_peer(peer.bundle(peer.areas[0]))
    gate = Gate(slow._server.app)
    slow._server.app = gate
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(north.node,), kwargs={"stop": stop})
    worker.start()
    try:
        held = north.send(sample_transfer("northshire", "slow-vale"), "northshire", "slow-vale")
        assert gate.entered.wait(HELD_LIMIT), "the worker never posted to the slow peer"
        quick = north.send(sample_transfer("northshire", "fast-vale"), "northshire", "fast-vale")
        assert wait_until(lambda: status(north, quick.id) == "delivered"), status(north, quick.id)
        # Delivered while the slow peer still holds the first POST.
        assert not gate.opened.is_set()
        assert status(north, held.id) != "delivered"
        gate.opened.set()
        assert wait_until(lambda: status(north, held.id) == "delivered"), status(north, held.id)
    finally:
        gate.opened.set()
        stop.set()
        worker.join(timeout=60)
        slow._server.app = gate.app
    assert not worker.is_alive()
    assert fast.count("envelopes") == 1 and slow.count("envelopes") == 1

"""A test node's web app under real gunicorn (`marac-gateway serve`), in its own process
group so that it can be SIGKILLed whole (master and workers) or one worker at a time, and
real delivery workers (`marac-gateway worker`) beside it. The fault tests use these."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import text
from support.nodes import Pair, RunningNode

from gateway.worker import READY
from keys import b64url_decode, verify_document

CLI = [sys.executable, "-m", "gateway.cli"]


def rows(node: RunningNode, sql: str) -> list[tuple[object, ...]]:
    with node.node.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def delivered(node: RunningNode) -> int:
    return int(
        node.scalar(
            "SELECT count(*) FROM transfers WHERE direction='outbound' AND status='delivered'"
        )
    )


def send_many(pair: Pair, count: int) -> float:
    """`count` transfers through the domain's send, a few at a time (each send spends most
    of its time waiting on the database); the seconds it took."""
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda number: pair.send(victim=f"Ada{number}"), range(count)))
    return time.monotonic() - started


def tally(pair: Pair) -> dict[str, int]:
    """The fault table's row, counted at both ends: by envelope id at the receiver, by
    status (with a receipt that verifies) at the sender."""
    south_key = b64url_decode(pair.south.bundle("south-vale")["body"]["signing_key"])
    sent = {
        str(envelope_id): (str(digest), receipt)
        for envelope_id, digest, receipt in rows(
            pair.north,
            "SELECT envelope_id, digest, receipt FROM envelopes WHERE area_code='northshire'",
        )
    }
    statuses = Counter(t.status for t in pair.north.transfers("northshire"))
    for envelope_id, (digest, receipt) in sent.items():
        if receipt:
            body = verify_document(json.loads(str(receipt)), "receipt", south_key)
            assert (body["envelope_id"], body["envelope_digest"]) == (envelope_id, digest)
    arrived = Counter(
        str(row[0])
        for row in rows(pair.south, "SELECT envelope_id FROM envelopes WHERE direction = 'inbound'")
    )
    inbound = pair.south.transfers("south-vale")
    assert {(t.status, t.from_area) for t in inbound} <= {("received", "northshire")}
    assert {t.envelope_id for t in inbound} == set(arrived)
    return {
        "sent": len(sent),
        "delivered_at_sender": statuses["delivered"],
        "with_receipt": sum(1 for _, receipt in sent.values() if receipt),
        "arrived": len(arrived),
        "lost": len(set(sent) - set(arrived)),
        "duplicated": sum(n - 1 for n in arrived.values()) + len(inbound) - len(arrived),
        "strangers": len(set(arrived) - set(sent)),
        "outbox_pending": int(
            pair.north.scalar("SELECT count(*) FROM outbox WHERE status <> 'delivered'")
        ),
    }


def exactly_once(sent: int) -> dict[str, int]:
    """The tally of `sent` transfers each delivered once: nothing lost, nothing doubled."""
    return {
        "sent": sent,
        "delivered_at_sender": sent,
        "with_receipt": sent,
        "arrived": sent,
        "lost": 0,
        "duplicated": 0,
        "strangers": 0,
        "outbox_pending": 0,
    }


def startup_seconds() -> float:
    """How long a fresh interpreter takes to import the worker on this machine now."""
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-c", "import gateway.cli, gateway.worker"], check=True, timeout=120
    )
    return time.monotonic() - started


def port_of(node: RunningNode) -> int:
    return int(node.url.rsplit(":", 1)[1])


def stop_in_process_server(node: RunningNode) -> int:
    """Free the node's port (its published URL, which peers sign their tokens for) so that
    gunicorn can take it; the node's engine stays usable for the test's own queries."""
    node._server.shutdown()
    node._server.server_close()
    node._thread.join(timeout=10)
    return port_of(node)


def wait_until(condition: Callable[[], bool], seconds: float, poll: float = 0.1) -> bool:
    """Poll `condition` until it holds or `seconds` pass; whether it held."""
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(Exception):
            if condition():
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def wait_for_progress(
    count: Callable[[], int], target: int, stall: float, limit: float, poll: float = 0.2
) -> bool:
    """Wait until `count()` reaches `target`: give up when it has not moved for `stall`
    seconds (stuck), or after `limit` seconds in all (the test's bound). A loaded machine
    makes progress slow, not absent; a lost transfer or a dead worker makes it stop."""
    began = last_move = time.monotonic()
    seen = -1
    while True:
        with contextlib.suppress(Exception):
            now_count = count()
            if now_count >= target:
                return True
            if now_count != seen:
                seen, last_move = now_count, time.monotonic()
        now = time.monotonic()
        if now - last_move > stall or now - began > limit:
            return False
        time.sleep(poll)


def ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


class Gunicorn:
    """`marac-gateway serve` for a node, on the node's own port, with `workers` workers."""

    def __init__(self, node: RunningNode, workers: int, logs: Path, **env: str) -> None:
        self.node, self.workers, self.logs = node, workers, logs
        self.env = {**node.env, **env}
        self.port = port_of(node)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 60.0) -> None:
        self.starts += 1
        log = (self.logs / f"{self.node.name}-web-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [*CLI, "serve", "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg takes every worker
        )
        log.close()
        if not wait_until(lambda: self.alive() and ready(self.node.url), timeout, 0.1):
            raise AssertionError(f"gunicorn did not become ready: {self.log_text()[-3000:]}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def children(self) -> list[int]:
        """The gunicorn workers (the master's children) alive now."""
        if self.process is None:
            return []
        pid = self.process.pid
        try:
            found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return []
        return [int(child) for child in found]

    def wait_for_workers(self, seconds: float = 30.0) -> bool:
        return wait_until(lambda: len(self.children()) >= self.workers, seconds, 0.05)

    def kill_one_worker(self, pick: Callable[[list[int]], int]) -> int | None:
        """SIGKILL one gunicorn worker; the master forks a new one."""
        children = self.children()
        if not children:
            return None
        victim = pick(children)
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
        return victim

    def kill_all(self) -> None:
        """SIGKILL the master and every worker at once (the whole process group)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        # Workers orphaned between fork and the kill share the group, so they are gone too.

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.kill_all()
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill_all()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def log_text(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")
            for path in sorted(self.logs.glob(f"{self.node.name}-web-*.log"))
        )


class Workers:
    """Delivery workers (`marac-gateway worker`) for a node, started and killed at will."""

    def __init__(self, node: RunningNode, logs: Path, **env: str) -> None:
        self.node, self.logs = node, logs
        self.env = {**node.env, **env}
        self.running: list[subprocess.Popen[bytes]] = []
        self.all: list[subprocess.Popen[bytes]] = []
        self.started: dict[int, float] = {}
        self.paths: dict[int, Path] = {}

    def start(self) -> subprocess.Popen[bytes]:
        path = self.logs / f"{self.node.name}-worker-{len(self.all)}.log"
        with path.open("wb") as log:
            process = subprocess.Popen(
                [*CLI, "worker"], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.running.append(process)
        self.all.append(process)
        self.started[process.pid] = time.monotonic()
        self.paths[process.pid] = path
        return process

    def ready(self, process: subprocess.Popen[bytes], limit: float = 30.0) -> bool:
        """Wait until the worker says it is ready (its signal handlers are in place, so a
        SIGTERM now is a graceful stop, not a death in its imports)."""
        return wait_until(
            lambda: (
                process.poll() is not None
                or READY in self.paths[process.pid].read_text(errors="replace")
            ),
            limit,
        )

    def working(self, warmup: float) -> list[subprocess.Popen[bytes]]:
        """Workers running for longer than `warmup` (their imports done): killing one of
        these kills a worker at work, not one still starting."""
        now = time.monotonic()
        return [p for p in self.running if now - self.started[p.pid] > warmup]

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        self.running.remove(process)

    def exited(self) -> list[subprocess.Popen[bytes]]:
        """Workers that ended on their own (none should)."""
        return [process for process in self.running if process.poll() is not None]

    def stop(self) -> list[int | None]:
        for process in self.running:
            if process.poll() is None:
                self.ready(process)
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.running:
            try:
                codes.append(process.wait(timeout=30))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(None)
        self.running = []
        for process in self.all:  # anything left behind by a failed test
            if process.poll() is None:
                process.kill()
        return codes

    def log_text(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")
            for path in sorted(self.logs.glob(f"{self.node.name}-worker-*.log"))
        )

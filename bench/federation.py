"""Node-to-node throughput and create-to-receipt latency, both nodes under gunicorn.

Two real nodes are set up with gateway.devtools.demo's machinery (db upgrade, area create,
bundle exchange with fingerprints) on SQLite files in a temporary directory or, with
`--backend postgresql`, on two PostgreSQL databases made for the run through an admin URL
(--pg, else GATEWAY_BENCH_DATABASE_URL / GATEWAY_TEST_DATABASE_URL) and dropped after.
Each node runs `marac-gateway serve` (gunicorn, gateway.serve.gunicorn_options,
--gunicorn-workers workers) and the sender runs --delivery-workers delivery `worker`
processes. Transfers are created in this process with gateway.domain.transfers.sending.send
against the sender's database, which is polled (read-only) until they are delivered.
Latency is transfers.delivered_at - transfers.created_at on the sender.

Phases (warm-up transfers are excluded from every statistic):

    paced      one transfer at a time, the next created once the previous is delivered:
               the unloaded create-to-receipt latency.
    burst      --count transfers queued with the delivery workers stopped, then the
               workers started: transfers/s node to node from the first receipt to the
               last (worker start-up left out); create_per_s is this process's own rate.
    open_loop  --open-count transfers created on a fixed schedule at half the burst rate
               (or --open-rate), whether or not earlier ones are delivered, with the
               worker's DEFAULT settings (the workers are restarted without --worker-poll
               if it was given): create-to-receipt p50/p99, goal p99 < 50 ms.

Baselines in the same run, after the gateway nodes are stopped: bench/bare_app.py (bare
Flask, one POST endpoint, 202 + ~300-byte JSON) under .venv/bin/gunicorn with the SAME
options and worker count, POSTed the size of a real envelope body plus a request-token-
sized Authorization header, --count times
    - concurrently by as many clients as the delivery side keeps POSTs in flight
      (delivery_concurrency() per delivery worker, in one process per delivery worker, the
      threads of a process sharing one httpx.Client as a worker's lanes share its
      PeerClient): the throughput baseline, goal gateway/bare >= 40%;
    - sequentially from one client: the baseline for the paced latency.
Then the floor, bench/floor_app.py under the same options, driven by the same concurrent
clients (run_clients, given a Load whose client threads handle each answer): the least work
the delivery guarantees require per envelope, on raw drivers. The receiver parses the body,
verifies two Ed25519 signatures (request token, envelope) against keys given in advance,
inserts the envelope id (primary key: exactly-once) and an audit row in ONE transaction
(SQLite tuned as adapters.db.session._tune_sqlite, or a PostgreSQL database made for the
run), and answers with a signed receipt; the client verifies the receipt and records it
with one UPDATE in one transaction of its own database. Once with one envelope a POST
(floor_post_concurrent, against bare) and once with posting.BATCH_SEND a POST
(floor_batch_concurrent, envelopes/s), as the gateway sends them. Sealing is not in the
floor: run_burst creates every transfer (sending.send seals its envelope) before it starts
the delivery workers, so the gateway's timed window does not seal either. The summary adds
floor_over_bare, floor_batch_over_bare, gateway_over_floor and gateway_over_floor_batch.

--matrix (PostgreSQL): the burst alone for gunicorn workers 1, 2, 4 x delivery workers 1, 2,
each cell on fresh databases with its own bare baseline and floors, one line per cell,
then whether throughput falls as workers are added.

Prints one JSON object per line on stdout. Run: .venv/bin/python bench/federation.py
[--backend postgresql] [--matrix] [--quick]; see bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import multiprocessing
import os
import queue
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import orjson
from gunicorn.config import KNOWN_SETTINGS
from sqlalchemy import Engine, bindparam, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import floor_app
from _common import (
    CpuSampler,
    PgDatabases,
    emit,
    environment,
    note,
    on_schedule,
    percentile,
    pg_admin_url,
    r,
)

from adapters.db.session import normalise_url
from gateway.config import Settings
from gateway.devtools.demo import AREAS, DemoNode, free_port, setup, wait_ready
from gateway.devtools.samples import sample_transfer
from gateway.domain.clock import utcnow
from gateway.domain.federation.posting import BATCH_SEND
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import sending
from gateway.domain.transfers.states import DELIVERED, FAILED
from gateway.node import Node, build_node
from gateway.serve import gunicorn_options
from gateway.worker import BATCH, IN_FLIGHT, LANES
from keys import AreaSecretKeys, issue_request_token
from schemas.wire.envelope import ENVELOPES_PATH

BENCH_DIR = Path(__file__).resolve().parent
# gunicorn's start-up (imports) on a shared, loaded machine can take longer than the
# demo's 30 s.
READY_TIMEOUT = 120.0
THROUGHPUT_GOAL = 0.40  # gateway transfers/s over bare POSTs/s
P99_GOAL_MS = 50.0  # open-loop create-to-receipt
MATRIX_GUNICORN = (1, 2, 4)
MATRIX_DELIVERY = (1, 2)
FULL = {"count": 1000, "paced": 100, "warmup": 10, "open_count": 500}
QUICK = {"count": 50, "paced": 20, "warmup": 3, "open_count": 30}


def delivery_concurrency() -> int:
    """POSTs one delivery worker keeps in flight to one peer: it claims worker.BATCH
    envelopes and, the peer taking batches, sends them as batch POSTs of at most
    posting.BATCH_SEND; with a backlog, worker.IN_FLIGHT claimed batches are in flight at
    once, a batch of one POST sent by its own thread, several POSTs on the worker.LANES
    threads."""
    return min(LANES, IN_FLIGHT * math.ceil(BATCH / BATCH_SEND))


@dataclass
class BenchNode(DemoNode):
    """A DemoNode on its own database (SQLite in its home when database_url is empty) whose
    delivery workers run with the worker's defaults unless worker_poll is set."""

    database_url: str = ""
    worker_poll: float | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        # One secret for every process of the node (DemoNode draws a fresh one per call).
        self.settings.setdefault("GATEWAY_SECRET_KEY", secrets.token_urlsafe(48))
        env = super().env()
        if self.database_url:
            env["GATEWAY_DATABASE_URL"] = self.database_url
        # The demo speeds its worker up; the benchmark measures the defaults unless told.
        for name in ("GATEWAY_WORKER_POLL", "GATEWAY_DELIVERY_BACKOFF"):
            env.pop(name, None)
        if self.worker_poll is not None:
            env["GATEWAY_WORKER_POLL"] = str(self.worker_poll)
        return env

    def start_workers(self, count: int) -> None:
        for _ in range(count):
            self.start("worker", log_name=f"worker-{len(self.processes)}.log")
            self.workers.append(self.processes[-1])

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            self.processes.remove(process)
        self.workers.clear()


# --- gateway ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    id: str
    status: str
    created_at: datetime
    delivered_at: datetime | None
    failure_reason: str | None

    @property
    def latency(self) -> float:
        assert self.delivered_at is not None
        return (self.delivered_at - self.created_at).total_seconds()


ROWS = text(
    "SELECT id, status, created_at, delivered_at, failure_reason FROM transfers WHERE id IN :ids"
).bindparams(bindparam("ids", expanding=True))


class SenderDb:
    """The sender's transfers, read over a connection of their own: on SQLite a read-only
    one (WAL readers never take the write lock, so polling does not compete with the
    worker), on PostgreSQL a plain one (reads never block writes)."""

    def __init__(self, node: BenchNode) -> None:
        self.engine: Engine
        if node.database_url:
            self.engine = create_engine(normalise_url(node.database_url), pool_size=1)
        else:
            path = node.home / "gateway.db"
            self.engine = create_engine(
                "sqlite://",
                creator=lambda: sqlite3.connect(
                    f"file:{path}?mode=ro", uri=True, isolation_level=None
                ),
            )

    def rows(self, ids: set[str]) -> list[Row]:
        wanted = sorted(ids)
        found: list[Row] = []
        with self.engine.connect() as connection:
            for start in range(0, len(wanted), 500):  # within SQLite's bound parameters
                chunk = wanted[start : start + 500]
                for i, status, created, delivered, reason in connection.execute(
                    ROWS, {"ids": chunk}
                ):
                    found.append(
                        Row(
                            str(i),
                            str(status),
                            _when(created),
                            _when(delivered) if delivered else None,
                            reason,
                        )
                    )
        return found

    def envelope_body(self) -> bytes:
        with self.engine.connect() as connection:
            body = connection.execute(
                text("SELECT body FROM envelopes WHERE direction = 'outbound' ORDER BY pk LIMIT 1")
            ).scalar_one()
        return str(body).encode("ascii")

    def close(self) -> None:
        self.engine.dispose()


def _when(value: str | datetime) -> datetime:
    """Naive UTC: SQLite hands back the text adapters.db stored, PostgreSQL a datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


# How often the burst and the open loop read their transfers while the workers drain them.
# The figures come from the rows' own timestamps, so this only bounds the wait after the
# last receipt; at 0.05 s, reading 1,000-3,000 rows took a third of a core of a 2-core
# machine from the nodes being measured.
DRAIN_POLL_S = 0.5


def wait_delivered(db: SenderDb, ids: set[str], timeout: float, poll: float) -> list[Row]:
    """Every row once delivered. Each read asks only for the transfers not yet seen
    delivered, so a drain costs this process a read of each row about once rather than
    once a poll (during a PostgreSQL burst of 3,000 this process used 0.30-0.55 ms of CPU a
    transfer when every read asked for all of them, 0.22-0.27 ms since)."""
    deadline = time.monotonic() + timeout
    delivered: dict[str, Row] = {}
    waiting = set(ids)
    while True:
        rows = db.rows(waiting)
        failed = [row for row in rows if row.status == FAILED]
        if failed:
            raise RuntimeError(f"{len(failed)} transfer(s) failed: {failed[0].failure_reason}")
        delivered.update((row.id, row) for row in rows if row.status == DELIVERED)
        waiting -= delivered.keys()
        if not waiting:
            return list(delivered.values())
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(delivered)}/{len(ids)} delivered after {timeout:.0f} s")
        time.sleep(poll)


class Sender:
    def __init__(self, node: BenchNode, to_area: str) -> None:
        self.from_area, self.to_area = node.code, to_area
        self.node: Node = build_node(Settings.from_env(node.env()))
        self.db = SenderDb(node)
        self._count = itertools.count(1)  # next() is atomic: creators run on two threads

    def create(self) -> str:
        number = next(self._count)
        data = sample_transfer(self.from_area, self.to_area, victim=f"Ada{number}")
        with self.node.sessions() as session:
            sent = sending.send(
                session,
                self.node.master,
                Principal.operator(),
                sending.addressed(data, self.from_area, self.to_area),
                utcnow(),
            )
        return sent.id

    def paced(self, count: int, timeout: float) -> list[Row]:
        rows = []
        for _ in range(count):
            ident = self.create()
            rows += wait_delivered(self.db, {ident}, timeout, poll=0.002)
        return rows

    def close(self) -> None:
        self.db.close()
        self.node.close()


def load_1m() -> float:
    """Machine load when a phase ended: other processes' CPU use skews the ratios."""
    return r(os.getloadavg()[0], 2)


def latency_stats(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": r(percentile(values, 50) * 1e3),
        "p99_ms": r(percentile(values, 99) * 1e3),
        "mean_ms": r(sum(values) / len(values) * 1e3),
        "max_ms": r(max(values) * 1e3),
    }


def run_paced(sender: Sender, args: argparse.Namespace) -> dict[str, Any]:
    note(f"gateway: paced, {args.paced} transfers one at a time")
    paced = sender.paced(args.paced, args.timeout)
    return {
        "transfers": len(paced),
        "latency": latency_stats([row.latency for row in paced]),
        "load_1m": load_1m(),
    }


def analyse(node: BenchNode) -> bool:
    """PostgreSQL: refresh the planner's statistics, as autovacuum has on a node in service
    (it analyses a table once a tenth of it has changed, within a minute). The benchmark's
    databases are new: without this, the drain runs on plans made for empty tables (an
    index that serves only the area code, read for every row of a join) that a node
    with any history never uses. SQLite keeps no statistics unless asked (the gateway
    does not ask), so there is nothing to refresh."""
    if not node.database_url:
        return False
    engine = create_engine(normalise_url(node.database_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    return True


def run_burst(
    pair: Pair, count: int, timeout: float, delivery: int, *, analyse_first: bool = True
) -> dict[str, Any]:
    """`count` transfers queued with the delivery workers stopped, then the workers started:
    the rate at which the pair moves a full queue, node to node. (Creating them while the
    workers run would measure this process creating them, one at a time, as soon as that
    is the slower side: on a loaded machine on PostgreSQL it was.)"""
    note(f"gateway: burst, {count} transfers queued, then {delivery} delivery worker(s)")
    pair.sender_node.stop_workers()
    started = time.perf_counter()
    ids = {pair.sender.create() for _ in range(count)}
    create_seconds = time.perf_counter() - started
    analysed = analyse_first and all([analyse(pair.sender_node), analyse(pair.receiver_node)])
    workers_started = utcnow().replace(tzinfo=None)
    with CpuSampler() as cpu:
        pair.sender_node.start_workers(delivery)
        rows = wait_delivered(pair.sender.db, ids, timeout + count, poll=DRAIN_POLL_S)
    delivered = sorted(row.delivered_at for row in rows if row.delivered_at is not None)
    first, last = delivered[0], delivered[-1]
    # From the first receipt on: worker start-up (imports, its first chores) is left out.
    # The transfers recorded with the first (one transaction per claimed batch) are too.
    after_first = sum(when > first for when in delivered)
    drain = (last - first).total_seconds()
    return {
        "transfers": len(rows),
        "transfers_per_s": r(after_first / drain, 2) if drain > 0 else None,
        "drain_s": r(drain, 3),
        "cpu": drain_cpu(cpu, first, last, after_first),
        "workers_start_to_first_s": r((first - workers_started).total_seconds(), 3),
        "create_per_s": r(len(rows) / create_seconds, 2),  # this process, one at a time
        "analysed": analysed,
        "load_1m": load_1m(),
    }


def drain_cpu(
    cpu: CpuSampler, first: datetime, last: datetime, transfers: int
) -> dict[str, float] | None:
    """The machine's CPU from the first receipt to the last: the share of its cores busy
    (what the pipeline leaves idle is throughput the cores could still give) and the CPU
    a transfer took, every process together (both nodes, the worker, PostgreSQL and this
    one's polling). Steadier from run to run than transfers/s on a shared machine."""
    start, end = (when.replace(tzinfo=UTC).timestamp() for when in (first, last))
    seen = cpu.window(start, end)
    if seen is None or transfers == 0:
        return None
    cores_busy, share = seen
    per_transfer_ms = cores_busy * (end - start) / transfers * 1e3
    return {"cores": os.cpu_count() or 1, "busy": r(share), "ms_per_transfer": r(per_transfer_ms)}


def run_open_loop(sender: Sender, rate: float, count: int, timeout: float) -> dict[str, Any]:
    """Transfers created at `rate` on a fixed schedule (two creating threads), whatever
    the workers are doing: the latency a steady stream sees, queueing included."""
    note(f"gateway: open loop, {count} transfers at {rate:.2f}/s")
    late = [0.0] * count
    ids: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def create(number: int, late_s: float) -> None:
        late[number] = late_s
        try:
            ids.append(sender.create())
        except Exception as exc:  # reported below; the schedule stops
            errors.append(exc)
            stop.set()

    on_schedule(create, rate, count, stop)
    if errors:
        raise RuntimeError(f"open loop: creating a transfer failed: {errors[0]!r}")
    rows = wait_delivered(sender.db, set(ids), timeout + count / rate, poll=DRAIN_POLL_S)
    created = sorted(row.created_at for row in rows)
    offered = (created[-1] - created[0]).total_seconds()
    latency = latency_stats([row.latency for row in rows])
    return {
        "transfers": len(rows),
        "rate_per_s": r(rate, 2),
        "offered_per_s": r((len(rows) - 1) / offered, 2) if offered > 0 else None,
        "latency": latency,
        "goal_p99_ms": P99_GOAL_MS,
        "goal_met": latency["p99_ms"] < P99_GOAL_MS,
        # How far behind its slot each creation started (this process's own lag).
        "schedule_late": latency_stats(late),
        "load_1m": load_1m(),
    }


# --- baseline ---------------------------------------------------------------------------
def gunicorn_flags(options: dict[str, Any]) -> list[str]:
    """Command-line flags equivalent to a gunicorn options dict, via gunicorn's own table."""
    settings = {setting.name: setting for setting in KNOWN_SETTINGS}
    flags: list[str] = []
    for name, value in options.items():
        setting = settings[name]  # KeyError: a new option this bench cannot translate
        if not setting.cli:
            continue  # logconfig_dict: how gunicorn logs, config-file only; no effect here
        flag = next(cli for cli in setting.cli if cli.startswith("--"))
        if setting.action in ("store_true", "store_false"):
            if bool(value) == (setting.action == "store_true"):
                flags.append(flag)
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            flags += [flag, str(item)]
    return flags


def start_app(node: DemoNode, workers: int, app: str = "bare_app:app") -> list[str]:
    """A bench app (bench/bare_app.py, bench/floor_app.py) under .venv/bin/gunicorn with
    the gateway's own options; node.settings reach it as its environment."""
    gunicorn = Path(sys.executable).parent / "gunicorn"
    command = [
        str(gunicorn),
        *gunicorn_flags(gunicorn_options("127.0.0.1", node.port, workers)),
        "--chdir",
        str(BENCH_DIR),
        app,
    ]
    log = (node.home / "web.log").open("wb")
    node.processes.append(
        subprocess.Popen(command, env=node.env(), stdout=log, stderr=subprocess.STDOUT)
    )
    return command


def token_sized_header(body: bytes, url: str) -> str:
    """A real request token (throwaway keys), so the header is as long as the worker's."""
    keys = AreaSecretKeys.generate(AREAS[0][0])
    token = issue_request_token(keys, audience=AREAS[1][0], method="POST", url=url, body=body)
    return f"Bearer {token}"


def bare_headers(body: bytes, url: str) -> dict[str, str]:
    return {
        "Authorization": token_sized_header(body, url),
        "Content-Type": "application/json",
        "User-Agent": "marac-gateway/1",
    }


Answer = Callable[[int, bytes], None]


@dataclass(frozen=True)
class Load:
    """What the concurrent clients send: request `number` (a body and its headers; each
    client process takes its warm-up numbers, then its share, all distinct), and what a
    client thread does with each 202 answer before it counts as done: `lane()` makes one
    handler per thread, after the fork (the bare baseline has none: it only reads it)."""

    requests: Sequence[tuple[bytes, dict[str, str]]]
    lane: Callable[[], Answer] | None = None
    envelopes_per_post: int = 1


def _drive(
    url: str,
    load: Load,
    warm: Sequence[int],
    share: Sequence[int],
    threads: int,
    barrier: Barrier,
    results: Queue[dict[str, Any]],
) -> None:
    """One client process (forked): its figures, or what went wrong, on `results`."""
    try:
        found = _posts(url, load, warm, share, threads, barrier)
    except Exception as exc:  # the parent reports it
        barrier.abort()  # the other client processes stop waiting for this one
        found = {"errors": [f"{type(exc).__name__}: {exc}"]}
    results.put(found)


def _posts(
    url: str,
    load: Load,
    warm: Sequence[int],
    share: Sequence[int],
    threads: int,
    barrier: Barrier,
) -> dict[str, Any]:
    """`threads` threads sharing one httpx.Client, as a delivery worker's lanes share its
    PeerClient, send the requests numbered `share` between them (after `warm`, one at a
    time, untimed); each answer handled by the thread's own handler, if the load has one."""
    latencies: list[float] = []
    starts: list[float] = []
    ends: list[float] = []
    errors: list[str] = []
    numbers = iter(share)  # next() on it is atomic: the lanes share it
    answer = b""
    with httpx.Client(timeout=httpx.Timeout(15.0, connect=5.0)) as client:

        def post(number: int, handle: Answer | None) -> float:
            nonlocal answer
            body, headers = load.requests[number]
            started = time.monotonic()
            response = client.post(url, content=body, headers=headers)
            answer = response.read()
            if response.status_code != 202:
                raise RuntimeError(f"HTTP {response.status_code}: {answer[:200]!r}")
            if handle is not None:
                handle(number, answer)
            return started

        def lane(handle: Answer | None) -> None:
            try:
                for number in numbers:
                    if errors:
                        return
                    started = post(number, handle)
                    ended = time.monotonic()  # system-wide: comparable across the processes
                    starts.append(started)
                    ends.append(ended)
                    latencies.append(ended - started)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

        # Each thread's handler made (its connection opened) before the timed window.
        handles = [load.lane() if load.lane is not None else None for _ in range(threads)]
        for number in warm:
            post(number, handles[0])
        barrier.wait(timeout=READY_TIMEOUT)  # every client process warm, then all at once
        lanes = [threading.Thread(target=lane, args=(handle,)) for handle in handles]
        for each in lanes:
            each.start()
        for each in lanes:
            each.join()
    return {
        "latencies": latencies,
        "start": min(starts, default=0.0),
        "end": max(ends, default=0.0),
        "errors": errors[:3],
        "response_bytes": len(answer),
    }


def run_clients(
    url: str, load: Load, count: int, warmup: int, processes: int, threads: int
) -> dict[str, Any]:
    """`count` POSTs from `processes` client processes of `threads` threads each, after
    `warmup` each; `load.requests` holds at least processes * warmup + count."""
    # fork: nothing else runs in this process now, and the children start at once.
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(processes)
    results: Queue[dict[str, Any]] = context.Queue()
    sizes = [count // processes + (i < count % processes) for i in range(processes)]
    first = processes * warmup  # the warm-up numbers come first
    shares = [range(first + sum(sizes[:i]), first + sum(sizes[: i + 1])) for i in range(processes)]
    children = [
        context.Process(
            target=_drive,
            args=(url, load, range(i * warmup, (i + 1) * warmup), share, threads, barrier, results),
            daemon=True,
        )
        for i, share in enumerate(shares)
    ]
    for child in children:
        child.start()
    done = collect(results, children)  # before join: the queue drains
    for child in children:
        child.join()
    errors = [error for part in done for error in part["errors"]]
    if errors:
        raise RuntimeError(f"{url} answered {errors[0]}")
    latencies = [value for part in done for value in part["latencies"]]
    span = max(part["end"] for part in done) - min(part["start"] for part in done)
    body, headers = load.requests[0]
    found = {
        "requests": len(latencies),
        "requests_per_s": r(len(latencies) / span, 2),
    }
    if load.envelopes_per_post > 1:
        found["envelopes_per_post"] = load.envelopes_per_post
        found["envelopes_per_s"] = r(len(latencies) * load.envelopes_per_post / span, 2)
    return {
        **found,
        "clients": processes * threads,
        "client_processes": processes,
        "latency": latency_stats(latencies),
        "body_bytes": len(body),
        "auth_header_bytes": len(headers["Authorization"]),
        "response_bytes": done[0]["response_bytes"],
        "load_1m": load_1m(),
    }


def run_bare(
    url: str, body: bytes, count: int, warmup: int, processes: int, threads: int
) -> dict[str, Any]:
    """The bare baseline: the same body and headers every time, the answer only read."""
    load = Load([(body, bare_headers(body, url))] * (processes * warmup + count))
    return run_clients(url, load, count, warmup, processes, threads)


def collect(
    results: Queue[dict[str, Any]], children: Sequence[multiprocessing.process.BaseProcess]
) -> list[dict[str, Any]]:
    """One result per client process; a process that died without one is an error."""
    done: list[dict[str, Any]] = []
    while len(done) < len(children):
        try:
            done.append(results.get(timeout=1.0))
        except queue.Empty:
            if not any(child.is_alive() for child in children) and results.empty():
                raise RuntimeError("a client process ended without its figures") from None
    return done


@contextlib.contextmanager
def bare_server(space: Space, workers: int) -> Iterator[str]:
    """bench/bare_app.py under gunicorn with `workers` workers; yields its POST URL."""
    node = DemoNode("bare", "bare Flask", space.home(f"bare-g{workers}"), free_port())
    try:
        start_app(node, workers)
        wait_ready(node, READY_TIMEOUT)
        yield node.url + ENVELOPES_PATH
    finally:
        stop_all((node,))


@dataclass(frozen=True)
class FloorRun:
    """A floor app being served, its keys, and the sender's database for the receipts."""

    url: str
    keys: floor_app.Keys
    client_database: str


@contextlib.contextmanager
def floor_server(space: Space, workers: int) -> Iterator[FloorRun]:
    """bench/floor_app.py under gunicorn with `workers` workers, on a receiver database of
    its own (SQLite file, or a PostgreSQL database made for the run) and a sender database
    for the clients' receipts; databases dropped on leaving."""
    home = space.home(f"floor-g{workers}")
    node = DemoNode("floor", "floor Flask", home, free_port())
    server = space.database("floor_receiver") or str(home / "receiver.db")
    client = space.database("floor_sender") or str(home / "sender.db")
    keys = floor_app.Keys.generate()
    floor_app.make_schema(server)
    threads = gunicorn_options("127.0.0.1", 0, workers)["threads"]
    node.settings.update(keys.app_environment(server, AREAS[1][0], threads))
    try:
        start_app(node, workers, "floor_app:create_app()")
        wait_ready(node, READY_TIMEOUT)
        yield FloorRun(node.url + floor_app.PATH, keys, client)
    finally:
        stop_all((node,))
        space.release()


def run_floor(
    floor: FloorRun,
    template: dict[str, Any],
    args: argparse.Namespace,
    delivery: int,
    per_post: int,
) -> dict[str, Any]:
    """The floor's POSTs (`per_post` envelopes each) from the same concurrent clients as
    the bare baseline, each answer's receipts verified and recorded by the client; as
    many envelopes in all as the bare baseline's POSTs (--count)."""
    lanes = delivery_concurrency()
    count = max(1, args.count // per_post)
    total = delivery * args.warmup + count
    posts = floor_app.make_posts(template, floor.keys, AREAS[1][0], total, per_post)
    floor_app.make_schema(floor.client_database, [i for post in posts for i in post.ids])
    receipt_key = floor.keys.receipt.verify_key
    headers = {"Content-Type": "application/json", "User-Agent": "marac-gateway/1"}
    load = Load(
        [(post.body, {**headers, "Authorization": post.authorization}) for post in posts],
        lane=lambda: floor_app.Recorder(floor.client_database, receipt_key, posts),
        envelopes_per_post=per_post,
    )
    return run_clients(floor.url, load, count, args.warmup, delivery, lanes)


def run_baselines(
    space: Space, body: bytes, args: argparse.Namespace, workers: int, delivery: int
) -> dict[str, Any]:
    """The throughput baseline (concurrent, as many clients as the delivery side keeps
    POSTs in flight), the floor on the same clients (one envelope a POST, and a batch of
    posting.BATCH_SEND a POST as the gateway sends them) and, unless in the matrix, the
    sequential bare one for the paced latency."""
    found: dict[str, Any] = {}
    lanes = delivery_concurrency()
    with bare_server(space, workers) as url:
        note(f"bare: {args.count} POSTs from {delivery} x {lanes} concurrent clients")
        found["concurrent"] = run_bare(url, body, args.count, args.warmup, delivery, lanes)
        if not args.matrix:
            note(f"bare: {args.count} sequential POSTs")
            found["sequential"] = run_bare(url, body, args.count, args.warmup, 1, 1)
    template = orjson.loads(body)
    for key, per_post in (("floor", 1), ("floor_batch", BATCH_SEND)):
        with floor_server(space, workers) as floor:
            note(f"floor: {args.count} envelopes, {per_post} a POST, {delivery} x {lanes} clients")
            found[key] = run_floor(floor, template, args, delivery, per_post)
    return found


class Space:
    """The run's work directory and, on PostgreSQL, the databases made for it."""

    def __init__(self, backend: str, pg: str, keep: bool) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="marac-bench-federation-"))
        self.keep = keep
        self.databases = PgDatabases(pg, "marac_bench_fed") if backend == "postgresql" else None

    def home(self, name: str) -> Path:
        """A new directory (numbered: the matrix starts a bare app per cell)."""
        path = self.root / f"{len(list(self.root.iterdir())):02d}-{name}"
        path.mkdir(parents=True)
        return path

    def database(self, name: str) -> str:
        """A fresh PostgreSQL database's URL, or "" for the node's own SQLite file."""
        return self.databases.new(name) if self.databases is not None else ""

    def release(self) -> None:
        """Drop the databases of a finished pair (the matrix makes fresh ones per cell)."""
        if self.databases is not None:
            self.databases.drop_all()

    def close(self) -> None:
        if self.databases is not None:
            with contextlib.suppress(Exception):
                self.databases.close()
        if self.keep:
            note(f"work directory kept: {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Pair:
    sender_node: BenchNode
    receiver_node: BenchNode
    sender: Sender


@contextlib.contextmanager
def gateway_pair(space: Space, workers: int, delivery: int, poll: float | None) -> Iterator[Pair]:
    """Two nodes set up, served by `workers` gunicorn workers each, `delivery` delivery
    workers on the sender; stopped (and their databases dropped) on leaving."""
    home = space.home(f"pair-g{workers}-d{delivery}")
    nodes = tuple(
        BenchNode(
            code,
            name,
            home / code,
            free_port(),
            database_url=space.database(code),
            worker_poll=poll,
        )
        for code, name in AREAS
    )
    sender_node, receiver_node = nodes
    sender: Sender | None = None
    try:
        for node in nodes:
            node.home.mkdir(parents=True)
        with contextlib.redirect_stdout(sys.stderr):  # setup() narrates, as in the demo
            setup((sender_node, receiver_node))
        for node in nodes:
            node.start(
                "serve", "--port", str(node.port), "--workers", str(workers), log_name="web.log"
            )
        sender_node.start_workers(delivery)
        for node in nodes:
            wait_ready(node, READY_TIMEOUT)
        sender = Sender(sender_node, receiver_node.code)
        yield Pair(sender_node, receiver_node, sender)
    finally:
        if sender is not None:
            with contextlib.suppress(Exception):
                sender.close()
        stop_all(nodes)
        space.release()


def run_full(space: Space, args: argparse.Namespace) -> None:
    workers, delivery = args.gunicorn_workers, args.delivery_workers
    with gateway_pair(space, workers, delivery, args.worker_poll) as pair:
        note(f"gateway: {args.warmup} warm-up transfers")
        pair.sender.paced(args.warmup, args.timeout)
        paced = run_paced(pair.sender, args)
        burst = run_burst(
            pair, args.count, args.timeout, delivery, analyse_first=not args.cold_stats
        )
        if args.worker_poll is not None:
            note("gateway: delivery workers restarted with the default settings")
            pair.sender_node.stop_workers()
            pair.sender_node.worker_poll = None
            pair.sender_node.start_workers(delivery)
            pair.sender.paced(args.warmup, args.timeout)  # they are up and warm
        rate = args.open_rate or burst["transfers_per_s"] / 2
        open_loop = run_open_loop(pair.sender, rate, args.open_count, args.timeout)
        body = pair.sender.db.envelope_body()
    # The gateway nodes are stopped: a quiet machine for the baseline.
    bare = run_baselines(space, body, args, workers, delivery)
    common = common_fields(args, workers, delivery)
    for phase, found in (("gateway_paced", paced), ("gateway_burst", burst)):
        emit({"bench": "federation", "phase": phase, **found, **common})
    open_common = {**common, "worker_poll_s": None}  # always the worker's default
    emit({"bench": "federation", "phase": "gateway_open_loop", **open_loop, **open_common})
    concurrent, sequential = bare["concurrent"], bare["sequential"]
    emit({"bench": "federation", "phase": "bare_post_concurrent", **concurrent, **common})
    emit({"bench": "federation", "phase": "bare_post_sequential", **sequential, **common})
    for phase, key in (
        ("floor_post_concurrent", "floor"),
        ("floor_batch_concurrent", "floor_batch"),
    ):
        emit({"bench": "federation", "phase": phase, **bare[key], **common})
    throughput = (burst["transfers_per_s"] or 0.0) / concurrent["requests_per_s"]
    bare_p50 = sequential["latency"]["p50_ms"]
    emit(
        {
            "bench": "federation",
            "kind": "summary",
            "backend": args.backend,
            # Goal 1: burst transfers/s over bare POSTs/s, same gunicorn, same concurrency.
            "throughput_ratio": r(throughput, 3),
            "throughput_goal": THROUGHPUT_GOAL,
            "throughput_goal_met": throughput >= THROUGHPUT_GOAL,
            # What the guarantees alone cost on this stack: see floor_ratios.
            **floor_ratios(burst, concurrent, bare),
            # Goal 2: open-loop create-to-receipt p99 at half the burst rate, defaults.
            "open_loop_p99_ms": open_loop["latency"]["p99_ms"],
            "open_loop_goal_ms": P99_GOAL_MS,
            "open_loop_goal_met": open_loop["goal_met"],
            # Unloaded create-to-receipt vs one sequential bare POST (informational).
            "ratio": r(paced["latency"]["p50_ms"] / bare_p50, 2),
            "ratio_p99": r(paced["latency"]["p99_ms"] / sequential["latency"]["p99_ms"], 2),
            "seconds": r(time.perf_counter() - args.started, 1),
            **environment(),
        }
    )


def floor_ratios(
    burst: dict[str, Any], bare: dict[str, Any], baselines: dict[str, Any]
) -> dict[str, Any]:
    """The floors next to the bare baseline and the gateway: floor_over_bare (one envelope
    a POST) bounds what any implementation of the guarantees that posts one envelope at a
    time can reach against bare; floor_batch_over_bare (envelopes/s, BATCH_SEND a POST, as
    the gateway's burst sends them) what one that batches can; gateway_over_floor* is how
    far the gateway is from each."""
    gateway = burst["transfers_per_s"] or 0.0
    floor = baselines["floor"]["requests_per_s"]
    batch = baselines["floor_batch"]["envelopes_per_s"]
    return {
        "bare_requests_per_s": bare["requests_per_s"],
        "floor_envelopes_per_s": floor,
        "floor_batch_envelopes_per_s": batch,
        "gateway_transfers_per_s": gateway,
        "floor_over_bare": r(floor / bare["requests_per_s"], 3),
        "floor_batch_over_bare": r(batch / bare["requests_per_s"], 3),
        "gateway_over_floor": r(gateway / floor, 3),
        "gateway_over_floor_batch": r(gateway / batch, 3),
    }


def run_matrix(space: Space, args: argparse.Namespace) -> None:
    cells: list[dict[str, Any]] = []
    for workers, delivery in itertools.product(MATRIX_GUNICORN, MATRIX_DELIVERY):
        note(f"matrix: {workers} gunicorn worker(s), {delivery} delivery worker(s)")
        with gateway_pair(space, workers, delivery, args.worker_poll) as pair:
            note(f"gateway: {args.warmup} warm-up transfers")
            pair.sender.paced(args.warmup, args.timeout)
            burst = run_burst(
                pair, args.count, args.timeout, delivery, analyse_first=not args.cold_stats
            )
            body = pair.sender.db.envelope_body()
        baselines = run_baselines(space, body, args, workers, delivery)
        bare = baselines["concurrent"]
        cell = {
            "bench": "federation",
            "phase": "matrix_cell",
            "transfers_per_s": burst["transfers_per_s"],
            "throughput_ratio": r((burst["transfers_per_s"] or 0.0) / bare["requests_per_s"], 3),
            **floor_ratios(burst, bare, baselines),
            "burst": burst,
            "bare": bare,
            "floor": baselines["floor"],
            "floor_batch": baselines["floor_batch"],
            **common_fields(args, workers, delivery),
        }
        emit(cell)
        cells.append(cell)
    drops = throughput_drops(cells, args.tolerance / 100)
    emit(
        {
            "bench": "federation",
            "kind": "matrix_summary",
            "backend": args.backend,
            "transfers_per_s": {
                f"g{c['gunicorn']['workers']}_d{c['delivery_workers']}": c["transfers_per_s"]
                for c in cells
            },
            # The goal: throughput must not fall as workers are added.
            "throughput_falls": bool(drops),
            "tolerance_pct": args.tolerance,
            "drops": drops,
            "seconds": r(time.perf_counter() - args.started, 1),
            **environment(),
        }
    )


def throughput_drops(cells: list[dict[str, Any]], tolerance: float) -> list[dict[str, Any]]:
    """Each step that adds workers (the next gunicorn count, the delivery workers alike;
    or a second delivery worker, gunicorn alike) and loses more than `tolerance` of the
    throughput."""
    tps = {(c["gunicorn"]["workers"], c["delivery_workers"]): c["transfers_per_s"] for c in cells}
    steps = [
        ((g, d), (g2, d)) for g, g2 in itertools.pairwise(MATRIX_GUNICORN) for d in MATRIX_DELIVERY
    ] + [
        ((g, d), (g, d2)) for g in MATRIX_GUNICORN for d, d2 in itertools.pairwise(MATRIX_DELIVERY)
    ]
    drops = []
    for before, after in steps:
        if before in tps and after in tps and tps[after] < tps[before] * (1 - tolerance):
            drops.append(
                {
                    "from": {"gunicorn_workers": before[0], "delivery_workers": before[1]},
                    "to": {"gunicorn_workers": after[0], "delivery_workers": after[1]},
                    "change_pct": r((tps[after] / tps[before] - 1) * 100, 1),
                }
            )
    return drops


def common_fields(args: argparse.Namespace, workers: int, delivery: int) -> dict[str, Any]:
    options = gunicorn_options("127.0.0.1", 0, workers)
    return {
        "backend": args.backend,
        "gunicorn": {k: options[k] for k in ("workers", "worker_class", "threads")},
        "delivery_workers": delivery,
        # Concurrent POSTs: the gateway's delivery side and the bare baseline's clients.
        "delivery_concurrency": delivery_concurrency() * delivery,
        "envelopes_per_post_max": BATCH_SEND,  # the gateway's; the bare POST carries one
        "worker_poll_s": args.worker_poll,  # null: the worker's default
    }


# --- orchestration ----------------------------------------------------------------------
@contextlib.contextmanager
def terminate_on_signals() -> Iterator[None]:
    """SIGTERM/SIGHUP raise SystemExit, so the finally blocks below stop the subprocesses.
    Once: a second signal (a process-group kill repeated, say) must not cut that short and
    leave a node or a database behind."""

    def _exit(signum: int, _frame: FrameType | None) -> None:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, _exit) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_all(nodes: Sequence[DemoNode]) -> None:
    for node in nodes:
        with contextlib.suppress(Exception):
            node.stop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--pg",
        default=pg_admin_url(),
        help="PostgreSQL admin URL (default GATEWAY_BENCH_DATABASE_URL, "
        "GATEWAY_TEST_DATABASE_URL, else the local test server); databases are made and dropped",
    )
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="PostgreSQL: the burst for gunicorn workers 1, 2, 4 x delivery workers 1, 2",
    )
    parser.add_argument("--quick", action="store_true", help="smoke-test counts (not figures)")
    parser.add_argument("--count", type=int, help="burst transfers and bare POSTs (1000)")
    parser.add_argument("--paced", type=int, help="transfers sent one at a time (100)")
    parser.add_argument("--warmup", type=int, help="excluded transfers/POSTs (10)")
    parser.add_argument("--open-count", type=int, help="open-loop transfers (500)")
    parser.add_argument(
        "--open-rate", type=float, help="open-loop transfers/s (default: half the burst rate)"
    )
    parser.add_argument(
        "--gunicorn-workers",
        "--web-workers",
        dest="gunicorn_workers",
        type=int,
        default=2,
        help="gunicorn workers per node (gateway and bare alike)",
    )
    parser.add_argument(
        "--delivery-workers", type=int, default=1, help="delivery worker processes (sender)"
    )
    parser.add_argument(
        "--worker-poll",
        type=float,
        help="delivery worker idle poll, s, for the paced phase and the burst (default: the "
        "worker's own, 2 s, woken by each commit); the open loop always runs the default",
    )
    parser.add_argument(
        "--tolerance", type=float, default=5.0, help="matrix: a drop under this %% is noise"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="per-phase delivery limit")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    parser.add_argument(
        "--cold-stats",
        action="store_true",
        help="PostgreSQL: drain the burst on the new databases' empty statistics (a node's "
        "first minute) instead of analysing them first",
    )
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.matrix:
        args.backend = "postgresql"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.started = time.perf_counter()
    space = Space(args.backend, args.pg, args.keep)
    try:
        with terminate_on_signals():
            if args.matrix:
                run_matrix(space, args)
            else:
                run_full(space, args)
        return 0
    except (RuntimeError, OSError) as exc:
        note(f"federation bench failed: {exc} (logs in {space.root}; rerun with --keep)")
        return 1
    finally:
        space.close()


if __name__ == "__main__":
    sys.exit(main())

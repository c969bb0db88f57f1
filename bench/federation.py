"""Node-to-node throughput and create-to-receipt latency, both nodes under gunicorn.

Two real nodes are set up with gateway.devtools.demo's machinery in a temporary directory (db
upgrade, area create, bundle exchange with fingerprints), then each runs `marac-gateway
serve` (gunicorn, gateway.serve.gunicorn_options) and the sender runs ONE delivery
`worker`. Transfers are created in this process with gateway.domain.transfers.sending.send
against the sender's SQLite database, and the sender database is polled (read-only) until
they are delivered. Latency is transfers.delivered_at - transfers.created_at on the sender.

Phases (warm-up transfers are excluded from every statistic):

    paced  one transfer at a time, the next created once the previous is delivered: the
           unloaded create-to-receipt latency (seal, queue, worker pick-up, POST, verify,
           store, signed receipt, receipt check, record). The worker's idle poll interval
           (--worker-poll) adds up to that much to each of these.
    burst  --count transfers created back to back while the worker drains the queue: end
           to end transfers/s, latency under load (mostly queueing), and the worker's
           per-transfer cycle (gap between consecutive delivered_at stamps).

Baseline in the same run, after the gateway nodes are stopped: bench/bare_app.py (bare
Flask, one POST endpoint, 202 + ~300-byte JSON) under .venv/bin/gunicorn with the SAME
options, POSTed the size of a real envelope body plus a request-token-sized Authorization
header, --count times sequentially from one httpx.Client.

Prints one JSON object per line on stdout. Run: .venv/bin/python bench/federation.py
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from gunicorn.config import KNOWN_SETTINGS

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, environment, note, percentile, r

from gateway.config import Settings
from gateway.devtools.demo import AREAS, DemoNode, free_port, setup, wait_ready
from gateway.devtools.samples import sample_transfer
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import sending
from gateway.domain.transfers.states import DELIVERED, FAILED
from gateway.node import Node, build_node
from gateway.serve import gunicorn_options
from keys import AreaSecretKeys, issue_request_token
from schemas.wire.envelope import ENVELOPES_PATH

BENCH_DIR = Path(__file__).resolve().parent
# gunicorn's start-up (imports) on a shared, loaded machine can take longer than the
# demo's 30 s.
READY_TIMEOUT = 120.0


@dataclass
class BenchNode(DemoNode):
    """A DemoNode whose delivery worker polls at the benchmark's chosen interval."""

    worker_poll: float = 0.2

    def env(self) -> dict[str, str]:
        env = super().env()
        env["GATEWAY_WORKER_POLL"] = str(self.worker_poll)
        return env


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


class SenderDb:
    """Read-only view of the sender's SQLite file: WAL readers never take the write lock,
    so polling does not compete with the worker (the app's engine begins IMMEDIATE)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)

    def rows(self, ids: set[str]) -> list[Row]:
        found = self._db.execute(
            "SELECT id, status, created_at, delivered_at, failure_reason FROM transfers "
            "WHERE direction = 'outbound'"
        ).fetchall()
        return [
            Row(i, status, _when(created), _when(delivered) if delivered else None, reason)
            for i, status, created, delivered, reason in found
            if i in ids
        ]

    def envelope_body(self) -> bytes:
        body = self._db.execute(
            "SELECT body FROM envelopes WHERE direction = 'outbound' ORDER BY pk LIMIT 1"
        ).fetchone()[0]
        return str(body).encode("ascii")

    def close(self) -> None:
        self._db.close()


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)  # stored as naive UTC by adapters.db


def wait_delivered(db: SenderDb, ids: set[str], timeout: float, poll: float) -> list[Row]:
    deadline = time.monotonic() + timeout
    while True:
        rows = db.rows(ids)
        failed = [row for row in rows if row.status == FAILED]
        if failed:
            raise RuntimeError(f"{len(failed)} transfer(s) failed: {failed[0].failure_reason}")
        if len(rows) == len(ids) and all(row.status == DELIVERED for row in rows):
            return rows
        if time.monotonic() > deadline:
            done = sum(row.status == DELIVERED for row in rows)
            raise RuntimeError(f"only {done}/{len(ids)} delivered after {timeout:.0f} s")
        time.sleep(poll)


class Sender:
    def __init__(self, node: DemoNode, to_area: str) -> None:
        self.from_area, self.to_area = node.code, to_area
        self.node: Node = build_node(Settings.from_env(node.env()))
        self.db = SenderDb(node.home / "gateway.db")
        self._count = 0

    def create(self) -> str:
        self._count += 1
        data = sample_transfer(self.from_area, self.to_area, victim=f"Ada{self._count}")
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


def run_gateway(sender: Sender, args: argparse.Namespace) -> dict[str, Any]:
    timeout = args.timeout
    note(f"gateway: {args.warmup} warm-up transfers")
    sender.paced(args.warmup, timeout)

    note(f"gateway: paced, {args.paced} transfers one at a time")
    paced = sender.paced(args.paced, timeout)
    paced_latency = [row.latency for row in paced]
    paced_load = load_1m()

    note(f"gateway: burst, {args.count} transfers")
    started = time.perf_counter()
    ids = {sender.create() for _ in range(args.count)}
    create_seconds = time.perf_counter() - started
    rows = wait_delivered(sender.db, ids, timeout + args.count, poll=0.05)
    first_created = min(row.created_at for row in rows)
    delivered = sorted(row.delivered_at for row in rows if row.delivered_at is not None)
    span = (delivered[-1] - first_created).total_seconds()
    drain = (delivered[-1] - delivered[0]).total_seconds()
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(delivered)]
    burst_latency = [row.latency for row in rows]

    return {
        "paced": {
            "transfers": len(paced),
            "latency": latency_stats(paced_latency),
            "load_1m": paced_load,
        },
        "burst": {
            "transfers": len(rows),
            "transfers_per_s": r(len(rows) / span, 2),
            "drain_per_s": r((len(rows) - 1) / drain, 2) if drain > 0 else None,
            "create_per_s": r(len(rows) / create_seconds, 2),
            "latency": latency_stats(burst_latency),
            "cycle_per_transfer": latency_stats(gaps),
            "span_s": r(span, 3),
            "load_1m": load_1m(),
        },
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


def start_bare(node: DemoNode, workers: int) -> list[str]:
    gunicorn = Path(sys.executable).parent / "gunicorn"
    command = [
        str(gunicorn),
        *gunicorn_flags(gunicorn_options("127.0.0.1", node.port, workers)),
        "--chdir",
        str(BENCH_DIR),
        "bare_app:app",
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


def run_bare(node: DemoNode, body: bytes, count: int, warmup: int) -> dict[str, Any]:
    url = node.url + ENVELOPES_PATH
    headers = {
        "Authorization": token_sized_header(body, url),
        "Content-Type": "application/json",
        "User-Agent": "marac-gateway/1",
    }
    latencies = []
    with httpx.Client(timeout=httpx.Timeout(15.0, connect=5.0)) as client:
        for index in range(warmup + count):
            started = time.perf_counter()
            response = client.post(url, content=body, headers=headers)
            answer = response.read()
            elapsed = time.perf_counter() - started
            if response.status_code != 202:
                raise RuntimeError(f"bare app answered HTTP {response.status_code}")
            if index >= warmup:
                latencies.append(elapsed)
    return {
        "requests": len(latencies),
        "requests_per_s": r(len(latencies) / sum(latencies), 2),
        "latency": latency_stats(latencies),
        "body_bytes": len(body),
        "auth_header_bytes": len(headers["Authorization"]),
        "response_bytes": len(answer),
        "load_1m": load_1m(),
    }


# --- orchestration ----------------------------------------------------------------------
@contextlib.contextmanager
def terminate_on_signals() -> Iterator[None]:
    """SIGTERM/SIGHUP raise SystemExit, so the finally blocks below stop the subprocesses."""

    def _exit(signum: int, _frame: FrameType | None) -> None:
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="burst transfers and bare POSTs")
    parser.add_argument("--paced", type=int, default=100, help="transfers sent one at a time")
    parser.add_argument("--warmup", type=int, default=10, help="excluded transfers/POSTs")
    parser.add_argument(
        "--web-workers", type=int, default=2, help="gunicorn workers (gateway and bare alike)"
    )
    parser.add_argument(
        "--worker-poll",
        type=float,
        default=0.01,
        help="delivery worker idle poll, seconds (demo uses 0.2, production default 2.0)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="per-phase delivery limit")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="marac-bench-federation-"))
    sender_node, receiver_node = (
        BenchNode(code, name, workdir / code, free_port(), worker_poll=args.worker_poll)
        for code, name in AREAS
    )
    bare = DemoNode("bare", "bare Flask", workdir / "bare", free_port())
    nodes = (sender_node, receiver_node, bare)
    for node in nodes:
        node.home.mkdir(parents=True)
    sender: Sender | None = None
    try:
        with terminate_on_signals():
            with contextlib.redirect_stdout(sys.stderr):  # setup() narrates, as in the demo
                setup((sender_node, receiver_node))
            for node in (sender_node, receiver_node):
                node.start(
                    "serve",
                    "--port",
                    str(node.port),
                    "--workers",
                    str(args.web_workers),
                    log_name="web.log",
                )
            sender_node.start("worker", log_name="worker.log")
            for node in (sender_node, receiver_node):
                wait_ready(node, READY_TIMEOUT)
            sender = Sender(sender_node, receiver_node.code)
            gateway = run_gateway(sender, args)
            body = sender.db.envelope_body()
            sender.close()
            sender = None
            stop_all((sender_node, receiver_node))  # a quiet machine for the baseline

            note(f"bare: {args.warmup} warm-up + {args.count} sequential POSTs")
            start_bare(bare, args.web_workers)
            wait_ready(bare, READY_TIMEOUT)
            baseline = run_bare(bare, body, args.count, args.warmup)
            stop_all((bare,))
            emit_results(args, gateway, baseline, time.perf_counter() - started)
        return 0
    except (RuntimeError, OSError) as exc:
        note(f"federation bench failed: {exc} (logs in {workdir}; rerun with --keep)")
        return 1
    finally:
        if sender is not None:
            with contextlib.suppress(Exception):
                sender.close()
        stop_all(nodes)
        if args.keep:
            note(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def emit_results(
    args: argparse.Namespace, gateway: dict[str, Any], bare: dict[str, Any], seconds: float
) -> None:
    options = gunicorn_options("127.0.0.1", 0, args.web_workers)
    common = {
        "gunicorn": {k: options[k] for k in ("workers", "worker_class", "threads")},
        "delivery_workers": 1,
        "worker_poll_s": args.worker_poll,
    }
    paced, burst = gateway["paced"], gateway["burst"]
    emit({"bench": "federation", "phase": "gateway_paced", **paced, **common})
    emit({"bench": "federation", "phase": "gateway_burst", **burst, **common})
    emit({"bench": "federation", "phase": "bare_post", **bare, **common})
    bare_p50 = bare["latency"]["p50_ms"]
    emit(
        {
            "bench": "federation",
            "kind": "summary",
            # The headline: unloaded per-transfer create-to-receipt vs one bare POST.
            "ratio": r(paced["latency"]["p50_ms"] / bare_p50, 2),
            "ratio_p99": r(paced["latency"]["p99_ms"] / bare["latency"]["p99_ms"], 2),
            # The worker's per-transfer cycle under load vs one bare POST.
            "ratio_cycle_p50": r(burst["cycle_per_transfer"]["p50_ms"] / bare_p50, 2),
            # Create-to-receipt under a burst (dominated by queueing) vs one bare POST.
            "ratio_burst_latency_p50": r(burst["latency"]["p50_ms"] / bare_p50, 2),
            "bare_rps_per_gateway_tps": r(bare["requests_per_s"] / burst["transfers_per_s"], 2),
            "seconds": r(seconds, 1),
            **environment(),
        }
    )


if __name__ == "__main__":
    sys.exit(main())

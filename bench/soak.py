"""Soak: two real nodes on PostgreSQL under gunicorn, a steady load at half the peak rate
for a long time (default 30 minutes): does anything fail, and does memory stay flat?

Two nodes are set up with gateway.devtools.demo's machinery (db upgrade, area create,
bundle exchange with fingerprints), each on a PostgreSQL database this script creates (and
drops afterwards) through --database-url, an admin URL. Each node runs `marac-gateway
serve` (gunicorn, --web-workers workers) and the sender runs ONE delivery `worker`.

Load, all over HTTP: an API client of the sending area (client credentials, as a
case-management system) POSTs transfers to /api/v1/transfers at a fixed rate, and a
second thread reads the area's transfer list (GET /api/v1/transfers) once a second.
Every answer of 500 or more is counted, as is any request that fails outright.

The rate: --rate transfers/s if given, else half the peak measured first: --peak-count
transfers POSTed as fast as two threads can, and the peak is how many of them per second
the pair created AND delivered (first created to last delivered, from the sender's own
timestamps). Latency is create-to-receipt: transfers.delivered_at - created_at on the
sender (the receipt is checked and recorded in that same transaction).

Prints one JSON object per line on stdout: the peak, a "tick" every --tick seconds
(sent, delivered, backlog, 5xx, failures, p50/p99 create-to-receipt in the window and
overall, load), the RSS of every process (gunicorn masters and workers, the delivery
worker) at the start, the middle and the end, and a summary. Run (2 minutes):

    .venv/bin/python bench/soak.py --duration 120

The full soak is the default --duration 1800.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PgDatabases, emit, environment, note, on_schedule, percentile, pg_admin_url, r
from federation import load_1m, stop_all, terminate_on_signals

from adapters.db.session import normalise_url
from gateway.devtools.demo import AREAS, DemoNode, free_port, setup, wait_ready
from gateway.devtools.samples import sample_transfer

SCOPE = "transfers:read transfers:write"


@dataclass
class SoakNode(DemoNode):
    """A DemoNode on its own PostgreSQL database."""

    database_url: str = ""
    worker_poll: float = 0.05

    def env(self) -> dict[str, str]:
        # One secret for every process of the node (DemoNode draws a fresh one per call).
        self.settings.setdefault("GATEWAY_SECRET_KEY", secrets.token_urlsafe(48))
        env = super().env()
        env["GATEWAY_DATABASE_URL"] = self.database_url
        env["GATEWAY_WORKER_POLL"] = str(self.worker_poll)
        return env


# --- databases --------------------------------------------------------------------------
class SenderDb:
    """The sender's transfers, read over their own connection (reads never block the
    worker's writes on PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(normalise_url(url), pool_size=1)

    def times(self, ids: set[str]) -> dict[str, tuple[datetime, datetime | None, str]]:
        with self.engine.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT id, created_at, delivered_at, status FROM transfers "
                    "WHERE direction = 'outbound'"
                )
            )
            return {
                str(i): (created, delivered, str(status))
                for i, created, delivered, status in found
                if str(i) in ids
            }

    def close(self) -> None:
        self.engine.dispose()


# --- load -------------------------------------------------------------------------------
@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: list[str] = field(default_factory=list)
    server_errors: int = 0
    failures: int = 0  # no answer at all (connection refused, timeout)
    failure_kinds: dict[str, int] = field(default_factory=dict)  # by exception class
    other: int = 0  # 4xx that should not happen (each one is reported)
    reads: int = 0

    def answer(self, response: httpx.Response | Exception, created: bool = False) -> None:
        with self.lock:
            if isinstance(response, Exception):
                self.failures += 1
                kind = type(response).__name__
                self.failure_kinds[kind] = self.failure_kinds.get(kind, 0) + 1
            elif response.status_code >= 500:
                self.server_errors += 1
            elif created and response.status_code == 201:
                self.sent.append(str(response.json()["id"]))
            elif response.status_code >= 400:
                self.other += 1
                note(f"unexpected HTTP {response.status_code}: {response.text[:200]}")
            else:
                self.reads += 1


class Api:
    """An API client of the sending area, as a case-management system uses the API."""

    def __init__(self, node: SoakNode, to_area: str) -> None:
        made = node.run("client", "create", "soak", "--area", node.code, "--scope", SCOPE)
        self.credentials = json.loads(made)
        self.node, self.to_area = node, to_area
        self.http = httpx.Client(base_url=node.url, timeout=httpx.Timeout(30.0, connect=5.0))
        self.token = ""
        self.token_lock = threading.Lock()
        self.count = 0
        self.refresh()

    def refresh(self) -> None:
        answer = self.http.post(
            "/api/v1/oauth/token",
            data={"grant_type": "client_credentials", "scope": SCOPE},
            auth=(self.credentials["client_id"], self.credentials["client_secret"]),
        )
        answer.raise_for_status()
        with self.token_lock:
            self.token = str(answer.json()["access_token"])

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response | Exception:
        for _ in range(2):
            headers = {"Authorization": f"Bearer {self.token}"}
            try:
                answer = self.http.request(method, path, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                return exc
            if answer.status_code != 401:
                return answer
            self.refresh()  # the access token expired
        return answer

    def send(self, tally: Tally) -> None:
        with self.token_lock:
            self.count += 1
            number = self.count
        body = sample_transfer(self.node.code, self.to_area, victim=f"Soak{number}")
        tally.answer(self.request("POST", "/api/v1/transfers", json=body), created=True)

    def read(self, tally: Tally) -> None:
        tally.answer(self.request("GET", "/api/v1/transfers", params={"limit": 20}))

    def close(self) -> None:
        self.http.close()


def paced(api: Api, tally: Tally, rate: float, seconds: float, stop: threading.Event) -> None:
    """Send at `rate` per second for `seconds`, on a schedule that does not drift: two
    senders so one slow answer does not hold the next transfer back."""
    on_schedule(lambda _number, _late: api.send(tally), rate, int(rate * seconds), stop)


def reader(api: Api, tally: Tally, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        api.read(tally)


# --- processes --------------------------------------------------------------------------
def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return r(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def memory(nodes: tuple[SoakNode, SoakNode]) -> dict[str, float | None]:
    """RSS of each process: each node's gunicorn master and workers, the worker."""
    found: dict[str, float | None] = {}
    for node in nodes:
        for process in node.processes:
            verb = "web" if "serve" in process.args else "worker"  # type: ignore[operator]
            found[f"{node.code}.{verb}"] = rss_mb(process.pid)
            for number, child in enumerate(sorted(children(process.pid))):
                found[f"{node.code}.{verb}.{number}"] = rss_mb(child)
    return found


# --- measuring --------------------------------------------------------------------------
def latencies(times: dict[str, tuple[datetime, datetime | None, str]]) -> list[float]:
    return [
        (delivered - created).total_seconds()
        for created, delivered, _ in times.values()
        if delivered is not None
    ]


def stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": r(percentile(values, 50) * 1e3, 1),
        "p99_ms": r(percentile(values, 99) * 1e3, 1),
        "max_ms": r(max(values) * 1e3, 1),
    }


def measure_peak(api: Api, db: SenderDb, count: int, timeout: float) -> dict[str, Any]:
    tally = Tally()

    def burst() -> None:
        for _ in range(count // 2):
            api.send(tally)

    threads = [threading.Thread(target=burst, daemon=True) for _ in range(2)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    posted = time.monotonic() - began
    ids = set(tally.sent)
    deadline = time.monotonic() + timeout
    times = db.times(ids)
    while sum(d is not None for _, d, _ in times.values()) < len(ids):
        if time.monotonic() > deadline:
            raise RuntimeError("the peak burst was not delivered in time")
        time.sleep(0.2)
        times = db.times(ids)
    first = min(c for c, _, _ in times.values())
    last = max(d for _, d, _ in times.values() if d is not None)
    span = (last - first).total_seconds()
    return {
        "transfers": len(ids),
        "post_per_s": r(len(ids) / posted, 2),
        "transfers_per_s": r(len(ids) / span, 2),
        "server_errors": tally.server_errors,
        "failures": tally.failures,
        "latency": stats(latencies(times)),
        "load_1m": load_1m(),
    }


def soak(
    nodes: tuple[SoakNode, SoakNode], api: Api, db: SenderDb, args: argparse.Namespace
) -> dict[str, Any]:
    tally = Tally()
    stop = threading.Event()
    load = threading.Thread(
        target=paced, args=(api, tally, args.rate, args.duration, stop), daemon=True
    )
    reads = threading.Thread(target=reader, args=(api, tally, stop), daemon=True)
    began = time.monotonic()
    emit({"bench": "soak", "kind": "rss", "at": "start", "mb": memory(nodes)})
    load.start()
    reads.start()
    middle_done = False
    seen: dict[str, tuple[datetime, datetime | None, str]] = {}
    counted: set[str] = set()  # delivered by the previous tick
    while load.is_alive():
        load.join(timeout=args.tick)
        elapsed = time.monotonic() - began
        if not middle_done and elapsed >= args.duration / 2:
            emit({"bench": "soak", "kind": "rss", "at": "middle", "mb": memory(nodes)})
            middle_done = True
        with tally.lock:
            ids = list(tally.sent)
        seen = db.times(set(ids))
        # The window: the transfers delivered since the previous tick.
        window = {i: t for i, t in seen.items() if t[1] is not None and i not in counted}
        counted.update(window)
        emit(tick(tally, seen, window, elapsed))
    # The last transfers: give the worker time to deliver them, then the final figures.
    deadline = time.monotonic() + args.timeout
    ids = list(tally.sent)
    while time.monotonic() < deadline:
        seen = db.times(set(ids))
        if all(delivered is not None for _, delivered, _ in seen.values()):
            break
        time.sleep(0.5)
    stop.set()
    reads.join(timeout=10)
    emit({"bench": "soak", "kind": "rss", "at": "end", "mb": memory(nodes)})
    everything = latencies(seen)
    statuses: dict[str, int] = {}
    for _, _, status in seen.values():
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "seconds": r(time.monotonic() - began, 1),
        "rate_per_s": args.rate,
        "sent": len(ids),
        "delivered": statuses.get("delivered", 0),
        "statuses": statuses,
        "server_errors": tally.server_errors,
        "failures": tally.failures,
        "failure_kinds": tally.failure_kinds,
        "unexpected_4xx": tally.other,
        "reads": tally.reads,
        "latency": stats(everything),
    }


def tick(
    tally: Tally,
    seen: dict[str, tuple[datetime, datetime | None, str]],
    window: dict[str, tuple[datetime, datetime | None, str]],
    elapsed: float,
) -> dict[str, Any]:
    delivered = sum(d is not None for _, d, _ in seen.values())
    return {
        "bench": "soak",
        "kind": "tick",
        "elapsed_s": r(elapsed, 1),
        "sent": len(seen),
        "delivered": delivered,
        "backlog": len(seen) - delivered,
        "server_errors": tally.server_errors,
        "failures": tally.failures,
        "reads": tally.reads,
        "window": stats(latencies(window)),
        "overall": stats(latencies(seen)),
        "load_1m": load_1m(),
    }


# --- orchestration ----------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=1800.0, help="seconds of load")
    parser.add_argument("--rate", type=float, help="transfers/s (default: half the peak)")
    parser.add_argument("--peak-count", type=int, default=200, help="transfers in the peak burst")
    parser.add_argument("--tick", type=float, default=60.0, help="seconds between tick lines")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers per node")
    parser.add_argument("--worker-poll", type=float, default=0.05, help="delivery worker poll, s")
    parser.add_argument("--timeout", type=float, default=120.0, help="final delivery limit, s")
    parser.add_argument(
        "--database-url",
        default=pg_admin_url(),
        help="PostgreSQL admin URL; two databases are created there and dropped after",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    return parser.parse_args(argv)


@contextlib.contextmanager
def running(nodes: tuple[SoakNode, SoakNode], web_workers: int) -> Iterator[None]:
    try:
        for node in nodes:
            node.start(
                "serve",
                "--port",
                str(node.port),
                "--workers",
                str(web_workers),
                log_name="web.log",
            )
        nodes[0].start("worker", log_name="worker.log")
        for node in nodes:
            wait_ready(node, timeout=180.0)  # a shared machine can be slow to start
        yield
    finally:
        stop_all(nodes)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="marac-bench-soak-"))
    databases = PgDatabases(args.database_url, "marac_soak")
    sender_node, receiver_node = (
        SoakNode(
            code,
            name,
            workdir / code,
            free_port(),
            database_url=databases.new(code),
            worker_poll=args.worker_poll,
        )
        for code, name in AREAS
    )
    nodes = (sender_node, receiver_node)
    for node in nodes:
        node.home.mkdir(parents=True)
    api: Api | None = None
    db: SenderDb | None = None
    try:
        with terminate_on_signals():
            with contextlib.redirect_stdout(sys.stderr):
                setup(nodes)
            with running(nodes, args.web_workers):
                api = Api(sender_node, receiver_node.code)
                db = SenderDb(sender_node.database_url)
                if args.rate is None:
                    note(f"soak: peak, {args.peak_count} transfers as fast as they go")
                    peak = measure_peak(api, db, args.peak_count, args.timeout)
                    emit({"bench": "soak", "kind": "peak", **peak})
                    args.rate = r(peak["transfers_per_s"] / 2, 2)
                note(f"soak: {args.rate} transfers/s for {args.duration:.0f} s")
                result = soak(nodes, api, db, args)
                emit(
                    {
                        "bench": "soak",
                        "kind": "summary",
                        **result,
                        "web_workers": args.web_workers,
                        "delivery_workers": 1,
                        "backend": make_url(args.database_url).get_backend_name(),
                        **environment(),
                    }
                )
        return 0
    except (RuntimeError, OSError, httpx.HTTPError) as exc:
        note(f"soak bench failed: {exc} (logs in {workdir}; rerun with --keep)")
        return 1
    finally:
        if api is not None:
            api.close()
        if db is not None:
            db.close()
        stop_all(nodes)
        databases.close()
        if args.keep:
            note(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

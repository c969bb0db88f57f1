"""Helpers shared by the benchmark scripts (not product code, not tests)."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any


def emit(record: dict[str, Any]) -> None:
    """One JSON object per line on stdout; everything human-readable goes to stderr."""
    print(json.dumps(record, sort_keys=False), flush=True)


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def r(value: float, digits: int = 3) -> float:
    return round(value, digits)


# --- PostgreSQL databases made for one run ----------------------------------------------
PG_ADMIN_ENVS = ("GATEWAY_BENCH_DATABASE_URL", "GATEWAY_TEST_DATABASE_URL")
DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_admin_url() -> str:
    """The admin URL a bench makes its databases through: the environment's, else the
    local server the test suite uses."""
    for name in PG_ADMIN_ENVS:
        if os.environ.get(name):
            return os.environ[name]
    return DEFAULT_PG_ADMIN_URL


class PgDatabases:
    """Fresh databases on the admin URL's server, made through an AUTOCOMMIT connection and
    all dropped (WITH FORCE, so a node still connected does not keep one) by drop_all()."""

    def __init__(self, admin_url: str, prefix: str) -> None:
        from sqlalchemy import create_engine  # only the benches that use PostgreSQL need it

        from adapters.db.session import normalise_url

        self.admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
        self.base = normalise_url(admin_url).rsplit("/", 1)[0]
        self.prefix = prefix
        self.created: list[str] = []

    def new(self, name: str) -> str:
        from sqlalchemy import text

        database = f"{self.prefix}_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{database}"'))
        self.created.append(database)
        return f"{self.base}/{database}"

    def drop_all(self) -> None:
        from sqlalchemy import text

        with self.admin.connect() as connection:
            for database in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        self.created.clear()

    def close(self) -> None:
        self.drop_all()
        self.admin.dispose()


# --- a fixed schedule -------------------------------------------------------------------
def on_schedule(
    action: Callable[[int, float], None],
    rate: float,
    total: int,
    stop: threading.Event,
    threads: int = 2,
) -> None:
    """Call action(number, late_s) for number 0..total-1 at `rate` per second on a schedule
    that does not drift and does not wait for earlier calls to finish (open loop); several
    threads, so one slow call does not hold the next one back. late_s: how far behind its
    slot the call started (the caller's own lag, to report)."""
    began = time.monotonic()
    numbers = iter(range(total))
    lock = threading.Lock()

    def run() -> None:
        while not stop.is_set():
            with lock:
                number = next(numbers, None)
            if number is None:
                return
            slot = began + number / rate
            wait = slot - time.monotonic()
            if wait > 0 and stop.wait(wait):
                return
            action(number, max(0.0, time.monotonic() - slot))

    workers = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


# --- the machine's CPU over a window ----------------------------------------------------
class CpuSampler:
    """The machine's CPU time, all processes, read from /proc/stat every `every` seconds
    on a thread of its own, so a window chosen afterwards (a burst's first to last receipt)
    can be cut out of it. Linux only: elsewhere `window` answers None. Machine-wide on
    purpose: the pair's processes, PostgreSQL and this one all share the cores."""

    STAT = "/proc/stat"

    def __init__(self, every: float = 0.1) -> None:
        self.every = every
        self.samples: list[tuple[float, float, float]] = []  # (epoch s, busy s, all s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __enter__(self) -> CpuSampler:
        if os.path.exists(self.STAT):
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while True:
            self.samples.append(self._read())
            if self._stop.wait(self.every):
                self.samples.append(self._read())
                return

    def _read(self) -> tuple[float, float, float]:
        with open(self.STAT) as stat:
            ticks = [int(value) for value in stat.readline().split()[1:]]
        idle = ticks[3] + ticks[4]  # idle and iowait
        return time.time(), (sum(ticks) - idle) / self._tick, sum(ticks) / self._tick

    def window(self, start: float, end: float) -> tuple[float, float] | None:
        """(cores busy on average, share of all cores busy) between the first and last
        samples inside [start, end] (epoch seconds); None without two samples there."""
        inside = [sample for sample in self.samples if start <= sample[0] <= end]
        if len(inside) < 2 or inside[-1][2] <= inside[0][2]:
            return None
        (when0, busy0, all0), (when1, busy1, all1) = inside[0], inside[-1]
        return (busy1 - busy0) / (when1 - when0), (busy1 - busy0) / (all1 - all0)

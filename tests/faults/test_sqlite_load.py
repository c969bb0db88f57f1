"""A SQLite node under concurrent API load: real gunicorn (`marac-gateway serve`, 3
workers, each with its threads) takes transfers POSTed by several clients at once and
answers their list reads in between, while a real delivery worker writes to the same file
delivering them to a peer. No request answers a 5xx, and "database is locked" appears in
no log: WAL, the busy timeout and BEGIN IMMEDIATE for writers (adapters/db/session.py)
queue the writers instead of failing them."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.nodes import Pair
from support.served import (
    Gunicorn,
    Workers,
    delivered,
    stop_in_process_server,
    tally,
    wait_until,
)

from gateway.devtools.samples import sample_transfer
from gateway.domain.clock import utcnow
from gateway.domain.identity import clients

pytestmark = [
    pytest.mark.slow,
    # Bounded by the limits below; this is for a badly overloaded machine.
    pytest.mark.timeout(900),
    pytest.mark.parametrize("backend", ["sqlite"], indirect=True),
]
WRITERS, READERS = 6, 3
POSTS_EACH = 40  # 240 transfers
WEB_WORKERS = 3
SCOPES = "transfers:read transfers:write"


@pytest.fixture
def served(pair: Pair, tmp_path: Path) -> Iterator[tuple[Gunicorn, Workers]]:
    stop_in_process_server(pair.north)
    web = Gunicorn(pair.north, WEB_WORKERS, tmp_path)
    workers = Workers(pair.north, tmp_path, GATEWAY_WORKER_POLL="0.05")
    try:
        yield web, workers
    finally:
        workers.stop()
        web.stop()


def access_token(pair: Pair) -> str:
    with pair.north.node.sessions() as session:
        client, secret = clients.create_client(
            session,
            pair.north.node.master,
            name="cms",
            area="northshire",
            scopes=SCOPES,
            now=utcnow(),
        )
    answer = httpx.post(
        pair.north.url + "/api/v1/oauth/token",
        data={"grant_type": "client_credentials", "scope": SCOPES},
        auth=(client.id, secret),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_concurrent_posts_and_reads_on_sqlite_never_lock_or_5xx(
    pair: Pair, served: tuple[Gunicorn, Workers]
) -> None:
    web, workers = served
    web.start()
    assert web.wait_for_workers()
    workers.start()
    # The worker is at work (it has delivered a first transfer) before the load begins.
    pair.send()
    assert wait_until(lambda: delivered(pair.north) == 1, 180), workers.log_text()
    headers = {"Authorization": "Bearer " + access_token(pair)}
    statuses: Counter[int] = Counter()
    problems: list[str] = []
    lock = threading.Lock()
    writing = threading.Event()
    writing.set()

    def record(answer: httpx.Response | Exception) -> None:
        with lock:
            if isinstance(answer, Exception):
                problems.append(repr(answer))
                return
            statuses[answer.status_code] += 1
            if answer.status_code >= 500 or answer.status_code == 429:
                problems.append(f"{answer.status_code} {answer.text[:300]}")

    def writer(number: int) -> None:
        with httpx.Client(base_url=pair.north.url, headers=headers, timeout=60) as http:
            for index in range(POSTS_EACH):
                body = sample_transfer("northshire", "south-vale", victim=f"W{number}x{index}")
                try:
                    record(http.post("/api/v1/transfers", json=body))
                except httpx.HTTPError as exc:
                    record(exc)

    def reader() -> None:
        with httpx.Client(base_url=pair.north.url, headers=headers, timeout=60) as http:
            while writing.is_set():
                try:
                    record(http.get("/api/v1/transfers", params={"limit": 50}))
                except httpx.HTTPError as exc:
                    record(exc)

    began = time.monotonic()
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    readers = [threading.Thread(target=reader) for _ in range(READERS)]
    for thread in (*writers, *readers):
        thread.start()
    for thread in writers:
        thread.join(timeout=240)
    writing.clear()
    for thread in readers:
        thread.join(timeout=60)
    load = time.monotonic() - began
    total = WRITERS * POSTS_EACH
    # The worker wrote beside the API throughout; finishing its deliveries is the other
    # fault tests' subject, so it stops here.
    assert not workers.exited(), workers.log_text()[-3000:]
    codes = workers.stop()
    logs = web.log_text() + workers.log_text()
    counts = tally(pair)
    print(
        f"\n{WRITERS} writers x {POSTS_EACH} POSTs and {READERS} readers against "
        f"{WEB_WORKERS} gunicorn workers on SQLite in {load:.1f} s "
        f"({sum(statuses.values()) / load:.1f} requests/s): {dict(statuses)}; "
        f"{counts}; wall {time.monotonic() - began:.1f} s"
    )
    assert not problems, problems[:5]
    assert statuses[201] == total
    assert set(statuses) == {200, 201}, statuses
    assert statuses[200] >= READERS  # the reads really ran beside the writes
    assert "database is locked" not in logs
    assert "Traceback" not in logs
    assert codes == [0]
    # One transfer per 201, each queued once; what was delivered meanwhile arrived once.
    assert counts["sent"] == pair.north.count("outbox") == total + 1
    assert counts["delivered_at_sender"] > 1
    assert counts["duplicated"] == counts["strangers"] == 0, counts
    assert counts["arrived"] >= counts["delivered_at_sender"], counts

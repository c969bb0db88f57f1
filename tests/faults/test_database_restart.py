"""PostgreSQL "restarted" twice in the middle of a batch, fast and then immediate, while
the sender's real gunicorn and delivery worker run on: deliveries resume within 30 s of
the database's return without restarting anything, the API answers 503 (never 500) while
it is away, and every transfer is delivered exactly once.

The shared PostgreSQL server cannot really be restarted (other tests and sessions use
it), so both nodes reach it through a TCP proxy (support/pg_proxy.py) that refuses new
connections for the restart window and ends the open ones: by terminating their backends
for a fast restart (each client is told "terminating connection due to administrator
command", as in a fast shutdown), by resetting them for an immediate one."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text
from support.nodes import Databases, Pair, RunningNode, pg_admin_url
from support.pg_proxy import PgProxy
from support.served import (
    Gunicorn,
    Workers,
    exactly_once,
    send_many,
    stop_in_process_server,
    tally,
    wait_until,
)

from gateway.domain.clock import utcnow
from gateway.domain.identity import clients

pytestmark = [
    pytest.mark.slow,
    # Bounded by the limits below; this is for a badly overloaded machine.
    pytest.mark.timeout(900),
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]
BATCH = 200
WINDOW = 5.0  # seconds the database is away
RESUME_LIMIT = 30.0
WORKER_ENV = {
    "GATEWAY_WORKER_POLL": "0.05",
    "GATEWAY_DELIVERY_BACKOFF": "0.05",
    "GATEWAY_DELIVERY_BACKOFF_CAP": "0.5",
    "GATEWAY_DELIVERY_LEASE": "5",
    "GATEWAY_PEER_TIMEOUT": "3",
}
SCOPES = "transfers:read"


@pytest.fixture
def proxy() -> Iterator[PgProxy]:
    found = PgProxy(pg_admin_url() or "")
    yield found
    found.close()


@pytest.fixture
def pair(node_factory: Callable[..., RunningNode], databases: Databases, proxy: PgProxy) -> Pair:
    """Two nodes whose databases (created on the real server) they reach by the proxy."""
    north, south = (
        node_factory(name, GATEWAY_DATABASE_URL=proxy.url(databases.new(name)))
        for name in ("north", "south")
    )
    north.create_area("northshire")
    south.create_area("south-vale")
    south.import_peer(north.bundle("northshire"))
    north.import_peer(south.bundle("south-vale"))
    return Pair(north, south)


class Direct:
    """Counts read straight from the real server, not through the proxy, so the test can
    watch while the nodes' database is away."""

    def __init__(self, node: RunningNode) -> None:
        admin = make_url(pg_admin_url() or "")
        url = make_url(node.settings.database_url).set(host=admin.host, port=admin.port)
        self.engine = create_engine(url)
        self.name = str(url.database)

    def delivered(self, since: Any = None) -> int:
        sql = "SELECT count(*) FROM transfers WHERE direction='outbound' AND status='delivered'"
        with self.engine.connect() as connection:
            if since is None:
                return int(connection.execute(text(sql)).scalar_one())
            return int(
                connection.execute(
                    text(sql + " AND delivered_at > :since"), {"since": since}
                ).scalar_one()
            )


def bearer(node: RunningNode) -> dict[str, str]:
    with node.node.sessions() as session:
        client, secret = clients.create_client(
            session, node.node.master, name="cms", area="northshire", scopes=SCOPES, now=utcnow()
        )
    answer = httpx.post(
        node.url + "/api/v1/oauth/token",
        data={"grant_type": "client_credentials", "scope": SCOPES},
        auth=(client.id, secret),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": "Bearer " + answer.json()["access_token"]}


def test_deliveries_resume_after_fast_and_immediate_restarts(
    pair: Pair, proxy: PgProxy, tmp_path: Path
) -> None:
    began = time.monotonic()
    north = Direct(pair.north)
    south_name = str(make_url(pair.south.settings.database_url).database)
    stop_in_process_server(pair.north)
    web = Gunicorn(pair.north, 2, tmp_path)
    workers = Workers(pair.north, tmp_path, **WORKER_ENV)
    answers: Counter[int] = Counter()
    report = []
    try:
        send_many(pair, BATCH)
        web.start()
        headers = bearer(pair.north)
        workers.start()
        for mode, after in (("fast", BATCH // 5), ("immediate", BATCH // 2)):
            assert wait_until(lambda after=after: north.delivered() >= after, 120, 0.1)
            at_cut = north.delivered()
            proxy.down(immediate=mode == "immediate", databases=[north.name, south_name])
            cut = time.monotonic()
            with httpx.Client(base_url=pair.north.url, headers=headers, timeout=30) as http:
                while time.monotonic() - cut < WINDOW:
                    answer = http.get("/api/v1/transfers")
                    answers[answer.status_code] += 1
                    if answer.status_code == 503:
                        assert answer.headers["Retry-After"].isdigit()
                    time.sleep(0.2)  # a client polling the API meanwhile
            proxy.up()
            back, back_at = time.monotonic(), utcnow()
            resumed = wait_until(lambda back_at=back_at: north.delivered(back_at) > 0, 60, 0.05)
            resume = time.monotonic() - back
            report.append(f"{mode}: {at_cut} delivered at the cut, resumed {resume:.1f} s after")
            assert resumed, workers.log_text()[-3000:]
            assert resume <= RESUME_LIMIT, resume
            assert not workers.exited() and web.alive(), workers.log_text()[-3000:]
        done = wait_until(lambda: north.delivered() == BATCH, 180, 0.2)
        assert not workers.exited(), workers.log_text()[-3000:]
        codes = workers.stop()
        assert web.alive(), web.log_text()[-3000:]
        counts = tally(pair)
    finally:
        workers.stop()
        web.stop()
        north.engine.dispose()
    print(
        f"\n{'; '.join(report)}; API during the windows: {dict(answers)}; {counts}; "
        f"wall {time.monotonic() - began:.1f} s"
    )
    assert done and codes == [0]
    assert counts == exactly_once(BATCH)
    # While the database was away the API said so, and never with a 500.
    assert answers[503] > 0 and set(answers) <= {200, 503}, answers
    logs = workers.log_text()
    assert "database unavailable" in logs and "database reachable again" in logs
    assert "Traceback" not in logs

"""A PostgreSQL outage, made real on a database the test creates: every connection to it
is terminated (pg_terminate_backend) and new ones refused for a while. The API answers 503
with Retry-After meanwhile, and a running delivery worker logs, backs off and delivers
again once the database is back, without being restarted."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from support.nodes import Pair, RunningNode, pg_admin_url
from support.site import A

from adapters.db.session import normalise_url
from gateway.domain.clock import utcnow
from gateway.domain.identity import clients

WORKER = [sys.executable, "-m", "gateway.cli", "worker"]
pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@contextlib.contextmanager
def outage(node: RunningNode) -> Iterator[None]:
    """Refuse new connections to the node's database and end the open ones; undo on exit."""
    database = node.settings.database_url.rsplit("/", 1)[1]
    admin = create_engine(normalise_url(pg_admin_url() or ""), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": database},
            )
        yield
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
        admin.dispose()


def bearer(node: RunningNode) -> dict[str, str]:
    with node.node.sessions() as session:
        client, secret = clients.create_client(
            session, node.node.master, name="cms", area=A, scopes="transfers:read", now=utcnow()
        )
    answer = node.app.test_client().post(
        "/api/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(client.id, secret)
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": "Bearer " + answer.json["access_token"]}


def test_the_api_answers_503_with_retry_after_while_the_database_is_down(
    node_factory: Any,
) -> None:
    node = node_factory("north")
    node.create_area(A)
    headers = bearer(node)
    http = node.app.test_client()
    assert http.get("/api/v1/transfers", headers=headers).status_code == 200
    with outage(node):
        for path in ("/api/v1/transfers", "/readyz"):
            answer = http.get(path, headers=headers)
            assert answer.status_code == 503, (path, answer.text)
        answer = http.get("/api/v1/transfers", headers=headers)
        assert answer.headers["Retry-After"].isdigit()
        assert answer.mimetype == "application/problem+json"
    assert http.get("/api/v1/transfers", headers=headers).status_code == 200


def delivered(node: RunningNode) -> int:
    return int(
        node.scalar(
            "SELECT count(*) FROM transfers WHERE direction='outbound' AND status='delivered'"
        )
    )


def wait_for(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if condition():
                return True
        time.sleep(0.2)
    return False


def test_the_worker_survives_a_database_outage(pair: Pair, tmp_path: Path) -> None:
    env = {
        **pair.north.env,
        "GATEWAY_WORKER_POLL": "0.1",
        "GATEWAY_DELIVERY_BACKOFF": "0.05",
        "GATEWAY_DELIVERY_BACKOFF_CAP": "0.2",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(WORKER, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        pair.send()
        assert wait_for(lambda: delivered(pair.north) == 1, 60), log.read_text()
        with outage(pair.north):
            time.sleep(3)
            assert worker.poll() is None, log.read_text()
        pair.send()
        started = time.monotonic()
        assert wait_for(lambda: delivered(pair.north) == 2, 60), log.read_text()
        print(f"delivery resumed {time.monotonic() - started:.1f} s after the database returned")
        assert worker.poll() is None, log.read_text()
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    text_log = log.read_text()
    assert "database unavailable" in text_log, text_log
    assert "Traceback" not in text_log, text_log
    assert pair.south.count("envelopes") == 2

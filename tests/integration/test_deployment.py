"""Running behind a reverse proxy, and a 500 an operator can find: the client address
from X-Forwarded-For only with GATEWAY_TRUSTED_PROXIES, and a scrubbed traceback keyed by
the request id the caller is given."""

from __future__ import annotations

import io
import json
import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import request
from support.clock import pin_clock
from support.nodes import Databases, start_node
from support.site import csrf_from

from gateway.app import create_app
from gateway.config import Settings
from gateway.devtools.samples import sample_transfer
from gateway.logs import JsonFormatter
from gateway.node import build_node


def wrong_password(http: Any, client: str, email: str) -> int:
    forwarded = {"X-Forwarded-For": client, "X-Forwarded-Proto": "https"}
    page = http.get("/login", headers=forwarded)
    answer = http.post(
        "/login",
        headers=forwarded,
        data={"email": email, "password": "not the password", "csrf_token": csrf_from(page.text)},
    )
    return int(answer.status_code)


def test_a_forwarded_client_is_limited_alone_behind_a_trusted_proxy(
    node_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = node_factory("north", GATEWAY_TRUSTED_PROXIES="1", GATEWAY_LOGIN_RATE_LIMIT="3/minute")
    node.create_area("northshire")
    pin_clock(monkeypatch)  # all four attempts in one minute's window
    first, second = node.app.test_client(), node.app.test_client()
    assert [wrong_password(first, "203.0.113.5", f"a{n}@x.example") for n in range(4)] == [
        401,
        401,
        401,
        429,
    ]
    # Another client behind the same proxy is not locked out by the first one's failures.
    assert wrong_password(second, "203.0.113.9", "b@x.example") == 401


def test_forwarded_headers_are_ignored_without_trusted_proxies(
    node_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = node_factory("north", GATEWAY_LOGIN_RATE_LIMIT="3/minute")
    node.create_area("northshire")
    pin_clock(monkeypatch)  # all four attempts in one minute's window
    http = node.app.test_client()
    for n in range(3):
        assert wrong_password(http, f"198.51.100.{n}", f"a{n}@x.example") == 401
    # Anyone can send X-Forwarded-For: without a trusted proxy it changes nothing.
    assert wrong_password(http, "198.51.100.77", "b@x.example") == 429


def test_a_500_gives_the_request_id_and_logs_a_scrubbed_traceback(node_factory: Any) -> None:
    node = node_factory("north")
    app = node.app

    @app.before_request
    def _fail() -> None:
        if request.headers.get("X-Fail-With"):
            secret_local = request.headers["X-Fail-With"]
            raise RuntimeError(f"value {secret_local}")

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("gateway.web").addHandler(handler)
    try:
        http = app.test_client()
        answer = http.get(
            "/healthz",
            headers={"X-Fail-With": "jane.doe@example.org", "X-Request-ID": "req-500-0001"},
        )
        page = http.get("/login", headers={"X-Fail-With": "jane.doe@example.org"})
    finally:
        logging.getLogger("gateway.web").removeHandler(handler)
    assert answer.status_code == 500
    assert answer.json["request_id"] == "req-500-0001" == answer.headers["X-Request-ID"]
    assert page.status_code == 500 and page.headers["X-Request-ID"] in page.text
    assert "jane" not in answer.text + page.text
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    failed = [line for line in lines if line.get("request_id") == "req-500-0001"]
    assert failed and failed[0]["exception"] == "RuntimeError"
    assert any(
        "test_deployment.py" in frame and "_fail" in frame for frame in failed[0]["traceback"]
    )
    assert "jane" not in out.getvalue() and "secret_local" not in out.getvalue()


# --- metrics ----------------------------------------------------------------------------
METRICS_TOKEN = "m" * 16 + "0123456789abcdefghij"


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, or None."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        if key == (f"{name}{{{wanted}}}" if labels else name):
            return float(value)
    return None


def test_metrics_are_only_for_the_scrapers_token(node_factory: Any) -> None:
    node = node_factory("north", GATEWAY_METRICS_TOKEN=METRICS_TOKEN)
    http = node.app.test_client()
    for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": METRICS_TOKEN}):
        refused = http.get("/metrics", headers=header)
        assert refused.status_code == 401
        assert refused.mimetype == "application/problem+json"
    answer = http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"


def test_metrics_count_requests_by_route_deliveries_and_the_backlog(node_factory: Any) -> None:
    # A retry is not due again within the test, so each delivery is tried once.
    north = node_factory(
        "north",
        GATEWAY_METRICS_TOKEN=METRICS_TOKEN,
        GATEWAY_DELIVERY_BACKOFF="30",
        GATEWAY_DELIVERY_BACKOFF_CAP="60",
    )
    south = node_factory("south")
    north.create_area("northshire")
    south.create_area("south-vale")
    south.import_peer(north.bundle("northshire"))
    north.import_peer(south.bundle("south-vale"))
    http = north.app.test_client()
    assert http.get("/federation/v1/areas/northshire/bundle").status_code == 200

    def scrape() -> str:
        return str(http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text)

    before = scrape()
    first = north.send(
        sample_transfer("northshire", "south-vale", victim="Zebedee Canary"),
        "northshire",
        "south-vale",
    )
    assert north.deliver() == 1
    south.stop()  # the next delivery finds the peer unreachable
    north.send(
        sample_transfer("northshire", "south-vale", victim="Zebedee Canary"),
        "northshire",
        "south-vale",
    )
    assert north.deliver() == 1
    text = scrape()

    bundle = {"method": "GET", "route": "/federation/v1/areas/<code>/bundle", "status": "200"}
    assert (sample(text, "gateway_http_requests_total", **bundle) or 0) >= 1
    assert "northshire/bundle" not in text  # the template, never the path asked for
    assert sample(
        text, "gateway_http_request_duration_seconds_count", method="GET", route=bundle["route"]
    )
    for outcome, reason in (("delivered", ""), ("retry", "unreachable")):
        labels = {"outcome": outcome, "reason": reason}
        grew = (sample(text, "gateway_delivery_attempts_total", **labels) or 0) - (
            sample(before, "gateway_delivery_attempts_total", **labels) or 0
        )
        assert grew >= 1, (outcome, reason)
    assert (sample(text, "gateway_receipts_total", direction="received") or 0) >= 1
    assert sample(text, "gateway_outbox_pending", peer="south-vale") == 1
    assert 0 <= (sample(text, "gateway_outbox_oldest_age_seconds", peer="south-vale") or -1) < 600
    assert sample(text, "gateway_outbox_items", status="delivered") == 1
    assert sample(text, "gateway_database_up") == 1
    assert (sample(text, "gateway_worker_heartbeat_timestamp_seconds") or 0) > 0
    assert sample(text, "process_resident_memory_bytes")
    # Counts, templates and area codes only: no person, no transfer id.
    assert "Zebedee" not in text and "Canary" not in text and first.id not in text


# --- under real gunicorn ----------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_reads_a_gunicorn_config_and_metrics_add_up_across_workers(tmp_path: Path) -> None:
    """Two gunicorn workers from the operator's config file (GATEWAY_GUNICORN_CONFIG),
    GUNICORN_CMD_ARGS on top; every scrape, whichever worker answers, counts every
    request (prometheus-client's multiprocess mode)."""
    node = start_node("gw", Databases("sqlite", tmp_path), tmp_path)
    port = free_port()
    config = tmp_path / "gunicorn.conf.py"
    config.write_text(f'bind = "127.0.0.1:{port}"\nworkers = 2\nthreads = 1\n')
    shared = tmp_path / "metrics"
    shared.mkdir()
    env = {
        **node.env,
        "GATEWAY_BASE_URL": f"http://127.0.0.1:{port}",
        "GATEWAY_METRICS_TOKEN": METRICS_TOKEN,
        "GATEWAY_GUNICORN_CONFIG": str(config),
        "GUNICORN_CMD_ARGS": "--max-requests 1000",
        "PROMETHEUS_MULTIPROC_DIR": str(shared),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve"], env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while log.read_text().count("Booting worker") < 2 or not answers(url):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        labels = {"method": "GET", "route": "/healthz", "status": "200"}

        def scrape() -> float:
            text = httpx.get(url + "/metrics", headers=bearer, timeout=30).text
            value = sample(text, "gateway_http_requests_total", **labels)
            assert value is not None, text
            return value

        # What the start-up wait counted (a probe that timed out on a busy machine may
        # still have been served), then 20 more that must each be answered.
        before = scrape()
        assert all(answers(url, timeout=30) for _ in range(20))
        sent = 20

        def workers_seen() -> set[str]:
            return {p.name.rsplit("_", 1)[-1] for p in shared.glob("counter_*.db")}

        # The kernel hands each connection to whichever worker accepts first, so on a busy
        # machine one may take all 20: more, until both have answered.
        deadline = time.monotonic() + 30
        while len(workers_seen()) < 2:
            assert time.monotonic() < deadline, workers_seen()
            assert answers(url, timeout=30)
            sent += 1
        counted = {scrape() for _ in range(6)}  # fresh connections: both workers answer
        assert counted == {before + sent}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        node.stop()


def answers(url: str, timeout: float = 2) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def test_metrics_still_answer_when_the_database_does_not(tmp_path: Path) -> None:
    # An unmigrated SQLite file stands in for an unreachable database: both are an outage.
    settings = Settings.from_env(
        {
            "GATEWAY_INSTANCE_DIR": str(tmp_path / "bare"),
            "GATEWAY_SECRET_KEY": "s" * 22 + "0123456789abcdefghij",
            "GATEWAY_METRICS_TOKEN": METRICS_TOKEN,
        }
    )
    node = build_node(settings)
    try:
        answer = (
            create_app(settings, node)
            .test_client()
            .get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        )
    finally:
        node.close()
    assert answer.status_code == 200
    assert sample(answer.text, "gateway_database_up") == 0
    assert sample(answer.text, "process_resident_memory_bytes")

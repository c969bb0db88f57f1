"""Running behind a reverse proxy, and a 500 an operator can find: the client address
from X-Forwarded-For only with GATEWAY_TRUSTED_PROXIES, and a scrubbed traceback keyed by
the request id the caller is given."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

from flask import request
from support.site import csrf_from

from gateway.logs import JsonFormatter


def wrong_password(http: Any, client: str, email: str) -> int:
    forwarded = {"X-Forwarded-For": client, "X-Forwarded-Proto": "https"}
    page = http.get("/login", headers=forwarded)
    answer = http.post(
        "/login",
        headers=forwarded,
        data={"email": email, "password": "not the password", "csrf_token": csrf_from(page.text)},
    )
    return int(answer.status_code)


def test_a_forwarded_client_is_limited_alone_behind_a_trusted_proxy(node_factory: Any) -> None:
    node = node_factory("north", GATEWAY_TRUSTED_PROXIES="1", GATEWAY_LOGIN_RATE_LIMIT="3/minute")
    node.create_area("northshire")
    first, second = node.app.test_client(), node.app.test_client()
    assert [wrong_password(first, "203.0.113.5", f"a{n}@x.example") for n in range(4)] == [
        401,
        401,
        401,
        429,
    ]
    # Another client behind the same proxy is not locked out by the first one's failures.
    assert wrong_password(second, "203.0.113.9", "b@x.example") == 401


def test_forwarded_headers_are_ignored_without_trusted_proxies(node_factory: Any) -> None:
    node = node_factory("north", GATEWAY_LOGIN_RATE_LIMIT="3/minute")
    node.create_area("northshire")
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

"""Hostile input against a node served by real gunicorn (`marac-gateway serve`) and the
in-process pair: nesting bombs, broken framing, the wrong charset, bodies refused before
they are read, doubled client authentication, and owner-only files. Never a 5xx, never an
ERROR line in the server's log."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.nodes import Databases, Pair, RunningNode, start_node
from support.site import A, Site, make_site

from gateway.domain.areas import local_areas
from gateway.domain.clock import utcnow
from gateway.domain.identity import clients
from keys import BadJson, JsonLimits, issue_request_token, parse_json

BOMB = b"[" * 100_000
FEDERATION_POSTS = [
    "/federation/v1/envelopes",
    "/federation/v1/audit/consistency",
    "/federation/v1/audit/cosignatures",
    "/federation/v1/linkage/evaluate",
    "/federation/v1/flags/tokens",
    "/federation/v1/flags/match",
    "/federation/v1/flags/verifications",
    "/federation/v1/flags/verifications/answers",
]


# --- the parser on its own -------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (BOMB, "nested too deeply"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "nested too deeply"),
        ('{"a": 1}'.encode("utf-16"), "not UTF-8"),
        (b"\xef\xbb\xbf{}", "byte order mark"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": 1e999}', "out of range"),
        (b'{"a": 1, "a": 2}', "repeated"),
        (b'["\\udc00"]', "lone surrogate"),
        (b'{"\\ud800": 1}', "lone surrogate"),
        (b"[" + b"1," * 60_000 + b"1]", "too many elements"),
        (b"{" + b",".join(b'"k%d":1' % i for i in range(10_001)) + b"}", "too many members"),
        (json.dumps(["x" * (1024 * 1024 + 1)]).encode(), "too long"),
        (b"[1, 2", "not JSON"),
        (b"1" * 5000, "not JSON"),
    ],
)
def test_the_bounded_parser_refuses_with_its_own_error(raw: bytes, rule: str) -> None:
    with pytest.raises(BadJson, match=rule):
        parse_json(raw)


def test_the_bounded_parser_reads_what_the_contract_sends() -> None:
    document = {"a": [1, 2.5, None, True], "b": {"c": '\u00e9\U0001f600 [{\\"}]'}, "d": ""}
    assert parse_json(json.dumps(document).encode()) == document
    assert parse_json(json.dumps(document, ensure_ascii=False).encode()) == document
    # Brackets inside strings nest nothing; a large string passes when the limit allows.
    assert parse_json(json.dumps(["[" * 5000]).encode()) == ["[" * 5000]
    big = json.dumps({"ciphertext": "A" * (3 * 1024 * 1024)})
    assert len(parse_json(big, JsonLimits(max_string=None))["ciphertext"]) == 3 * 1024 * 1024


# --- a node under real gunicorn --------------------------------------------------------
class Served:
    def __init__(self, node: RunningNode, url: str, log: Path, bearer: str) -> None:
        self.node, self.url, self.log, self.bearer = node, url, log, bearer

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def raw(self, request: bytes, wait: float = 10.0) -> bytes:
        """Send raw bytes, read until the server closes or the wait is over."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=wait) as sock:
            sock.sendall(request)
            return read_all(sock, wait)


def read_all(sock: socket.socket, wait: float) -> bytes:
    data = b""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    return data


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("served")
    node = start_node("gw", Databases("sqlite", tmp), tmp)
    node.create_area(A)
    with node.node.sessions() as session:
        client, secret = clients.create_client(
            session, node.node.master, name="cms", area=A, scopes="transfers:write", now=utcnow()
        )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp / "serve.log"
    env = {**node.env, "GATEWAY_BASE_URL": url}
    command = [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--workers", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        answer = httpx.post(
            url + "/api/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client.id, secret),
        )
        assert answer.status_code == 200, answer.text
        yield Served(node, url, log, "Bearer " + answer.json()["access_token"])
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        node.stop()


def assert_refused_cleanly(answer: httpx.Response, *statuses: int) -> None:
    assert answer.status_code in statuses, (answer.status_code, answer.text[:300])
    assert answer.headers["content-type"].startswith("application/problem+json")


def assert_no_error_logged(served: Served) -> None:
    text = served.log.read_text()
    assert " ERROR " not in text and "Traceback" not in text, text[-2000:]


@pytest.mark.parametrize("path", FEDERATION_POSTS)
def test_a_nesting_bomb_on_a_federation_post_is_a_4xx(served: Served, path: str) -> None:
    answer = httpx.post(
        served.url + path, content=BOMB, headers={"Content-Type": "application/json"}
    )
    assert_refused_cleanly(answer, 400, 401)
    assert_no_error_logged(served)


def test_a_nesting_bomb_on_an_api_post_is_a_400(served: Served) -> None:
    headers = {"Content-Type": "application/json", "Authorization": served.bearer}
    answer = httpx.post(served.url + "/api/v1/transfers", content=BOMB, headers=headers)
    assert_refused_cleanly(answer, 400)
    token_endpoint = httpx.post(
        served.url + "/api/v1/oauth/token",
        content=BOMB,
        headers={"Content-Type": "application/json"},
    )
    assert 400 <= token_endpoint.status_code < 500
    assert_no_error_logged(served)


def nested_token() -> str:
    header = base64.urlsafe_b64encode(b"[" * 6000).rstrip(b"=").decode()
    return f"{header}.e30.c2ln"


def test_a_nesting_bomb_in_a_token_header_is_a_401(served: Served) -> None:
    bearer = {"Authorization": "Bearer " + nested_token()}
    assert_refused_cleanly(httpx.get(served.url + "/api/v1/transfers", headers=bearer), 401)
    for path in FEDERATION_POSTS:
        headers = {**bearer, "Content-Type": "application/json"}
        answer = httpx.post(served.url + path, content=b"{}", headers=headers)
        # Some endpoints validate the (empty) request before its token.
        assert_refused_cleanly(answer, 400, 401, 422)
    assert_no_error_logged(served)


def test_broken_chunked_framing_is_a_400_and_closes(served: Served) -> None:
    for path in ("/federation/v1/flags/match", "/api/v1/transfers"):
        answer = served.raw(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: {served.bearer}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            + b"ZZZ\r\nabc\r\n0\r\n\r\n"
        )
        head = answer.split(b"\r\n\r\n", 1)[0].decode()
        assert head.startswith("HTTP/1.1 400"), head
        assert "Connection: close" in head
    assert_no_error_logged(served)


def test_a_body_refused_before_it_is_read_closes_the_connection(served: Served) -> None:
    # Far above the envelope limit and never sent: the answer must not offer keep-alive.
    started = time.monotonic()
    answer = served.raw(
        b"POST /federation/v1/envelopes HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 900000000\r\n\r\n" + b"x" * 1000,
        wait=20,
    )
    head = answer.split(b"\r\n\r\n", 1)[0].decode()
    assert head.split("\r\n")[0] in (
        "HTTP/1.1 401 UNAUTHORIZED",
        "HTTP/1.1 413 REQUEST ENTITY TOO LARGE",
    )
    assert "Connection: close" in head and "keep-alive" not in head
    # The server closed the socket itself (read_all returned before its wait).
    assert time.monotonic() - started < 15
    # An ordinary request keeps its connection.
    kept = served.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", wait=1)
    assert b"Connection: keep-alive" in kept.split(b"\r\n\r\n", 1)[0]


def test_the_envelope_token_is_checked_before_the_body_is_read(served: Served) -> None:
    # 30 MB declared, 1 KB sent: a refusal that waited for the body would never come.
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(
            b"POST /federation/v1/envelopes HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nAuthorization: Bearer a.b.c\r\n"
            b"Content-Length: 30000000\r\n\r\n" + b"{" * 1000
        )
        answer = read_all(sock, 5)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


def test_an_envelope_in_another_charset_is_refused(served: Served) -> None:
    body = json.dumps({"v": 1}).encode("utf-16")
    for content_type in ("application/json; charset=utf-16", "application/json; charset=latin-1"):
        answer = httpx.post(
            served.url + "/federation/v1/envelopes",
            content=body,
            headers={"Content-Type": content_type},
        )
        assert_refused_cleanly(answer, 415)
    api = httpx.post(
        served.url + "/api/v1/transfers",
        content=body,
        headers={
            "Content-Type": "application/json; charset=utf-16",
            "Authorization": served.bearer,
        },
    )
    assert_refused_cleanly(api, 415)


def test_the_database_files_of_a_running_node_are_owner_only(served: Served) -> None:
    database = Path(served.node.settings.database_url.removeprefix("sqlite:///"))
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    for extra in (database.with_name(database.name + "-wal"), served.node.settings.master_key_file):
        if extra.exists():
            assert stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0, extra


def test_a_fresh_instance_folder_and_database_are_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "fresh" / "instance"
    env = {
        **os.environ,
        "GATEWAY_INSTANCE_DIR": str(home),
        "GATEWAY_SECRET_KEY": "k" * 8 + "0123456789abcdefghijklmnopqrstuv",
    }
    env.pop("GATEWAY_DATABASE_URL", None)
    env.pop("GATEWAY_MASTER_KEY_FILE", None)
    subprocess.run(
        [sys.executable, "-m", "gateway", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "gateway.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "master.key").stat().st_mode) == 0o600


# --- in process: charset of a signed envelope, doubled client authentication -----------
def test_an_envelope_whose_bytes_are_not_utf8_is_refused(pair: Pair) -> None:
    south = pair.south
    with pair.north.node.sessions() as session, session.begin():
        keys = local_areas.current_secret_keys(
            session, pair.north.node.master, "northshire", utcnow()
        )
    url = south.url + "/federation/v1/envelopes"
    for body in (json.dumps({"v": 1}).encode("utf-16"), b'{"v": "\xff"}'):
        token = issue_request_token(keys, audience="south-vale", method="POST", url=url, body=body)
        answer = httpx.post(
            url,
            content=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        assert_refused_cleanly(answer, 400)
        assert "UTF-8" in answer.json()["detail"]
    assert south.count("envelopes") == 0


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def test_a_token_request_with_two_client_authentications_is_refused(site: Site) -> None:
    client_id, secret = site.new_client(A, "transfers:read")
    browser = site.app.test_client()
    grant = {"grant_type": "client_credentials"}
    both = browser.post(
        "/api/v1/oauth/token",
        data={**grant, "client_id": client_id, "client_secret": secret},
        auth=(client_id, secret),
    )
    assert both.status_code == 400, both.text
    assert both.json["error"] == "invalid_request"
    assert both.mimetype == "application/problem+json"
    # Each on its own still works.
    assert (
        browser.post("/api/v1/oauth/token", data=grant, auth=(client_id, secret)).status_code == 200
    )
    alone = {**grant, "client_id": client_id, "client_secret": secret}
    assert browser.post("/api/v1/oauth/token", data=alone).status_code == 200

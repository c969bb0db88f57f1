"""Property tests over every parser that reads bytes from outside the node: the bounded
JSON parser, the token parsers, the envelope parser, multipart uploads and the API's JSON
bodies. Whatever the input, each either answers or refuses with its own typed error; over
HTTP, never a 5xx.

`make fuzz` runs the same properties with a much larger budget (HYPOTHESIS_PROFILE=fuzz).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.nodes import Databases, RunningNode, start_node
from support.site import A
from werkzeug.exceptions import HTTPException

from gateway.domain.clock import utcnow
from gateway.domain.identity import clients
from keys import BadJson, CryptoError, parse_envelope, parse_json, token_key_id
from keys.access_tokens import access_token_key_id
from keys.request_tokens import token_audience

settings.register_profile(
    "default",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "3000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# Characters that matter to a JSON scanner, so random text is mostly near-JSON.
JSONISH = st.text(
    alphabet=st.sampled_from(list('[]{}:,"\\ u0123456789abcdefABCDEF.eE+-ntrlsNIa\t\né')),
    max_size=400,
)
# Lone surrogates are refused by design, so the text here has none.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=40,
)


def nested(depth: int, opener: str) -> str:
    return opener * depth


# --- the bounded JSON parser -----------------------------------------------------------
@given(st.binary(max_size=600))
def test_any_bytes_parse_or_are_refused_as_bad_json(raw: bytes) -> None:
    with contextlib.suppress(BadJson):
        parse_json(raw)


@given(JSONISH)
def test_near_json_text_parses_or_is_refused_as_bad_json(text: str) -> None:
    with contextlib.suppress(BadJson):
        parse_json(text)


@given(JSON_VALUES)
def test_json_within_the_limits_reads_back_as_written(value: Any) -> None:
    assert parse_json(json.dumps(value).encode()) == value


@given(st.integers(min_value=33, max_value=200_000), st.sampled_from(["[", '{"a":']))
def test_any_depth_beyond_the_limit_is_refused_before_parsing(depth: int, opener: str) -> None:
    with pytest.raises(BadJson):
        parse_json(nested(depth, opener))


# --- token parsers ---------------------------------------------------------------------
def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


TOKENS = st.text(max_size=300) | st.builds(
    lambda h, c, s: f"{b64(h)}.{b64(c)}.{s}",
    st.binary(max_size=300) | JSONISH.map(str.encode),
    st.binary(max_size=300) | JSONISH.map(str.encode),
    st.text(max_size=20),
)


@given(TOKENS)
def test_token_parsers_answer_or_refuse_typed(token: str) -> None:
    for parse in (token_key_id, token_audience, access_token_key_id):
        with contextlib.suppress(CryptoError):
            parse(token)


# --- the envelope parser ---------------------------------------------------------------
ENVELOPE_FIELDS = ["v", "id", "from", "to", "created_at", "payload_type", "nonce", "ciphertext"]
ENVELOPES = st.dictionaries(
    st.sampled_from(ENVELOPE_FIELDS) | st.text(max_size=8), JSON_VALUES, max_size=10
)


@given(ENVELOPES)
def test_the_envelope_parser_answers_or_refuses_typed(wire: dict[str, Any]) -> None:
    with contextlib.suppress(CryptoError):
        parse_envelope(wire)


# --- over HTTP: envelopes, API bodies, multipart uploads -------------------------------
class Target:
    def __init__(self, node: RunningNode, bearer: dict[str, str]) -> None:
        self.node, self.bearer = node, bearer
        self.http = node.app.test_client()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        answer = self.http.post(path, data=body, headers=headers)
        assert answer.status_code < 500, (path, answer.status_code, answer.text[:300])
        return int(answer.status_code)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    tmp: Path = tmp_path_factory.mktemp("properties")
    node = start_node("gw", Databases("sqlite", tmp), tmp)
    node.create_area(A)
    with node.node.sessions() as session:
        client, secret = clients.create_client(
            session,
            node.node.master,
            name="fuzz",
            area=A,
            scopes="transfers:read transfers:write",
            now=utcnow(),
        )
    answer = node.app.test_client().post(
        "/api/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(client.id, secret)
    )
    assert answer.status_code == 200, answer.text
    yield Target(node, {"Authorization": "Bearer " + answer.json["access_token"]})
    node.stop()


BODIES = (
    st.binary(max_size=2000)
    | JSONISH.map(str.encode)
    | JSON_VALUES.map(lambda v: json.dumps(v).encode())
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=utf-16",
        "text/plain",
        "multipart/form-data; boundary=x",
    ]
)


@given(BODIES, CONTENT_TYPES, st.none() | TOKENS)
def test_the_envelope_endpoint_never_answers_5xx(
    target: Target, body: bytes, content_type: str, token: str | None
) -> None:
    headers = {"Content-Type": content_type}
    if token is not None and token.isascii() and token.isprintable():
        headers["Authorization"] = "Bearer " + token
    target.post("/federation/v1/envelopes", body, headers)


@given(BODIES, CONTENT_TYPES)
def test_api_json_bodies_never_answer_5xx(target: Target, body: bytes, content_type: str) -> None:
    headers = {**target.bearer, "Content-Type": content_type}
    for path in ("/api/v1/transfers", f"/api/v1/areas/{A}/meetings"):
        target.post(path, body, headers)


PART_HEADERS = st.sampled_from(
    [
        b'Content-Disposition: form-data; name="file"; filename="a.txt"\r\n',
        b'Content-Disposition: form-data; name="kind"\r\n',
        b"Content-Disposition: form-data\r\n",
        b'Content-Disposition: form-data; name="file"\r\nContent-Type: text/plain\r\n',
        b"",
    ]
)
PARTS = st.lists(
    st.tuples(PART_HEADERS, st.binary(max_size=300) | st.sampled_from([b"minutes", b"report"])),
    max_size=4,
)


def multipart(boundary: bytes, parts: list[tuple[bytes, bytes]], tail: bytes) -> bytes:
    body = b"".join(
        b"--" + boundary + b"\r\n" + head + b"\r\n" + data + b"\r\n" for head, data in parts
    )
    return body + b"--" + boundary + tail


@given(
    st.sampled_from([b"x", b"boundary", b"-- --", b""])
    | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20).map(str.encode),
    PARTS,
    st.sampled_from([b"--\r\n", b"", b"\r\n", b"--"]),
)
def test_multipart_uploads_never_answer_5xx(
    target: Target, boundary: bytes, parts: list[tuple[bytes, bytes]], tail: bytes
) -> None:
    declared = boundary.decode("latin-1").replace('"', "")
    headers = {**target.bearer, "Content-Type": f'multipart/form-data; boundary="{declared}"'}
    path = f"/api/v1/transfers/{uuid.uuid4()}/documents"
    target.post(path, multipart(boundary, parts, tail), headers)


@given(st.binary(max_size=1500))
def test_the_multipart_parser_answers_or_refuses_typed(target: Target, body: bytes) -> None:
    app = target.node.app
    with app.test_request_context(
        "/", method="POST", data=body, content_type="multipart/form-data; boundary=x"
    ):
        from flask import request

        code = 200
        try:
            request.form.to_dict()
            request.files.to_dict()
        except HTTPException as refused:
            code = refused.code or 500
    assert code < 500

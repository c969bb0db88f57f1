"""The envelope endpoint over real HTTP: every invalid request is a 4xx problem document,
and nothing invalid is stored (no envelope, no transfer, no used token)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from support.nodes import Pair, RunningNode, stored_envelope

from gateway.domain.areas import local_areas
from gateway.domain.clock import utcnow
from keys import (
    AreaSecretKeys,
    b64url_decode,
    b64url_encode,
    canonical_json,
    issue_request_token,
    seal_envelope,
    verify_document,
)

PATH = "/federation/v1/envelopes"


def north_keys(pair: Pair) -> AreaSecretKeys:
    with pair.north.node.sessions() as session, session.begin():
        return local_areas.current_secret_keys(
            session, pair.north.node.master, "northshire", utcnow()
        )


def queued_envelope(pair: Pair) -> dict[str, Any]:
    pair.send()
    return stored_envelope(pair.north, "northshire")


def post(
    target: RunningNode,
    body: bytes,
    token: str | None,
    content_type: str = "application/json",
) -> httpx.Response:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(target.url + PATH, content=body, headers=headers, timeout=10)


def token_for(keys: AreaSecretKeys, target: RunningNode, signed_body: bytes, **kwargs: Any) -> str:
    options: dict[str, Any] = {
        "audience": "south-vale",
        "method": "POST",
        "url": target.url + PATH,
        "body": signed_body,
    }
    options.update(kwargs)
    return issue_request_token(keys, **options)


def assert_nothing_stored(node: RunningNode) -> None:
    assert node.count("envelopes") == 0
    assert node.count("transfers") == 0
    assert node.count("used_tokens") == 0


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    doc = response.json()
    assert doc["status"] == status
    if slug:
        assert doc["type"].endswith("/" + slug), doc


def test_duplicate_delivery_gives_one_case_and_the_identical_receipt(pair: Pair) -> None:
    body = canonical_json(queued_envelope(pair))
    keys = north_keys(pair)
    first = post(pair.south, body, token_for(keys, pair.south, body))
    second = post(pair.south, body, token_for(keys, pair.south, body))
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.content == second.content
    assert pair.south.count("envelopes") == 1
    assert pair.south.count("transfers") == 1
    # The worker's own later delivery is one more duplicate, settled by the same receipt.
    pair.north.deliver()
    assert pair.south.count("transfers") == 1
    assert pair.north.scalar("SELECT receipt FROM envelopes") == first.text


def test_same_id_with_different_content_is_a_conflict(pair: Pair) -> None:
    wire = queued_envelope(pair)
    body = canonical_json(wire)
    keys = north_keys(pair)
    assert post(pair.south, body, token_for(keys, pair.south, body)).status_code == 202
    south_key = pair.south.bundle("south-vale")["body"]
    from keys import PublicAreaKey

    recipient = PublicAreaKey(
        "south-vale",
        south_key["key_id"],
        b64url_decode(south_key["signing_key"]),
        b64url_decode(south_key["encryption_key"]),
        datetime(2020, 1, 1, tzinfo=UTC),
    )
    from gateway.devtools.samples import sample_transfer

    other = seal_envelope(
        sender=keys,
        recipient=recipient,
        payload_type="transfer_request",
        payload=sample_transfer("northshire", "south-vale", victim="Other"),
        envelope_id=wire["id"],
    )
    other_body = canonical_json(other.wire)
    assert_problem(post(pair.south, other_body, token_for(keys, pair.south, other_body)), 409)
    assert pair.south.count("envelopes") == 1


def test_replayed_token_is_refused(pair: Pair) -> None:
    body = canonical_json(queued_envelope(pair))
    token = token_for(north_keys(pair), pair.south, body)
    assert post(pair.south, body, token).status_code == 202
    assert_problem(post(pair.south, body, token), 401)
    assert pair.south.count("used_tokens") == 1


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"now": int(time.time()) - 300}, 401),  # expired
        # An audience this node does not host: refused before the body is read.
        ({"audience": "elsewhere"}, 422),
        ({"url": "http://127.0.0.1:1/federation/v1/envelopes"}, 401),  # bound to another URL
        ({"method": "PUT"}, 401),
        ({"body": b"{}"}, 401),  # bound to another body
    ],
)
def test_bad_tokens_are_refused(pair: Pair, change: dict[str, Any], status: int) -> None:
    body = canonical_json(queued_envelope(pair))
    assert_problem(
        post(pair.south, body, token_for(north_keys(pair), pair.south, body, **change)),
        status,
        # An expired token says so as a clock problem, with the receiver's time.
        ("clock-skew" if "now" in change else "unauthorized")
        if status == 401
        else "wrong-addressee",
    )
    assert_nothing_stored(pair.south)


def test_missing_token_malformed_body_and_wrong_media_type(pair: Pair) -> None:
    body = canonical_json(queued_envelope(pair))
    assert_problem(post(pair.south, body, None), 401)
    assert_problem(post(pair.south, body, "not-a-jws"), 401)
    # The token is checked before the body is read; with a good one, the body is refused.
    assert_problem(post(pair.south, b"{not json", "x"), 401)
    bad = b"{not json"
    assert_problem(post(pair.south, bad, token_for(north_keys(pair), pair.south, bad)), 400)
    assert_problem(post(pair.south, body, "x", content_type="text/plain"), 415)
    assert_nothing_stored(pair.south)


def test_unknown_signing_key_is_refused(pair: Pair) -> None:
    body = canonical_json(queued_envelope(pair))
    rogue = AreaSecretKeys.generate("northshire")  # claims to be northshire, key not pinned
    assert_problem(post(pair.south, body, token_for(rogue, pair.south, body)), 401)
    assert_nothing_stored(pair.south)


def test_envelope_to_an_area_not_hosted_here_is_refused(pair: Pair) -> None:
    body = canonical_json(queued_envelope(pair))
    # Posted to the sender's own node, which does not host south-vale.
    response = post(pair.north, body, token_for(north_keys(pair), pair.north, body))
    assert_problem(response, 422, "wrong-addressee")
    assert pair.north.count("transfers") == 1  # only its own outbound row


def test_envelope_sealed_to_a_key_the_area_does_not_hold_is_refused(pair: Pair) -> None:
    keys = north_keys(pair)
    stranger = AreaSecretKeys.generate("south-vale").public(datetime(2020, 1, 1, tzinfo=UTC))
    from gateway.devtools.samples import sample_transfer

    sealed = seal_envelope(
        sender=keys,
        recipient=stranger,
        payload_type="transfer_request",
        payload=sample_transfer("northshire", "south-vale"),
    )
    body = canonical_json(sealed.wire)
    assert_problem(
        post(pair.south, body, token_for(keys, pair.south, body)), 422, "wrong-addressee"
    )
    assert_nothing_stored(pair.south)


@pytest.mark.parametrize("field", ["sig", "ciphertext", "nonce", "sealed_key", "created_at"])
def test_tampered_envelope_is_refused(pair: Pair, field: str) -> None:
    wire = queued_envelope(pair)
    if field == "created_at":
        wire[field] = "2001-01-01T00:00:00Z"
    else:
        raw = bytearray(b64url_decode(wire[field]))
        raw[len(raw) // 2] ^= 0x01
        wire[field] = b64url_encode(bytes(raw))
    body = canonical_json(wire)
    response = post(pair.south, body, token_for(north_keys(pair), pair.south, body))
    assert_problem(response, 422)
    assert_nothing_stored(pair.south)


def test_envelope_schema_errors_name_the_field(pair: Pair) -> None:
    wire = queued_envelope(pair)
    wire["from"]["area"] = "NOT A CODE"
    wire["surprise"] = 1
    body = canonical_json(wire)
    response = post(pair.south, body, token_for(north_keys(pair), pair.south, body))
    assert_problem(response, 400, "malformed")
    errors = response.json()["errors"]
    assert "surprise" in errors and "from" in errors
    assert "NOT A CODE" not in response.text  # errors never echo values
    assert_nothing_stored(pair.south)


def test_bundle_endpoint_serves_a_verifiable_bundle(pair: Pair) -> None:
    response = httpx.get(pair.south.url + "/federation/v1/areas/south-vale/bundle")
    assert response.status_code == 200
    document = response.json()
    signing = b64url_decode(document["body"]["signing_key"])
    assert verify_document(document, "peer_bundle", signing)["area"] == "south-vale"
    assert_problem(httpx.get(pair.south.url + "/federation/v1/areas/nowhere/bundle"), 404)


def test_routes_are_closed_by_default(pair: Pair) -> None:
    assert_problem(httpx.get(pair.south.url + "/api/v1/transfers"), 401)
    assert httpx.get(pair.south.url + "/healthz").status_code == 200
    ready = httpx.get(pair.south.url + "/readyz").json()
    assert ready == {
        "status": "ok",
        "database": "ok",
        "schema": "ok",
        "master_key": "ok",
        "area_keys": "ok",
    }
    # Metrics are for the scraper's token (GATEWAY_METRICS_TOKEN), off when it is unset.
    assert_problem(httpx.get(pair.south.url + "/metrics"), 403)


def test_duplicate_receipt_survives_a_restart_of_the_receiver(pair: Pair) -> None:
    body = canonical_json(queued_envelope(pair))
    keys = north_keys(pair)
    first = post(pair.south, body, token_for(keys, pair.south, body))
    pair.south.node.engine.dispose()  # drop every pooled connection: state is only in the DB
    again = post(pair.south, body, token_for(keys, pair.south, body))
    assert again.status_code == 200 and again.content == first.content
    assert json.loads(again.content)["body"]["status"] == "received"

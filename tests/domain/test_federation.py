"""Federation: receiving an envelope checks everything before it stores anything; a retry
gets the same receipt; the registry knows every payload type of the contract."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from marshmallow import ValidationError
from support.local_nodes import NORTH, SOUTH, LocalNode, due, hand_over, request_token

from gateway.domain.federation import registry
from gateway.domain.federation.handlers import Handler
from gateway.errors import DomainError, Malformed, Refused, Unauthorized
from keys import b64url_decode, b64url_encode
from schemas.wire.envelope import PAYLOAD_TYPES

STORED = (
    "envelopes",
    "transfers",
    "transfer_events",
    "audit_events",
    "notifications",
    "used_tokens",
)
WEST = "west-moor"


def stored(node: LocalNode) -> dict[str, int]:
    return node.counts(*STORED)


def test_an_envelope_is_stored_once_and_a_retry_gets_the_same_receipt(
    linked: Any, now: datetime
) -> None:
    north, south = linked.north, linked.south
    north.send(NORTH, SOUTH, now)
    (claim,) = due(north, now)
    first = hand_over(north, claim, south, now)
    assert not first.duplicate
    assert south.count("transfers", "direction = 'inbound' AND status = 'received'") == 1
    before = stored(south)
    again = hand_over(north, claim, south, now)
    assert again.duplicate and again.receipt == first.receipt
    assert stored(south) == {**before, "used_tokens": before["used_tokens"] + 1}


def test_a_request_token_is_spent_once(linked: Any, now: datetime) -> None:
    north, south = linked.north, linked.south
    north.send(NORTH, SOUTH, now)
    (claim,) = due(north, now)
    token = request_token(north, claim, south, claim.body.encode("ascii"), now)
    hand_over(north, claim, south, now, token=token)
    before = stored(south)
    with pytest.raises(Unauthorized, match="already been used"):
        hand_over(north, claim, south, now, token=token)
    assert stored(south) == before


def _bad_signature(wire: dict[str, Any]) -> dict[str, Any]:
    sig = bytearray(b64url_decode(wire["sig"], length=64))
    sig[10] ^= 0x01
    return {**wire, "sig": b64url_encode(bytes(sig))}


def _other_content(wire: dict[str, Any]) -> dict[str, Any]:
    return {**wire, "created_at": "2020-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("change", "error", "slug"),
    [
        (_bad_signature, Refused, "bad-signature"),
        (_other_content, Refused, "bad-signature"),
        (lambda w: {**w, "type": "gossip"}, Malformed, "malformed"),
        (lambda w: {**w, "to": {**w["to"], "area": "nowhere"}}, Refused, "wrong-addressee"),
    ],
)
def test_a_bad_envelope_is_refused_and_nothing_is_stored(
    linked: Any,
    now: datetime,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    error: type[DomainError],
    slug: str,
) -> None:
    north, south = linked.north, linked.south
    north.send(NORTH, SOUTH, now)
    (claim,) = due(north, now)
    body = json.dumps(change(json.loads(claim.body))).encode("ascii")
    before = stored(south)
    with pytest.raises(error) as refused:
        hand_over(north, claim, south, now, body=body)
    assert refused.value.slug == slug
    assert stored(south) == before
    # The genuine envelope is still accepted afterwards.
    assert not hand_over(north, claim, south, now).duplicate


def test_an_unknown_sender_is_refused_and_nothing_is_stored(
    linked: Any, now: datetime, make_node: Callable[[str, str], LocalNode]
) -> None:
    north, south = linked.north, linked.south
    west = make_node("west", WEST)
    # West knows south, but south never pinned west.
    west.import_peer(south.bundle(SOUTH, now), now)
    west.send(WEST, SOUTH, now)
    (claim,) = due(west, now)
    before = stored(south)
    with pytest.raises(Unauthorized, match="not pinned"):
        hand_over(west, claim, south, now)
    assert stored(south) == before
    # Nor can a pinned peer pass it off as its own: the envelope's key is not north's.
    wire = json.loads(claim.body)
    wire["from"] = {**wire["from"], "area": NORTH}
    posted = json.dumps(wire).encode("ascii")
    north.send(NORTH, SOUTH, now)
    (north_claim,) = due(north, now)
    token = request_token(north, north_claim, south, posted, now)
    with pytest.raises(Refused) as refused:
        hand_over(north, north_claim, south, now, body=posted, token=token)
    assert refused.value.slug == "unknown-key"
    assert stored(south) == before


def test_the_registry_handles_every_payload_type_of_the_contract() -> None:
    assert set(registry.HANDLERS) == set(PAYLOAD_TYPES)
    for kind, handler in registry.HANDLERS.items():
        assert isinstance(handler, Handler), kind
        with pytest.raises(ValidationError):
            handler.load({})

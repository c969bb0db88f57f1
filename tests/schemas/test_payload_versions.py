"""Payload-version negotiation (DESIGN section 4, docs/contract.md "Payload versions"): what a
node lists, how a peer's bundle is read, and how a payload is sent as the newest version the
recipient accepts, down-converted when its content fits, refused by name when it does not."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from marshmallow import ValidationError

from schemas.wire.bundle import BundleBodySchema
from schemas.wire.payload_versions import (
    REGISTRY,
    DoesNotFit,
    NotAccepted,
    Versions,
    accepted,
    negotiate,
    peer_accepts,
    versions_for,
)


def _drop_colour(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A toy version 3 -> 2: `colour` has no place in version 2 unless it is empty."""
    if payload.get("colour"):
        raise DoesNotFit(("colour",))
    return {k: v for k, v in payload.items() if k != "colour"} | {"schema_version": 2}


def _rename_back(payload: Mapping[str, Any]) -> dict[str, Any]:
    rest = {k: v for k, v in payload.items() if k != "size"}
    return rest | {"schema_version": 1, "bulk": payload["size"]}


TOY = {"toy": Versions(newest=3, down={3: _drop_colour, 2: _rename_back})}


def test_a_node_accepts_every_version_up_to_its_newest_or_its_cap() -> None:
    assert accepted(registry=TOY) == {"toy": (1, 2, 3)}
    assert accepted({"toy": 2}, registry=TOY) == {"toy": (1, 2)}
    assert set(accepted()) == set(REGISTRY)
    assert all(1 in versions for versions in accepted().values())


def test_a_version_without_its_down_converter_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="down-converter"):
        Versions(newest=2)


def test_a_bundle_without_the_member_means_version_1_of_everything() -> None:
    assert versions_for(peer_accepts(None), "transfer_request") == (1,)
    listed = peer_accepts({"transfer_request": [2, 1]})
    assert versions_for(listed, "transfer_request") == (1, 2)
    assert versions_for(listed, "acknowledgement") == (1,)


def test_the_newest_version_the_peer_accepts_is_sent() -> None:
    payload = {"schema_version": 3, "size": 4, "colour": None}
    assert negotiate("toy", payload, (1, 2, 3), TOY) == payload
    assert negotiate("toy", payload, (1, 2), TOY) == {"schema_version": 2, "size": 4}
    assert negotiate("toy", payload, (1,), TOY) == {"schema_version": 1, "bulk": 4}
    older = {"schema_version": 1, "bulk": 4}
    assert negotiate("toy", older, (1, 2, 3), TOY) == older  # never up-converted


def test_content_that_does_not_fit_is_refused_naming_versions_and_fields() -> None:
    payload = {"schema_version": 3, "size": 4, "colour": "red"}
    with pytest.raises(NotAccepted) as refused:
        negotiate("toy", payload, (1,), TOY)
    assert refused.value.fields == ("colour",)
    assert refused.value.accepted == (1,)
    assert "toy version(s) 1 only" in refused.value.explanation
    assert "colour" in refused.value.explanation
    assert "red" not in refused.value.explanation


def test_the_bundle_member_is_optional_checked_and_unknown_members_are_ignored() -> None:
    schema = BundleBodySchema()
    body = {
        "kind": "peer_bundle",
        "v": 1,
        "area": "northshire",
        "name": "Northshire MARAC",
        "url": "https://northshire.example",
        "mailbox": "marac@northshire.example",
        "key_id": "k" * 16,
        "signing_key": "A" * 43,
        "encryption_key": "B" * 43,
        "valid_from": "2026-01-01T00:00:00Z",
    }
    assert schema.load(body).accepts is None
    listed = schema.load({**body, "accepts": {"transfer_request": [1, 2]}})
    assert listed.accepts == {"transfer_request": [1, 2]}
    assert schema.load({**body, "a_later_member": {"x": 1}}).area == "northshire"
    for wrong in ({"transfer_request": [2]}, {"transfer_request": [1, 1]}, {"X": [1]}):
        assert "accepts" in _errors(schema, {**body, "accepts": wrong})


def _errors(schema: BundleBodySchema, data: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ValidationError) as refused:
        schema.load(data)
    return dict(refused.value.messages)

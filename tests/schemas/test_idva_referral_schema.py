"""Payload `idva_referral` version 1 (docs/contract.md): what it carries and refuses, and
that a node whose bundle does not list it (it predates the type) is never sent one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from marshmallow import ValidationError

from schemas.wire.idva_referral import (
    PAYLOAD_TYPE,
    dump_idva_referral,
    load_idva_referral,
    load_idva_referral_body,
)
from schemas.wire.payload_versions import (
    REGISTRY,
    NotAccepted,
    accepted,
    negotiate,
    peer_accepts,
    versions_for,
)

TODAY = datetime.now(UTC).date()


def payload(**changes: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "from_area": "eastmoor",
        "to_area": "northshire",
        "referred_on": TODAY.isoformat(),
        "idva_service": "Eastmoor IDVA Service",
        "outcome": None,
        "note": None,
        "reported_by": {"name": "Sam", "role": "MARAC coordinator"},
    } | changes


def test_the_payload_loads_and_dumps_as_it_came() -> None:
    loaded = load_idva_referral(payload(outcome="declined"))
    assert loaded.outcome == "declined" and loaded.referred_on == TODAY
    assert dump_idva_referral(loaded) == payload(outcome="declined")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"referred_on": (TODAY + timedelta(days=2)).isoformat()}, "referred_on"),
        ({"idva_service": " "}, "idva_service"),
        ({"outcome": "maybe"}, "outcome"),
        ({"schema_version": 2}, "schema_version"),
        ({"to_area": "eastmoor"}, "to_area"),
        ({"transfer": "x"}, "transfer"),
    ],
)
def test_each_refusal_names_its_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        load_idva_referral(payload(**changes))
    assert field in refused.value.messages


def test_the_posted_body_has_no_addressing() -> None:
    body = {k: v for k, v in payload().items() if k not in ("schema_version", "from_area")}
    with pytest.raises(ValidationError) as refused:
        load_idva_referral_body(body)
    assert list(refused.value.messages) == ["to_area"]


def test_only_a_node_whose_bundle_lists_it_is_sent_one() -> None:
    assert accepted()[PAYLOAD_TYPE] == (1,)
    assert REGISTRY[PAYLOAD_TYPE].listed_only
    # A bundle without `accepts`, or one that omits the type: the node predates it.
    for peer in (peer_accepts(None), {"transfer_request": (1, 2)}):
        assert versions_for(peer, PAYLOAD_TYPE) == ()
        with pytest.raises(NotAccepted) as refused:
            negotiate(PAYLOAD_TYPE, payload(), versions_for(peer, PAYLOAD_TYPE))
        assert "does not accept idva_referral at all" in refused.value.explanation
    # The types of DESIGN section 4 keep meaning version 1 when omitted.
    assert versions_for(peer_accepts(None), "repeat_incident") == (1,)
    assert negotiate(PAYLOAD_TYPE, payload(), versions_for({PAYLOAD_TYPE: (1,)}, PAYLOAD_TYPE))

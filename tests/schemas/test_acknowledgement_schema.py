"""The `acknowledgement` payload (schema_version 1 and 2): exactly the DESIGN body plus its
addressing, and from version 2 the reason for a redirect; the outcome decides which fields
are required; unknown fields are refused."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from marshmallow import ValidationError

from schemas.wire import payload_versions
from schemas.wire.acknowledgement import (
    DoesNotFitVersion1,
    dump_acknowledgement,
    load_acknowledgement,
    load_acknowledgement_body,
    to_version_1,
)


def payload(**changes: Any) -> dict[str, Any]:
    base = {
        "schema_version": 1,
        "from_area": "south-vale",
        "to_area": "northshire",
        "status": "accepted",
        "listed_for": "2026-12-01",
        "idva_referred": True,
        "receiving_case_ref": "SV-1",
        "redirect_to": None,
        "note": None,
        "acknowledged_by": {"name": "Coordinator", "role": "MARAC coordinator"},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def errors_of(data: dict[str, Any], body: bool = False) -> dict[str, Any]:
    with pytest.raises(ValidationError) as refused:
        (load_acknowledgement_body if body else load_acknowledgement)(data)
    messages = refused.value.messages
    assert isinstance(messages, dict)
    return messages


def test_accepted_round_trips_canonically() -> None:
    loaded = load_acknowledgement(payload())
    assert loaded.listed_for == date(2026, 12, 1) and loaded.idva_referred is True
    assert dump_acknowledgement(loaded) == payload()
    minimal = payload(receiving_case_ref=..., redirect_to=..., note=...)
    assert dump_acknowledgement(load_acknowledgement(minimal)) == payload(receiving_case_ref=None)


def test_redirected_needs_an_area_and_no_listing() -> None:
    loaded = load_acknowledgement(
        payload(status="redirected", listed_for=None, redirect_to="eastmoor")
    )
    assert (loaded.status, loaded.redirect_to, loaded.listed_for) == (
        "redirected",
        "eastmoor",
        None,
    )
    assert set(errors_of(payload(status="redirected", listed_for=None))) == {"redirect_to"}
    assert "listed_for" in errors_of(payload(status="redirected", redirect_to="eastmoor"))
    assert "redirect_to" in errors_of(
        payload(status="redirected", listed_for=None, redirect_to="south-vale")
    )
    assert "redirect_to" in errors_of(
        payload(status="redirected", listed_for=None, redirect_to="Not An Area")
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"listed_for": None}, "listed_for"),
        ({"listed_for": "2026-13-40"}, "listed_for"),
        ({"redirect_to": "eastmoor"}, "redirect_to"),
        ({"status": "maybe"}, "status"),
        ({"idva_referred": "true"}, "idva_referred"),
        ({"idva_referred": ...}, "idva_referred"),
        ({"acknowledged_by": {"name": "", "role": "x"}}, "acknowledged_by"),
        ({"acknowledged_by": {"name": "A", "role": "x", "mail": "y"}}, "acknowledged_by"),
        ({"schema_version": 3}, "schema_version"),
        ({"redirect_reason": "wrong_area"}, "redirect_reason"),
        ({"to_area": "south-vale"}, "to_area"),
        ({"surprise": True}, "surprise"),
        ({"note": "x" * 2001}, "note"),
    ],
)
def test_invalid_payloads_name_the_field(changes: dict[str, Any], field: str) -> None:
    assert field in errors_of(payload(**changes))


def test_the_api_body_has_no_addressing() -> None:
    body = payload(schema_version=..., from_area=..., to_area=...)
    assert load_acknowledgement_body(body).status == "accepted"
    assert "from_area" in errors_of({**body, "from_area": "northshire"}, body=True)


REDIRECT = {"status": "redirected", "listed_for": None, "redirect_to": "eastmoor"}


def test_a_posted_redirect_says_why() -> None:
    body = payload(schema_version=..., from_area=..., to_area=..., **REDIRECT)
    assert set(errors_of(body, body=True)) == {"redirect_reason"}
    assert load_acknowledgement_body({**body, "redirect_reason": "wrong_area"}).redirect_reason
    assert set(errors_of({**body, "redirect_reason": "other"}, body=True)) == {"note"}
    assert set(errors_of({**body, "redirect_reason": "moved"}, body=True)) == {"redirect_reason"}


def test_version_2_carries_the_reason_and_version_1_has_none() -> None:
    new = payload(schema_version=2, redirect_reason="victim_not_resident", **REDIRECT)
    loaded = load_acknowledgement(new)
    assert loaded.redirect_reason == "victim_not_resident"
    assert dump_acknowledgement(loaded) == new
    assert set(errors_of({**new, "redirect_reason": None})) == {"redirect_reason"}
    old = load_acknowledgement(payload(**REDIRECT))  # a version 1 redirect: no reason
    assert old.redirect_reason is None and "redirect_reason" not in dump_acknowledgement(old)
    accepted = payload(schema_version=2, redirect_reason=None)
    assert dump_acknowledgement(load_acknowledgement(accepted)) == accepted


def test_version_1_of_a_redirect_says_why_in_its_note() -> None:
    new = payload(schema_version=2, redirect_reason="other", note="Moved abroad.", **REDIRECT)
    old = to_version_1(new)
    assert old["note"] == "Reason for redirecting: Another reason (see the note).\n\nMoved abroad."
    assert dump_acknowledgement(load_acknowledgement(old)) == old
    bare = to_version_1({**new, "redirect_reason": "wrong_area", "note": None})
    assert bare["note"] == "Reason for redirecting: The case belongs to another area."
    with pytest.raises(DoesNotFitVersion1):
        to_version_1({**new, "note": "x" * 1990})
    # The negotiation uses it for a peer that reads version 1 only, and names the reason
    # when even the note cannot carry it.
    assert payload_versions.negotiate("acknowledgement", new, (1,)) == old
    assert payload_versions.negotiate("acknowledgement", new, (1, 2)) == new
    with pytest.raises(payload_versions.NotAccepted) as refused:
        payload_versions.negotiate("acknowledgement", {**new, "note": "x" * 1990}, (1,))
    assert refused.value.fields == ("redirect_reason",)

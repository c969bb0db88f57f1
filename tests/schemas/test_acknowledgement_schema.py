"""The `acknowledgement` payload (schema_version 1): exactly the DESIGN body plus its
addressing; the outcome decides which fields are required; unknown fields are refused."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from marshmallow import ValidationError

from schemas.wire.acknowledgement import (
    dump_acknowledgement,
    load_acknowledgement,
    load_acknowledgement_body,
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
        ({"schema_version": 2}, "schema_version"),
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

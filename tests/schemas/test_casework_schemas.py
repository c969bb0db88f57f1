"""The casework payloads: addressing, kinds, reason codes and the 12-month repeat window,
with errors that name the field and never echo a value."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from marshmallow import ValidationError

from schemas.common import DoesNotFit
from schemas.wire.forward_permission import (
    TERMS,
    dump_forward_permission,
    load_forward_permission,
)
from schemas.wire.forward_permission import to_version_1 as permission_to_version_1
from schemas.wire.repeat_incident import load_repeat_incident, repeat_window_end, within_window
from schemas.wire.withdrawal import dump_withdrawal, load_withdrawal

WHO = {"name": "Secretname Person", "role": "MARAC coordinator"}
AREAS = {"schema_version": 1, "from_area": "northshire", "to_area": "south-vale"}


def errors(load: Any, data: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ValidationError) as refused:
        load(data)
    assert "Secretname" not in str(refused.value.messages)
    return dict(refused.value.messages)


def test_a_withdrawal_round_trips_and_refuses_bad_fields() -> None:
    payload = {**AREAS, "reason": "victim_returned", "note": None, "withdrawn_by": WHO}
    assert dump_withdrawal(load_withdrawal(payload)) == payload
    assert "reason" in errors(load_withdrawal, {**payload, "reason": "bored"})
    assert "extra" in errors(load_withdrawal, {**payload, "extra": 1})
    assert "to_area" in errors(load_withdrawal, {**payload, "to_area": "northshire"})
    assert "schema_version" in errors(load_withdrawal, {**payload, "schema_version": 2})
    assert "withdrawn_by" in errors(load_withdrawal, {**payload, "withdrawn_by": None})


def test_forward_permission_kinds_carry_exactly_their_fields() -> None:
    request = {**AREAS, "kind": "request", "forward_to": "westdale", "reason": "other"}
    request["requested_by"] = WHO
    loaded = load_forward_permission(request)
    assert load_forward_permission(dump_forward_permission(loaded)) == loaded
    grant = {
        **AREAS,
        "kind": "grant",
        "forward_to": "westdale",
        "request_id": "5b23be00-3994-4213-9c58-71d742e02698",
        "decided_by": WHO,
    }
    assert load_forward_permission(grant).kind == "grant"
    assert set(errors(load_forward_permission, {**grant, "reason": "other"})) == {"reason"}
    assert set(errors(load_forward_permission, {**request, "decided_by": WHO})) == {"decided_by"}
    missing = errors(load_forward_permission, {**grant, "request_id": None})
    assert set(missing) == {"request_id"}
    for own in ("northshire", "south-vale"):
        assert "forward_to" in errors(load_forward_permission, {**request, "forward_to": own})
    assert "request_id" in errors(load_forward_permission, {**grant, "request_id": "nope"})


GRANT_V2 = {
    **AREAS,
    "schema_version": 2,
    "kind": "grant",
    "forward_to": "westdale",
    "request_id": "5b23be00-3994-4213-9c58-71d742e02698",
    "decided_by": WHO,
    "restrictions": "Not to be shared with the housing provider.",
    "restricted": True,
    "restricted_reason": "forced_marriage",
    "documents": [{"id": "0d7e1f7c-55a8-4a40-9d0a-3d6a2f1b2c11", "kind": "minutes"}],
    "note": None,
    "reason": None,
    "requested_by": None,
}


def test_a_version_2_grant_carries_restrictions_and_covered_documents() -> None:
    loaded = load_forward_permission(GRANT_V2)
    assert loaded.has_terms and loaded.documents[0].kind == "minutes"
    assert dump_forward_permission(loaded) == GRANT_V2
    assert "restricted_reason" in errors(load_forward_permission, {**GRANT_V2, "restricted": False})
    assert "documents" in errors(
        load_forward_permission, {**GRANT_V2, "documents": GRANT_V2["documents"] * 2}
    )
    refusal = {**GRANT_V2, "kind": "refusal"}
    assert {"restrictions", "restricted", "documents"} <= set(
        errors(load_forward_permission, refusal)
    )
    # Version 1 has no place for them: refused as unknown, and never down-converted.
    v1 = {**GRANT_V2, "schema_version": 1}
    assert set(errors(load_forward_permission, v1)) == set(TERMS)
    with pytest.raises(DoesNotFit) as unfit:
        permission_to_version_1(GRANT_V2)
    assert unfit.value.fields == TERMS
    bare = {**GRANT_V2, "restrictions": None, "restricted": False, "restricted_reason": None}
    written = permission_to_version_1({**bare, "documents": []})
    assert written["schema_version"] == 1 and not set(TERMS) & set(written)
    assert load_forward_permission(written).has_terms is False


@pytest.mark.parametrize(
    ("last", "incident", "repeat"),
    [
        ("2025-03-10", "2025-03-10", True),
        ("2025-03-10", "2026-03-10", True),
        ("2025-03-10", "2026-03-11", False),
        ("2025-03-10", "2025-03-09", False),
        ("2024-02-29", "2025-02-28", True),
        ("2024-02-29", "2025-03-01", False),
    ],
)
def test_the_repeat_window_is_12_calendar_months(last: str, incident: str, repeat: bool) -> None:
    first, then = dt.date.fromisoformat(last), dt.date.fromisoformat(incident)
    assert within_window(first, then) is repeat
    payload = {
        **AREAS,
        "incident_date": incident,
        "last_referral_date": last,
        "summary": None,
        "reported_by": WHO,
    }
    if repeat:
        assert load_repeat_incident(payload).incident_date == then
    else:
        assert "incident_date" in errors(load_repeat_incident, payload)


def test_the_window_end_of_a_leap_day() -> None:
    assert repeat_window_end(dt.date(2024, 2, 29)) == dt.date(2025, 2, 28)

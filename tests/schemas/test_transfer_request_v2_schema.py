"""transfer_request version 2 (docs/contract.md): each new rule refuses by field name, a
version 1 payload is still accepted as it was, and a version 2 payload is down-converted
to version 1 only when every fact it holds has a place there."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from marshmallow import ValidationError

from gateway.devtools.samples import sample_transfer, sample_transfer_v1
from schemas.common import DoesNotFit
from schemas.wire.payload_versions import NotAccepted, negotiate
from schemas.wire.transfer_request import (
    down_to_v1,
    dump_transfer_request,
    load_part,
    load_transfer_request,
)


def v2() -> dict[str, Any]:
    return sample_transfer("northshire", "south-vale", victim="Secretname")


def fits_v1() -> dict[str, Any]:
    """A version 2 request holding nothing version 1 lacks a place for."""
    data = v2()
    data["referral"] = dict.fromkeys(data["referral"])
    data["documents"] = data["idva"] = None
    return data


def errors(data: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ValidationError) as refused:
        load_transfer_request(data)
    assert "Secretname" not in str(refused.value.messages)
    return dict(refused.value.messages)


def test_version_2_round_trips_and_version_1_is_accepted_as_before() -> None:
    data = v2()
    assert dump_transfer_request(load_transfer_request(data)) == data
    older = sample_transfer_v1("northshire", "south-vale")
    loaded = load_transfer_request(older)
    assert loaded.schema_version == 1 and loaded.contact is None
    assert dump_transfer_request(loaded) == older
    assert "contact" in errors({**older, "contact": data["contact"]})  # not a v1 field


@pytest.mark.parametrize(
    ("change", "field", "inner"),
    [
        ({"do_not_contact": True}, "contact", "do_not_contact_reason"),
        ({"do_not_contact_reason": "x"}, "contact", "do_not_contact_reason"),
        ({"phone": None, "other_safe_ways": None}, "contact", "phone"),
        ({"safe_to_call": None}, "contact", "safe_to_call"),
        ({"safe_to_call": False, "other_safe_ways": None}, "contact", "other_safe_ways"),
    ],
)
def test_safe_contact_rules_name_their_field(change: dict, field: str, inner: str) -> None:
    data = v2()
    data[field] = {**data[field], **change}
    assert inner in errors(data)[field]


def test_contact_is_required_whatever_the_reason_and_do_not_contact_needs_a_reason() -> None:
    data = v2()
    data["reason"], data["move"] = "risk_in_other_area", None
    del data["contact"]
    assert "contact" in errors(data)
    data["contact"] = {"do_not_contact": True, "do_not_contact_reason": "He reads her phone."}
    assert load_transfer_request(data).contact.do_not_contact


def test_urgency_needs_a_reason() -> None:
    data = {**v2(), "urgent": True}
    assert "urgent_reason" in errors(data)
    assert "urgent_reason" in errors({**v2(), "urgent_reason": "Emergency MARAC"})
    data["urgent_reason"] = "Emergency MARAC called for Friday."
    assert load_transfer_request(data).urgent


def test_an_incident_while_visiting_needs_no_last_marac_facts() -> None:
    data = {**v2(), "last_marac_date": None, "marac_count_last_12_months": None}
    refused = errors(data)
    assert "last_marac_date" in refused and "marac_count_last_12_months" in refused
    data["heard_at_originating_marac"] = False
    assert load_transfer_request(data).last_marac_date is None


def test_professional_judgement_needs_a_comment_and_callouts_are_bounded() -> None:
    data = v2()
    data["referral_criteria"] = ["professional_judgement"]
    assert "comment" in errors(data)["referral"]
    data["referral"]["comment"] = "Escalating stalking since the separation."
    load_transfer_request(data)
    data["referral"]["police_callouts_12_months"] = -1
    assert "police_callouts_12_months" in errors(data)["referral"]


def test_equality_monitoring_is_optional_and_coded() -> None:
    data = {**v2(), "equality": {"bme": "yes", "disabled": "not_known", "lgbt": None}}
    assert load_transfer_request(data).equality.bme == "yes"
    data["equality"] = {"bme": "asian"}
    assert "bme" in errors(data)["equality"]


def test_consent_reasons_are_their_own_field_and_grounds_hold_lawful_bases() -> None:
    data = v2()
    consent = data["consent"]
    consent["grounds"] = [*consent["grounds"], "consent_would_increase_risk"]
    assert "grounds" in errors(data)["consent"]
    consent["grounds"].pop()
    consent.update(consent="not_sought", victim_informed="not_safe")
    assert "not_seeking_reasons" in errors(data)["consent"]
    consent["not_seeking_reasons"] = ["would_increase_risk", "would_cause_undue_delay"]
    load_transfer_request(data)
    consent["grounds"] = []
    assert "grounds" in errors(data)["consent"]


@pytest.mark.parametrize("state", ["given", "refused"])
def test_asking_for_consent_means_the_victim_was_told(state: str) -> None:
    data = v2()
    data["consent"].update(consent=state, victim_informed="no")
    assert "victim_informed" in errors(data)["consent"]


def test_restrictions_are_required_without_consent() -> None:
    data = v2()
    data["consent"]["restrictions"] = None
    assert "restrictions" in errors(data)["consent"]
    data["consent"]["consent"] = "given"
    load_transfer_request(data)


def test_documents_idva_and_forced_marriage() -> None:
    data = v2()
    data["documents"]["not_shared"][0]["reason"] = ""
    assert "documents" in errors(data)
    data = {**v2(), "idva": {"name": "Ida", "phone": None, "email": None}}
    assert "phone" in errors(data)["idva"]
    data = {**v2(), "restricted": True, "restricted_reason": "forced_marriage"}
    assert load_transfer_request(data).restricted_reason == "forced_marriage"
    older = {**sample_transfer_v1("northshire", "south-vale"), "restricted": True}
    assert "restricted_reason" in errors({**older, "restricted_reason": "forced_marriage"})


def test_content_that_fits_version_1_is_down_converted() -> None:
    data = fits_v1()
    data["consent"].update(consent="not_sought", victim_informed="not_safe")
    data["consent"]["not_seeking_reasons"] = ["would_increase_risk"]
    older = down_to_v1(data)
    loaded = load_transfer_request(older)
    assert loaded.schema_version == 1
    assert loaded.move is not None and loaded.move.contact_safe is False
    assert loaded.move.safe_contact is not None
    assert loaded.move.safe_contact.phone == data["contact"]["phone"]
    assert "consent_would_increase_risk" in loaded.consent.grounds
    assert negotiate("transfer_request", data, (1,)) == older
    assert negotiate("transfer_request", data, (1, 2)) == data


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"urgent": True, "urgent_reason": "Emergency MARAC"}, "urgent"),
        ({"heard_at_originating_marac": False}, "heard_at_originating_marac"),
        ({"reason": "risk_in_other_area", "move": None}, "contact"),
        ({"restricted": True, "restricted_reason": "forced_marriage"}, "restricted_reason"),
        ({"equality": {"bme": "no"}}, "equality"),
    ],
)
def test_content_without_a_place_in_version_1_is_refused_by_name(change: dict, field: str) -> None:
    data = {**fits_v1(), **copy.deepcopy(change)}
    with pytest.raises(DoesNotFit) as refused:
        down_to_v1(data)
    assert field in refused.value.fields
    with pytest.raises(NotAccepted) as named:
        negotiate("transfer_request", data, (1,))
    assert "version(s) 1 only" in named.value.explanation


def test_a_page_part_is_validated_against_version_2() -> None:
    assert load_part({"urgent": True}) == {"urgent": True}
    assert load_part({"contact.do_not_contact": False}) == {"contact": {"do_not_contact": False}}
    with pytest.raises(ValidationError):
        load_part({"move.contact_safe": True})

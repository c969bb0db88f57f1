"""transfer_request v1: the binding payload contract between MARAC areas.

All people, places and references here are fictional.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from schemas.common import SHORT
from schemas.wire.grounds import LEGAL_GROUNDS
from schemas.wire.transfer_request import (
    Child,
    ConsentDecision,
    Move,
    TransferRequest,
    TransferRequestSchema,
    Victim,
    dump_transfer_request,
    load_transfer_request,
)


def today() -> date:
    """Read when used, not at import: a run that crosses midnight (UTC, as the schema
    reads it) would otherwise call today's date "tomorrow"."""
    return datetime.now(UTC).date()


REQUIRED_TOP_LEVEL = {
    "schema_version",
    "from_area",
    "to_area",
    "sender",
    "reason",
    "originating_case_ref",
    "last_marac_date",
    "marac_count_last_12_months",
    "referral_criteria",
    "victim",
    "consent",
}


def iso(day: date) -> str:
    return day.isoformat()


def valid_request() -> dict[str, Any]:
    """A complete valid request, every key present, so a dump reproduces it exactly."""
    decided = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    return {
        "schema_version": 1,
        "from_area": "northshire",
        "to_area": "south-vale",
        "sender": {
            "name": "Bea Sample",
            "role": "MARAC coordinator",
            "mailbox": "marac@northshire.example",
        },
        "reason": "relocation_refuge",
        "originating_case_ref": "NS-MARAC-0001",
        "last_marac_date": iso(today() - timedelta(days=14)),
        "marac_count_last_12_months": 2,
        "referral_criteria": ["visible_high_risk", "repeat"],
        "dash_score": 17,
        "incident_date": iso(today() - timedelta(days=30)),
        "move": {
            "date": iso(today() + timedelta(days=10)),
            "new_address": None,
            "contact_safe": False,
            "safe_contact": {
                "phone": "01632 960000",
                "times": "Weekdays 10:00-12:00",
                "notes": "Via the refuge key worker only.",
            },
        },
        "victim": {
            "given_names": "Ada",
            "family_name": "Example",
            "aliases": ["Addy Example"],
            "previous_family_names": ["Placeholder"],
            "date_of_birth": "1990-04-01",
            "gender": "female",
            "address": "1 Fictional Row, Northshire",
            "language": "English",
            "interpreter_needed": False,
        },
        "perpetrators": [
            {
                "given_names": "Carl",
                "family_name": "Fakename",
                "aliases": [],
                "date_of_birth": None,
                "address": "2 Imaginary Lane, Northshire",
                "relationship_to_victim": "ex-partner",
            }
        ],
        "children": [
            {
                "given_names": "Dot",
                "family_name": "Example",
                "date_of_birth": "2019-06-15",
                "expected_date": None,
                "relationship_to_victim": "daughter",
                "relationship_to_perpetrator": "daughter",
                "address": None,
                "school": "Nowhere Primary",
            },
            {
                "given_names": None,
                "family_name": None,
                "date_of_birth": None,
                "expected_date": iso(today() + timedelta(days=90)),
                "relationship_to_victim": "unborn child",
                "relationship_to_perpetrator": "unborn child",
                "address": None,
                "school": None,
            },
        ],
        "risks": [
            {
                "risk": "Threats to locate the victim through family.",
                "to_whom": "victim",
                "interventions": "Refuge placement; police marker.",
            }
        ],
        "afraid_of": "Being found by the ex-partner.",
        "safe_to_talk_to": "Her sister.",
        "not_safe_to_talk_to": "The ex-partner's mother.",
        "new_information": None,
        "outstanding_actions": [
            {
                "agency": "Police",
                "action": "Transfer the address marker.",
                "due": iso(today() + timedelta(days=7)),
            }
        ],
        "restricted": False,
        "restricted_reason": None,
        "consent": {
            "victim_informed": "yes",
            "consent": "refused",
            "grounds": ["crime_and_disorder_act_1998_s115", "dpa_2018_sch1_para18_safeguarding"],
            "rationale": "Serious risk of harm to the victim and her children.",
            "disclosed": "Identity, risks and the MARAC action plan.",
            "restrictions": "Not to be shared beyond the receiving MARAC.",
            "decided_by": {"name": "Eve Sample", "role": "MARAC chair"},
            "decided_at": decided.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "decision_forum": "at_meeting",
            "minutes_sharing_agreed_by": ["Police", "IDVA service"],
        },
    }


def errors_of(data: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ValidationError) as excinfo:
        load_transfer_request(data)
    messages = excinfo.value.messages
    assert isinstance(messages, dict)
    return messages


def at(messages: dict[str, Any], *path: str | int) -> Any:
    """The error under a field path, failing with the whole error dict if it is not there."""
    node: Any = messages
    for step in path:
        assert isinstance(node, dict), (path, messages)
        assert step in node, (path, messages)
        node = node[step]
    return node


@pytest.fixture
def request_data() -> dict[str, Any]:
    return valid_request()


# --- valid requests ----------------------------------------------------------------------------


def test_valid_request_loads_into_frozen_dataclasses(request_data):
    loaded = load_transfer_request(request_data)
    assert isinstance(loaded, TransferRequest)
    assert isinstance(loaded.victim, Victim)
    assert isinstance(loaded.move, Move)
    assert isinstance(loaded.consent, ConsentDecision)
    assert all(isinstance(child, Child) for child in loaded.children)
    assert loaded.victim.given_names == "Ada"
    assert loaded.last_marac_date == today() - timedelta(days=14)
    assert loaded.referral_criteria == ("visible_high_risk", "repeat")
    assert loaded.children[1].unborn
    with pytest.raises(AttributeError):
        loaded.victim.family_name = "Changed"  # type: ignore[misc]
    hash(loaded)  # immutable all the way down


def test_dump_round_trips(request_data):
    loaded = load_transfer_request(request_data)
    dumped = TransferRequestSchema().dump(loaded)
    assert dumped == request_data
    assert dump_transfer_request(loaded) == request_data
    assert load_transfer_request(dumped) == loaded


def test_minimal_request_fills_defaults_and_round_trips(request_data):
    minimal = {key: request_data[key] for key in REQUIRED_TOP_LEVEL}
    minimal["reason"] = "risk_in_other_area"
    minimal["referral_criteria"] = ["professional_judgement"]
    minimal["victim"] = {"given_names": "Ada", "family_name": "Example"}
    loaded = load_transfer_request(minimal)
    assert loaded.move is None
    assert loaded.dash_score is None
    assert loaded.perpetrators == ()
    assert loaded.restricted is False
    assert loaded.victim.date_of_birth is None
    assert load_transfer_request(dump_transfer_request(loaded)) == loaded


def test_consent_given_needs_no_grounds(request_data):
    request_data["consent"].update(
        consent="given", grounds=[], rationale=None, disclosed=None, restrictions=None
    )
    assert load_transfer_request(request_data).consent.grounds == ()


def test_required_top_level_fields_match_contract():
    required = {name for name, f in TransferRequestSchema().fields.items() if f.required}
    assert required == REQUIRED_TOP_LEVEL


def test_every_ground_has_a_label():
    assert len(LEGAL_GROUNDS) >= 11
    assert all(code.islower() and label.strip() for code, label in LEGAL_GROUNDS.items())


# --- consent and legal grounds -----------------------------------------------------------------


def test_grounds_required_when_consent_refused(request_data):
    request_data["consent"]["grounds"] = []
    assert at(errors_of(request_data), "consent", "grounds")


def test_grounds_required_when_absent_and_consent_not_sought(request_data):
    request_data["consent"]["consent"] = "not_sought"
    del request_data["consent"]["grounds"]
    assert at(errors_of(request_data), "consent", "grounds")


def test_rationale_required_with_grounds(request_data):
    request_data["consent"]["rationale"] = "  "
    assert at(errors_of(request_data), "consent", "rationale")


def test_rationale_required_when_consent_given_but_grounds_listed(request_data):
    request_data["consent"].update(consent="given", rationale=None)
    assert at(errors_of(request_data), "consent", "rationale")


def test_disclosed_required_when_consent_not_given(request_data):
    request_data["consent"]["disclosed"] = None
    assert at(errors_of(request_data), "consent", "disclosed")


def test_unknown_ground_code_refused(request_data):
    request_data["consent"]["grounds"] = ["crime_and_disorder_act_1998_s115", "because_i_said_so"]
    assert at(errors_of(request_data), "consent", "grounds", 1)


def test_duplicate_ground_refused(request_data):
    request_data["consent"]["grounds"] = ["care_act_2014_s42", "care_act_2014_s42"]
    assert at(errors_of(request_data), "consent", "grounds")


@pytest.mark.parametrize("informed", ["no", "not_safe"])
def test_consent_given_requires_victim_informed(request_data, informed):
    request_data["consent"].update(victim_informed=informed, consent="given")
    messages = errors_of(request_data)
    assert "informed" in at(messages, "consent", "consent")[0]


def test_decided_at_in_future_refused(request_data):
    future = datetime.now(UTC) + timedelta(days=1)
    request_data["consent"]["decided_at"] = future.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert at(errors_of(request_data), "consent", "decided_at")


def test_decided_by_required(request_data):
    del request_data["consent"]["decided_by"]
    assert at(errors_of(request_data), "consent", "decided_by")


# --- referral criteria and DASH ----------------------------------------------------------------


def test_dash_required_with_visible_high_risk(request_data):
    request_data["dash_score"] = None
    assert at(errors_of(request_data), "dash_score")


def test_dash_optional_without_visible_high_risk(request_data):
    request_data["referral_criteria"] = ["professional_judgement"]
    request_data["dash_score"] = None
    assert load_transfer_request(request_data).dash_score is None


@pytest.mark.parametrize("score", [28, -1, 3.5, "14", True])
def test_dash_out_of_range_or_wrong_type_refused(request_data, score):
    request_data["dash_score"] = score
    assert at(errors_of(request_data), "dash_score")


@pytest.mark.parametrize("score", [0, 27])
def test_dash_bounds_accepted(request_data, score):
    request_data["dash_score"] = score
    assert load_transfer_request(request_data).dash_score == score


@pytest.mark.parametrize(
    "criteria", [[], ["visible_high_risk", "visible_high_risk"], ["meets_local_threshold"]]
)
def test_bad_referral_criteria_refused(request_data, criteria):
    request_data["referral_criteria"] = criteria
    assert at(errors_of(request_data), "referral_criteria")


@pytest.mark.parametrize("count", [-1, 53])
def test_marac_count_bounds(request_data, count):
    request_data["marac_count_last_12_months"] = count
    assert at(errors_of(request_data), "marac_count_last_12_months")


# --- move --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reason", ["relocation_permanent", "relocation_refuge", "relocation_temporary"]
)
def test_move_required_for_relocation(request_data, reason):
    request_data["reason"] = reason
    del request_data["move"]
    assert at(errors_of(request_data), "move")


def test_move_may_be_absent_for_risk_in_other_area(request_data):
    request_data["reason"] = "risk_in_other_area"
    del request_data["move"]
    assert load_transfer_request(request_data).move is None


def test_unsafe_contact_needs_safe_contact(request_data):
    request_data["move"]["safe_contact"] = None
    assert at(errors_of(request_data), "move", "safe_contact")


def test_unsafe_contact_needs_phone_or_notes(request_data):
    request_data["move"]["safe_contact"] = {"phone": None, "times": "Mornings", "notes": ""}
    assert at(errors_of(request_data), "move", "safe_contact")


def test_safe_contact_optional_when_contact_safe(request_data):
    request_data["move"].update(contact_safe=True, safe_contact=None)
    assert load_transfer_request(request_data).move is not None


def test_contact_safe_must_be_a_boolean(request_data):
    request_data["move"]["contact_safe"] = "no"
    assert at(errors_of(request_data), "move", "contact_safe")


# --- dates -------------------------------------------------------------------------------------


def test_future_date_of_birth_refused(request_data):
    request_data["victim"]["date_of_birth"] = iso(today() + timedelta(days=1))
    assert at(errors_of(request_data), "victim", "date_of_birth")


def test_future_last_marac_date_refused(request_data):
    request_data["last_marac_date"] = iso(today() + timedelta(days=1))
    assert at(errors_of(request_data), "last_marac_date")


def test_future_incident_date_refused(request_data):
    request_data["incident_date"] = iso(today() + timedelta(days=1))
    assert at(errors_of(request_data), "incident_date")


def test_child_with_both_dob_and_expected_date_refused(request_data):
    request_data["children"][0]["expected_date"] = iso(today() + timedelta(days=30))
    messages = errors_of(request_data)
    assert at(messages, "children", 0, "date_of_birth")
    assert at(messages, "children", 0, "expected_date")


def test_child_with_neither_dob_nor_expected_date_refused(request_data):
    request_data["children"][1]["expected_date"] = None
    assert at(errors_of(request_data), "children", 1, "date_of_birth")


def test_expected_date_in_past_refused(request_data):
    request_data["children"][1]["expected_date"] = iso(today() - timedelta(days=1))
    assert at(errors_of(request_data), "children", 1, "expected_date")


def test_born_child_needs_given_names(request_data):
    request_data["children"][0]["given_names"] = None
    assert at(errors_of(request_data), "children", 0, "given_names")


# --- strictness, restriction, areas, lengths ---------------------------------------------------


def test_unknown_top_level_field_refused(request_data):
    request_data["meets_receiving_threshold"] = True
    assert at(errors_of(request_data), "meets_receiving_threshold")


def test_unknown_nested_field_refused(request_data):
    request_data["victim"]["nickname"] = "Ad"
    assert at(errors_of(request_data), "victim", "nickname")


def test_unknown_field_in_list_item_refused(request_data):
    request_data["risks"][0]["severity"] = "high"
    assert at(errors_of(request_data), "risks", 0, "severity")


def test_restricted_without_reason_refused(request_data):
    request_data["restricted"] = True
    assert at(errors_of(request_data), "restricted_reason")


def test_reason_without_restriction_refused(request_data):
    request_data["restricted_reason"] = "position_of_trust"
    assert at(errors_of(request_data), "restricted_reason")


def test_restricted_with_reason_accepted(request_data):
    request_data.update(restricted=True, restricted_reason="honour_based_violence")
    assert load_transfer_request(request_data).restricted_reason == "honour_based_violence"


def test_over_long_name_refused(request_data):
    request_data["victim"]["family_name"] = "x" * (SHORT + 1)
    assert at(errors_of(request_data), "victim", "family_name")


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_blank_required_text_refused(request_data, blank):
    request_data["victim"]["given_names"] = blank
    assert at(errors_of(request_data), "victim", "given_names")


def test_too_many_perpetrators_refused(request_data):
    request_data["perpetrators"] = request_data["perpetrators"] * 11
    assert at(errors_of(request_data), "perpetrators")


def test_nameless_perpetrator_refused(request_data):
    request_data["perpetrators"][0].update(given_names=None, family_name=None, aliases=[])
    assert at(errors_of(request_data), "perpetrators", 0, "given_names")


def test_same_from_and_to_area_refused(request_data):
    request_data["to_area"] = request_data["from_area"]
    assert at(errors_of(request_data), "to_area")


@pytest.mark.parametrize("code", ["North Shire", "-northshire", "n", "NORTHSHIRE", ""])
def test_bad_area_code_refused(request_data, code):
    request_data["from_area"] = code
    assert at(errors_of(request_data), "from_area")


@pytest.mark.parametrize("version", [3, 0, "1", True])
def test_schema_version_must_be_a_known_version(request_data, version):
    request_data["schema_version"] = version
    assert at(errors_of(request_data), "schema_version")


def test_bad_sender_mailbox_refused(request_data):
    request_data["sender"]["mailbox"] = "not-an-email"
    assert at(errors_of(request_data), "sender", "mailbox")


# --- property ----------------------------------------------------------------------------------

_TEMPLATE = valid_request()


@settings(max_examples=30, deadline=None)
@given(key=st.sampled_from(sorted(REQUIRED_TOP_LEVEL)))
def test_deleting_any_required_key_is_named(key):
    data = copy.deepcopy(_TEMPLATE)
    del data[key]
    with pytest.raises(ValidationError) as excinfo:
        TransferRequestSchema().load(data)
    assert key in excinfo.value.messages

"""A complete transfer_request about fictional people, dated relative to today: version 2
(`sample_transfer`), and the same case as version 1 (`sample_transfer_v1`, what a node or
client that predates version 2 sends).

Used by the demo so a newcomer sees a realistic transfer; every name, address and
reference here is invented.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def sample_transfer(from_area: str, to_area: str, *, victim: str = "Ada") -> dict[str, Any]:
    """Version 2: safe contact, urgency, the referral narrative, documents to follow, the
    IDVA handover, and consent reasons apart from the lawful grounds."""
    older = sample_transfer_v1(from_area, to_area, victim=victim)
    today = datetime.now(UTC).date()
    move = {key: older["move"][key] for key in ("date", "new_address")}
    consent = {**older["consent"], "not_seeking_reasons": []}
    return {
        **older,
        "schema_version": 2,
        "heard_at_originating_marac": True,
        "urgent": False,
        "urgent_reason": None,
        "contact": {
            "phone": "01632 960000",
            "safe_to_call": False,
            "safe_times": "Weekdays 10:00-12:00",
            "other_safe_ways": "Via the refuge key worker only.",
            "do_not_contact": False,
            "do_not_contact_reason": None,
        },
        "move": move,
        "referral": {
            "incident": "Assault at the former home after she asked him to leave.",
            "contributory_factors": "Separation; his drinking.",
            "relevant_history": "Two earlier MARACs; a non-molestation order in 2025.",
            "comment": None,
            "police_callouts_12_months": 4,
        },
        "equality": None,
        "documents": {
            "to_follow": [
                {"document": "MARAC minutes", "by": (today + timedelta(days=5)).isoformat()}
            ],
            "not_shared": [
                {"document": "Health records", "reason": "Held by the GP; ask them directly."}
            ],
        },
        "idva": {
            "name": "Ida Sample",
            "organisation": "Sample IDVA service",
            "phone": "01632 960001",
            "email": f"idva@{from_area}.example",
        },
        "consent": consent,
    }


def sample_transfer_v1(from_area: str, to_area: str, *, victim: str = "Ada") -> dict[str, Any]:
    """The same case as version 1 (DESIGN section 4)."""
    now = datetime.now(UTC)
    today = now.date()

    def day(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    return {
        "schema_version": 1,
        "from_area": from_area,
        "to_area": to_area,
        "sender": {
            "name": "Bea Sample",
            "role": "MARAC coordinator",
            "mailbox": f"marac@{from_area}.example",
        },
        "reason": "relocation_refuge",
        "originating_case_ref": "DEMO-0001",
        "last_marac_date": day(-14),
        "marac_count_last_12_months": 2,
        "referral_criteria": ["visible_high_risk", "repeat"],
        "dash_score": 17,
        "incident_date": day(-30),
        "move": {
            "date": day(10),
            "new_address": "Refuge address withheld; contact via key worker",
            "contact_safe": False,
            "safe_contact": {
                "phone": "01632 960000",
                "times": "Weekdays 10:00-12:00",
                "notes": "Via the refuge key worker only.",
            },
        },
        "victim": {
            "given_names": victim,
            "family_name": "Example",
            "aliases": [],
            "previous_family_names": ["Placeholder"],
            "date_of_birth": "1990-04-01",
            "gender": "female",
            "address": "1 Fictional Row",
            "language": "English",
            "interpreter_needed": False,
        },
        "perpetrators": [
            {
                "given_names": "Carl",
                "family_name": "Fakename",
                "aliases": [],
                "date_of_birth": None,
                "address": "2 Imaginary Lane",
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
            }
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
            {"agency": "Police", "action": "Transfer the address marker.", "due": day(7)}
        ],
        "restricted": False,
        "restricted_reason": None,
        "consent": {
            "victim_informed": "yes",
            "consent": "refused",
            "grounds": ["crime_and_disorder_act_1998_s115", "dpa_2018_sch1_para18_safeguarding"],
            "rationale": "Serious risk of harm to the victim and her child.",
            "disclosed": "Identity, risks and the MARAC action plan.",
            "restrictions": "Not to be shared beyond the receiving MARAC.",
            "decided_by": {"name": "Eve Sample", "role": "MARAC chair"},
            "decided_at": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "decision_forum": "at_meeting",
            "minutes_sharing_agreed_by": ["Police", "IDVA service"],
        },
    }

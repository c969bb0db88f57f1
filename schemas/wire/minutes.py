"""Structured minutes for one case, following the MARAC minutes checklist (seed 002,
appendix 3): the meeting, its confidentiality statement, the case details, what was
shared (each entry marked fact or opinion, with the agency it came from), the risks,
and the actions agreed (agency, owner role, due date, status).

They are posted as JSON to `/api/v1/transfers/<id>/documents` as `{"kind": "minutes",
"minutes": {...}}` and travel as a `document` whose bytes are this object's canonical
JSON, media type `application/vnd.marac.minutes+json`. Unknown fields are refused.

The format is versioned like a payload (docs/contract.md, "Minutes, format version 2"):
version 1 has no `schema_version` member; version 2 says `"schema_version": 2`, calls a
professional's assessment `professional_judgement` (version 1's `opinion`, the same
thing: seed 000 4.18), allows `repeat` as the referral basis, lets an attendee's agency
name the `area` it covers, and records `sharing_agreed_by`, the agencies that agreed to
share the minutes: every agency that supplied an entry must be among them (seed 002
appendix 3 II). Receivers accept both; posted minutes are version 2. `to_version_1`
writes version 2 minutes for a node that reads only version 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.common import (
    LONG,
    MEDIUM,
    SHORT,
    PastDate,
    StrictSchema,
    area_code,
    optional_text,
    required_text,
)
from schemas.wire.transfer_request import StrictBoolean, StrictInteger

FACT, OPINION, PROFESSIONAL_JUDGEMENT = "fact", "opinion", "professional_judgement"
ENTRY_KINDS = (FACT, OPINION)
ENTRY_KINDS_V2 = (FACT, PROFESSIONAL_JUDGEMENT)
VERSION_2 = 2
ACTION_STATUSES = ("open", "in_progress", "completed", "outstanding")
RISK_SUBJECTS = ("victim", "child", "other", "staff")
REFERRAL_BASES = ("visible_high_risk", "professional_judgement", "potential_escalation")
REPEAT = "repeat"
REFERRAL_BASES_V2 = (*REFERRAL_BASES, REPEAT)
AWARE = ("yes", "no", "unknown")
FLAGGED_TO = ("mappa_ppani", "child_protection", "safeguarding_adults")
MAX_PEOPLE, MAX_ENTRIES, MAX_ITEMS = 100, 500, 200


def _list(nested: Any, *, minimum: int = 0, maximum: int = MAX_ITEMS) -> fields.List[Any]:
    size = validate.Length(min=minimum, max=maximum)
    if minimum > 0:
        return fields.List(fields.Nested(nested), required=True, validate=size)
    return fields.List(fields.Nested(nested), load_default=list, validate=size)


def _agencies() -> fields.List[Any]:
    return fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        load_default=list,
        validate=validate.Length(max=MAX_PEOPLE),
    )


class AttendeeSchema(StrictSchema):
    agency = required_text()
    role = optional_text()
    name = optional_text()


class EntrySchema(StrictSchema):
    """Key information shared at the meeting and its source."""

    kind = fields.String(required=True, validate=validate.OneOf(ENTRY_KINDS))
    source_agency = required_text()
    text = required_text(LONG)


class MinutesRiskSchema(StrictSchema):
    risk = required_text(MEDIUM)
    to_whom = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(RISK_SUBJECTS)
    )


class ActionSchema(StrictSchema):
    action = required_text(MEDIUM)
    agency = required_text()
    owner_role = required_text()
    due = fields.Date(required=True)
    status = fields.String(required=True, validate=validate.OneOf(ACTION_STATUSES))
    joint = StrictBoolean(load_default=False)
    reason_incomplete = optional_text(MEDIUM)


class MinutesSchema(StrictSchema):
    # I. The meeting.
    meeting_date = PastDate(required=True)
    marac = optional_text()
    case_number = optional_text()
    attendees = _list(AttendeeSchema, minimum=1, maximum=MAX_PEOPLE)
    observers = _agencies()
    apologies = _agencies()
    # II. The confidentiality statement was read and confirmed.
    confidentiality_statement_confirmed = StrictBoolean(required=True)
    # III. Actions outstanding from previous MARACs.
    previous_actions = _list(ActionSchema)
    # IV. Case details.
    referring_agency = optional_text()
    victim_aware_of_referral = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(AWARE)
    )
    repeat = StrictBoolean(load_default=None, allow_none=True)
    marac_count_last_12_months = StrictInteger(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=52)
    )
    last_marac_date = PastDate(load_default=None, allow_none=True)
    referral_basis = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(REFERRAL_BASES)
    )
    incident_date = PastDate(load_default=None, allow_none=True)
    entries = _list(EntrySchema, minimum=1, maximum=MAX_ENTRIES)
    risks = _list(MinutesRiskSchema)
    actions = _list(ActionSchema)
    victim_information_direct = StrictBoolean(load_default=None, allow_none=True)
    feedback_to_victim_by = optional_text()
    flagged_to = fields.List(
        fields.String(validate=validate.OneOf(FLAGGED_TO)),
        load_default=list,
        validate=validate.Length(max=len(FLAGGED_TO)),
    )
    referred_to_other_marac = StrictBoolean(load_default=None, allow_none=True)

    @validates_schema
    def check_confidentiality(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("confidentiality_statement_confirmed") is False:
            raise ValidationError(
                {
                    "confidentiality_statement_confirmed": [
                        "Minutes are shared only once the confidentiality statement was "
                        "confirmed at the meeting."
                    ]
                }
            )


# --- version 2 ------------------------------------------------------------------------------


class AttendeeV2Schema(AttendeeSchema):
    area = area_code(
        load_default=None,
        allow_none=True,
        metadata={"description": "The area the attendee's agency covers, when it says."},
    )


class EntryV2Schema(EntrySchema):
    kind = fields.String(required=True, validate=validate.OneOf(ENTRY_KINDS_V2))


class MinutesV2Schema(MinutesSchema):
    schema_version = StrictInteger(required=True, validate=validate.Equal(VERSION_2))
    attendees = _list(AttendeeV2Schema, minimum=1, maximum=MAX_PEOPLE)
    entries = _list(EntryV2Schema, minimum=1, maximum=MAX_ENTRIES)
    referral_basis = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(REFERRAL_BASES_V2)
    )
    sharing_agreed_by = fields.List(
        fields.String(validate=validate.Length(min=1, max=SHORT)),
        required=True,
        validate=validate.Length(max=MAX_PEOPLE),
        metadata={"description": "The agencies that agreed to share these minutes."},
    )

    @validates_schema
    def check_sharing(self, data: dict[str, Any], **_: Any) -> None:
        """Minutes are not shared without the agreement of the agencies concerned (seed
        002 appendix 3 II): each agency that supplied an entry."""
        agreed = {_agency(name) for name in data.get("sharing_agreed_by") or ()}
        missing = sorted(
            {
                entry["source_agency"]
                for entry in data.get("entries") or ()
                if _agency(entry["source_agency"]) not in agreed
            }
        )
        if missing:
            raise ValidationError(
                {
                    "sharing_agreed_by": [
                        "These agencies supplied entries but did not agree to share the "
                        "minutes: " + "; ".join(missing) + "."
                    ]
                }
            )


def _agency(name: str) -> str:
    return " ".join(name.split()).casefold()


class MinutesDoNotFitVersion1(ValueError):
    """Version 2 minutes that version 1 cannot carry without losing a fact; its argument
    names the field."""

    @property
    def field(self) -> str:
        return str(self.args[0]) if self.args else "minutes"


def load_minutes(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate structured minutes of either version (no `schema_version`: version 1);
    returns the canonical JSON-able form (dates ISO 8601, absent optional values null).
    Raises marshmallow.ValidationError."""
    schema = _V2 if "schema_version" in data else _SCHEMA
    loaded = schema.load(data)
    dumped: dict[str, Any] = schema.dump(loaded)
    return dumped


def load_posted_minutes(data: Mapping[str, Any]) -> dict[str, Any]:
    """Minutes a coordinator posts: version 2 (its rules apply), `schema_version` implied."""
    loaded = _V2.load({"schema_version": VERSION_2, **data})
    dumped: dict[str, Any] = _V2.dump(loaded)
    return dumped


def to_version_1(minutes: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical version 2 minutes written as version 1, losing no fact:

    - a professional judgement is an `opinion`. Version 1 has one kind besides `fact`, and
      what it means is the professional's own assessment (seed 002 8.4 "professional
      opinion"); version 2 only renames it after seed 000 4.18 ("fact and professional
      judgement not personal opinion"). Neither version can say "personal opinion", so the
      mapping is one to one and a version 1 reader learns exactly what was meant;
    - a `repeat` referral basis is `repeat: true` with no basis;
    - an attendee's area goes into its agency's text ("Police (covers south-vale)");
    - the sharing agreement (seed 002 appendix 3 II) becomes a last `fact` entry naming
      the agencies, from the MARAC itself, so the receiver still reads who agreed.

    Raises MinutesDoNotFitVersion1 naming the field when a text or list would grow past
    its version 1 limit."""
    result = {k: v for k, v in minutes.items() if k not in ("schema_version", "sharing_agreed_by")}
    entries = [
        {**entry, "kind": OPINION if entry["kind"] == PROFESSIONAL_JUDGEMENT else entry["kind"]}
        for entry in minutes["entries"]
    ]
    agreed = minutes.get("sharing_agreed_by") or []
    if agreed:
        entries.append(
            {
                "kind": FACT,
                "source_agency": minutes.get("marac") or "The MARAC",
                "text": SHARING_AGREED_WORDS + "; ".join(agreed) + ".",
            }
        )
        if len(entries) > MAX_ENTRIES or len(entries[-1]["text"]) > LONG:
            raise MinutesDoNotFitVersion1("sharing_agreed_by")
    result["entries"] = entries
    result["attendees"] = [_attendee_v1(attendee) for attendee in minutes["attendees"]]
    if minutes.get("referral_basis") == REPEAT:
        result["referral_basis"], result["repeat"] = None, True
    return result


# How version 1 minutes say who agreed to share them (to_version_1's last entry).
SHARING_AGREED_WORDS = "Agencies that agreed to share these minutes: "


def _attendee_v1(attendee: Mapping[str, Any]) -> dict[str, Any]:
    result = {k: v for k, v in attendee.items() if k != "area"}
    if attendee.get("area"):
        result["agency"] = f"{attendee['agency']} (covers {attendee['area']})"
        if len(result["agency"]) > SHORT:
            raise MinutesDoNotFitVersion1("attendees")
    return result


_SCHEMA = MinutesSchema()
_V2 = MinutesV2Schema()

__all__ = [
    "MinutesDoNotFitVersion1",
    "MinutesSchema",
    "MinutesV2Schema",
    "load_minutes",
    "load_posted_minutes",
    "to_version_1",
]

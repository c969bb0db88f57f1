"""Structured minutes for one case, following the MARAC minutes checklist (seed 002,
appendix 3): the meeting, its confidentiality statement, the case details, what was
shared (each entry marked fact or opinion, with the agency it came from), the risks,
and the actions agreed (agency, owner role, due date, status).

They are posted as JSON to `/api/v1/transfers/<id>/documents` as `{"kind": "minutes",
"minutes": {...}}` and travel as a `document` whose bytes are this object's canonical
JSON, media type `application/vnd.marac.minutes+json`. Unknown fields are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.common import LONG, MEDIUM, PastDate, StrictSchema, optional_text, required_text
from schemas.wire.transfer_request import StrictBoolean, StrictInteger

ENTRY_KINDS = ("fact", "opinion")
ACTION_STATUSES = ("open", "in_progress", "completed", "outstanding")
RISK_SUBJECTS = ("victim", "child", "other", "staff")
REFERRAL_BASES = ("visible_high_risk", "professional_judgement", "potential_escalation")
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


def load_minutes(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate structured minutes; returns the canonical JSON-able form (dates ISO 8601,
    absent optional values null). Raises marshmallow.ValidationError."""
    loaded = _SCHEMA.load(data)
    dumped: dict[str, Any] = _SCHEMA.dump(loaded)
    return dumped


_SCHEMA = MinutesSchema()

__all__ = ["MinutesSchema", "load_minutes"]

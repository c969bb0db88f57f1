"""Payload `repeat_incident`, schema_version 1: the originating area tells the area now
holding a transferred case of a new incident within 12 calendar months of the case's last
MARAC referral, which makes it a repeat (seed 000 4.3: an incident more than 12 months
after the last referral is not a repeat; 001 4.2.1, 5.0).

The payload carries the last referral date it is measured from, so both sides check the
window with the same rule. Unknown fields are refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError, fields, post_load, validates_schema

from schemas.common import MEDIUM, PastDate, StrictSchema, optional_text
from schemas.wire.addressed import addressed, one_of
from schemas.wire.transfer_request import DecisionMaker, DecisionMakerSchema

PAYLOAD_TYPE = "repeat_incident"
SCHEMA_VERSION = 1
WINDOW_MONTHS = 12


def repeat_window_end(last_referral: dt.date) -> dt.date:
    """The last day an incident still makes a repeat: 12 calendar months on (29 February
    plus a year is 28 February)."""
    try:
        return last_referral.replace(year=last_referral.year + 1)
    except ValueError:
        return last_referral.replace(year=last_referral.year + 1, day=28)


def within_window(last_referral: dt.date, incident: dt.date) -> bool:
    return last_referral <= incident <= repeat_window_end(last_referral)


@dataclass(frozen=True)
class RepeatIncidentBody:
    incident_date: dt.date
    summary: str | None
    reported_by: DecisionMaker


@dataclass(frozen=True)
class RepeatIncident(RepeatIncidentBody):
    schema_version: int
    from_area: str
    to_area: str
    last_referral_date: dt.date


class RepeatIncidentBodySchema(StrictSchema):
    incident_date = PastDate(required=True)
    summary = optional_text(MEDIUM)
    reported_by = fields.Nested(DecisionMakerSchema, required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RepeatIncidentBody:
        return RepeatIncidentBody(**data)


class RepeatIncidentSchema(RepeatIncidentBodySchema, addressed(SCHEMA_VERSION)):  # type: ignore[misc]
    last_referral_date = PastDate(required=True)

    @validates_schema
    def check_window(self, data: dict[str, Any], **_: Any) -> None:
        last, incident = data.get("last_referral_date"), data.get("incident_date")
        if last is not None and incident is not None and not within_window(last, incident):
            raise ValidationError(
                {"incident_date": ["Not within 12 months of the last MARAC referral."]}
            )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RepeatIncident:
        return RepeatIncident(**data)


def load_repeat_incident_body(data: Mapping[str, Any]) -> RepeatIncidentBody:
    loaded: RepeatIncidentBody = one_of(_BODY, data, RepeatIncidentBody)
    return loaded


def load_repeat_incident(data: Mapping[str, Any]) -> RepeatIncident:
    """Validate a decrypted `repeat_incident` payload; raises ValidationError."""
    loaded: RepeatIncident = one_of(_SCHEMA, data, RepeatIncident)
    return loaded


def dump_repeat_incident(notice: RepeatIncident) -> dict[str, Any]:
    result: dict[str, Any] = _SCHEMA.dump(notice)
    return result


_BODY = RepeatIncidentBodySchema()
_SCHEMA = RepeatIncidentSchema()

"""API bodies for an area's meeting dates and acknowledgement limit.

`PUT /api/v1/areas/<code>/meetings` replaces the dates; `PUT /api/v1/areas/<code>/settings`
sets the limit. Unknown fields are refused; loads into frozen dataclasses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

from schemas.common import StrictSchema
from schemas.wire.transfer_request import StrictInteger

MAX_MEETINGS = 400
MAX_ACK_WORKING_DAYS = 20
MAX_DEADLINE_WORKING_DAYS = 30


@dataclass(frozen=True)
class MeetingDates:
    dates: tuple[dt.date, ...]


@dataclass(frozen=True)
class AreaSettings:
    ack_working_days: int | None = None
    referral_deadline_working_days: int | None = None


class MeetingDatesSchema(StrictSchema):
    dates = fields.List(
        fields.Date(),
        required=True,
        validate=validate.Length(max=MAX_MEETINGS),
        metadata={"description": "Every date the area's MARAC meets (replaces the list)."},
    )

    @validates("dates")
    def _distinct(self, value: list[dt.date], **_: Any) -> None:
        if len(set(value)) != len(value):
            raise ValidationError("A date is listed twice.")

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> MeetingDates:
        return MeetingDates(tuple(sorted(data["dates"])))


class AreaSettingsSchema(StrictSchema):
    """Each setting left out stays as it is; at least one is given."""

    ack_working_days = StrictInteger(
        validate=validate.Range(min=1, max=MAX_ACK_WORKING_DAYS),
        metadata={
            "description": "Working days (England and Wales) to acknowledge a transfer; default 2."
        },
    )
    referral_deadline_working_days = StrictInteger(
        validate=validate.Range(min=0, max=MAX_DEADLINE_WORKING_DAYS),
        metadata={
            "description": "Working days before each meeting by which a referral must arrive "
            "to be listed for it; default 0 (the next meeting)."
        },
    )

    @validates_schema
    def _something(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("Give at least one setting.", "ack_working_days")

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> AreaSettings:
        return AreaSettings(**data)


class MeetingsViewSchema(Schema):
    area = fields.String(required=True)
    dates = fields.List(fields.Date(), required=True)
    suggested_listing = fields.Date(
        allow_none=True,
        metadata={
            "description": "The meeting a case acknowledged today is listed for by default: the "
            "first whose referral deadline has not passed; null when none can take it."
        },
    )


class SettingsViewSchema(Schema):
    area = fields.String(required=True)
    ack_working_days = fields.Integer(required=True)
    referral_deadline_working_days = fields.Integer(required=True)


def load_meeting_dates(data: Any) -> MeetingDates:
    loaded: MeetingDates = MeetingDatesSchema().load(data)
    return loaded


def load_area_settings(data: Any) -> AreaSettings:
    loaded: AreaSettings = AreaSettingsSchema().load(data)
    return loaded

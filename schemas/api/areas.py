"""API bodies for an area's meeting dates and acknowledgement limit.

`PUT /api/v1/areas/<code>/meetings` replaces the dates; `PUT /api/v1/areas/<code>/settings`
sets the limit. Unknown fields are refused; loads into frozen dataclasses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from schemas.common import StrictSchema
from schemas.wire.transfer_request import StrictInteger

MAX_MEETINGS = 400
MAX_ACK_WORKING_DAYS = 20


@dataclass(frozen=True)
class MeetingDates:
    dates: tuple[dt.date, ...]


@dataclass(frozen=True)
class AreaSettings:
    ack_working_days: int


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
    ack_working_days = StrictInteger(
        required=True,
        validate=validate.Range(min=1, max=MAX_ACK_WORKING_DAYS),
        metadata={
            "description": "Working days (England and Wales) to acknowledge a transfer; default 2."
        },
    )

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> AreaSettings:
        return AreaSettings(**data)


class MeetingsViewSchema(Schema):
    area = fields.String(required=True)
    dates = fields.List(fields.Date(), required=True)


class SettingsViewSchema(Schema):
    area = fields.String(required=True)
    ack_working_days = fields.Integer(required=True)


def load_meeting_dates(data: Any) -> MeetingDates:
    loaded: MeetingDates = MeetingDatesSchema().load(data)
    return loaded


def load_area_settings(data: Any) -> AreaSettings:
    loaded: AreaSettings = AreaSettingsSchema().load(data)
    return loaded

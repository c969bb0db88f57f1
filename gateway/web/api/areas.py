"""`/api/v1/areas/<code>/meetings` and `/settings`: an area's MARAC meeting dates (with the
one a case acknowledged today is listed for by default), its acknowledgement limit and
its referral deadline. Anyone of the area reads them (coordinators pick a meeting to list
a case for); only an admin of the area changes them. Another area answers 404."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from marshmallow import ValidationError

from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import ADMIN, AUDITOR, CHAIR, COORDINATOR, TRANSFERS_READ
from gateway.domain.schedule import meetings
from gateway.errors import Invalid, NotFound, field_errors
from gateway.web import node
from gateway.web.api.common import api, json_object
from gateway.web.api.declarations import documented
from gateway.web.guard import current_principal, requires
from schemas.api.areas import (
    AreaSettingsSchema,
    MeetingDatesSchema,
    MeetingsViewSchema,
    SettingsViewSchema,
    load_area_settings,
    load_meeting_dates,
)
from schemas.api.pages import is_area_code

READERS = [COORDINATOR, CHAIR, AUDITOR, ADMIN]


def _body() -> Any:
    return json_object()


def _code(code: str) -> str:
    if not is_area_code(code):
        raise NotFound("No such area.")
    return code


def _meetings(found: meetings.Schedule) -> Response:
    dumped = MeetingsViewSchema().dump(
        {
            "area": found.area,
            "dates": list(found.meeting_dates),
            "suggested_listing": found.suggested_listing(utcnow()),
        }
    )
    return jsonify(dumped)


def _settings(found: meetings.Schedule) -> Response:
    return jsonify(SettingsViewSchema().dump(found))


@api.get("/areas/<code>/meetings")
@requires(roles=READERS, scopes=[TRANSFERS_READ])
@documented(
    "getAreaMeetings",
    "The area's meeting dates; for anyone with a role in the area.",
    ok=(200, "The meeting dates"),
    answer=MeetingsViewSchema,
    problems=(401, 403, 404),
)
def get_meetings(code: str) -> Response:
    with node().sessions() as db:
        return _meetings(meetings.schedule(db, current_principal(), _code(code)))


@api.put("/areas/<code>/meetings")
@requires(roles=[ADMIN])
@documented(
    "setAreaMeetings",
    "Set the area's meeting dates; admins of the area only.",
    ok=(200, "The meeting dates now"),
    answer=MeetingsViewSchema,
    problems=(400, 401, 403, 404, 422),
    body=MeetingDatesSchema,
)
def put_meetings(code: str) -> Response:
    area = _code(code)
    try:
        body = load_meeting_dates(_body())
    except ValidationError as exc:
        raise Invalid(
            "The meeting dates are not valid.", errors=field_errors(exc.messages)
        ) from exc
    with node().sessions() as db:
        found = meetings.set_meetings(
            db, current_principal(), area, replace=body.dates, now=utcnow()
        )
    return _meetings(found)


@api.get("/areas/<code>/settings")
@requires(roles=READERS, scopes=[TRANSFERS_READ])
@documented(
    "getAreaSettings",
    "The area's acknowledgement limit and referral deadline; for anyone of the area.",
    ok=(200, "The acknowledgement limit"),
    answer=SettingsViewSchema,
    problems=(401, 403, 404),
)
def get_settings(code: str) -> Response:
    with node().sessions() as db:
        return _settings(meetings.schedule(db, current_principal(), _code(code)))


@api.put("/areas/<code>/settings")
@requires(roles=[ADMIN])
@documented(
    "setAreaSettings",
    "Set the area's acknowledgement limit or referral deadline; admins only.",
    ok=(200, "The acknowledgement limit now"),
    answer=SettingsViewSchema,
    problems=(400, 401, 403, 404, 422),
    body=AreaSettingsSchema,
)
def put_settings(code: str) -> Response:
    area = _code(code)
    try:
        body = load_area_settings(_body())
    except ValidationError as exc:
        raise Invalid("The settings are not valid.", errors=field_errors(exc.messages)) from exc
    with node().sessions() as db:
        found = meetings.set_settings(
            db,
            current_principal(),
            area,
            now=utcnow(),
            ack_working_days=body.ack_working_days,
            referral_deadline_working_days=body.referral_deadline_working_days,
        )
    return _settings(found)

"""`/api/v1/flags`: set, review and list this area's flags; look a person up across areas."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, jsonify, request
from marshmallow import ValidationError

from gateway import metrics
from gateway.domain.clock import utcnow
from gateway.domain.flags import answers, lifecycle, lookup, verification
from gateway.domain.identity.principals import CHAIR, COORDINATOR, FLAGS_QUERY, FLAGS_WRITE
from gateway.errors import Invalid, NotFound, field_errors
from gateway.web import node
from gateway.web.api.common import api, json_object
from gateway.web.api.declarations import ACTING_AREA, documented
from gateway.web.guard import current_principal, requires
from schemas.api.pages import encode_cursor
from schemas.common import AREA_CODE
from schemas.wire.flags import (
    AnswerBodySchema,
    FlagItemSchema,
    FlagPageSchema,
    FlagQuery,
    FlagQuerySchema,
    LookupAnswerSchema,
    MatchSchema,
    NewFlagSchema,
    PersonSchema,
    ReviewSchema,
    SentItemSchema,
    SentPageSchema,
    VerificationBodySchema,
    VerificationItemSchema,
    VerificationPageSchema,
    load,
)


def _area() -> str | None:
    """A user holding the role in several areas names one with `?area=`."""
    area = request.args.get("area")
    if area is not None and not AREA_CODE.match(area):
        raise Invalid("The query is not valid.", errors={"area": ["Not a valid area code."]})
    return area


def _canonical_id(value: str, missing: str) -> None:
    """Ids in paths are canonical UUIDs; anything else names nothing (404)."""
    try:
        canonical = str(uuid.UUID(value)) == value
    except ValueError:
        canonical = False
    if not canonical:
        raise NotFound(missing)


# One instance for every request: a Schema per item deep-copied its fields for each
# flag of the page. Dumping keeps no state on it.
_FLAG_ITEM = FlagItemSchema()


def flag_item(found: lifecycle.FlagView) -> dict[str, Any]:
    dumped: dict[str, Any] = _FLAG_ITEM.dump(found)
    return dumped


@api.post("/flags")
@requires(roles=[COORDINATOR], scopes=[FLAGS_WRITE])
@documented(
    "setFlag",
    "Flag a case for 12 calendar months after its review; subjects are sealed and their "
    "linkage tokens published as the area's policy allows.",
    ok=(201, "The flag (metadata)"),
    answer=FlagItemSchema,
    problems=(400, 401, 403, 409, 422, 503),
    query=ACTING_AREA,
    body=NewFlagSchema,
)
def create_flag() -> tuple[Response, int]:
    data = json_object()
    current = node()
    with current.sessions() as db:
        made = lifecycle.set_flag(
            db, current.flag_roles, current_principal(), _area(), data, utcnow()
        )
    return jsonify(flag_item(made)), 201


@api.get("/flags")
@requires(roles=[COORDINATOR, CHAIR], scopes=[FLAGS_QUERY])
@documented(
    "listFlags",
    "This area's flags: metadata, where each case now sits.",
    ok=(200, "Flags"),
    answer=FlagPageSchema,
    problems=(401, 403, 422),
    query=FlagQuerySchema,
)
def list_flags() -> Response:
    try:
        query = load(FlagQuerySchema(), request.args.to_dict(flat=True), FlagQuery)
    except ValidationError as exc:
        raise Invalid("The query is not valid.", errors=field_errors(exc.messages)) from exc
    with node().sessions() as db:
        page = lifecycle.list_flags(db, current_principal(), query, utcnow())
    return jsonify(
        items=[flag_item(f) for f in page.items],
        next=encode_cursor(*page.next) if page.next else None,
    )


@api.post("/flags/<flag_id>/reviews")
@requires(roles=[COORDINATOR], scopes=[FLAGS_WRITE])
@documented(
    "reviewFlag",
    "A review extends the flag to 12 calendar months after it, or clears it.",
    ok=(200, "The flag (metadata)"),
    answer=FlagItemSchema,
    problems=(400, 401, 403, 404, 409, 422, 503),
    body=ReviewSchema,
)
def review_flag(flag_id: str) -> Response:
    _canonical_id(flag_id, "No such flag.")
    data = json_object()
    current = node()
    with current.sessions() as db:
        reviewed = lifecycle.review(
            db, current.flag_roles, current_principal(), flag_id, data, utcnow()
        )
    return jsonify(flag_item(reviewed))


@api.post("/flags/lookups")
@requires(roles=[COORDINATOR], scopes=[FLAGS_QUERY])
@documented(
    "lookupPerson",
    "Is this person flagged here or elsewhere? Rate-limited; audited with match counts only.",
    ok=(200, "Local, remote and possible matches"),
    answer=LookupAnswerSchema,
    problems=(400, 401, 403, 422, 429, 503),
    query=ACTING_AREA,
    body=PersonSchema,
)
def lookup_person() -> Response:
    data = json_object()
    current = node()
    with current.sessions() as db:
        matches = lookup.lookup(
            db,
            current.flag_roles,
            current_principal(),
            _area(),
            data,
            current.lookup_limit,
            utcnow(),
        )
    metrics.flag_lookup(matched=bool(matches))
    return jsonify(matches=MatchSchema(many=True).dump(matches))


@api.post("/flags/verifications")
@requires(roles=[COORDINATOR], scopes=[FLAGS_QUERY])
@documented(
    "requestVerification",
    "Ask the area holding a possible match, through the flag index and sealed to that "
    "flag, whether it is this person; the holder answers by envelope.",
    ok=(202, "Relayed to the holding area"),
    problems=(400, 401, 403, 404, 422, 429, 503),
    query=ACTING_AREA,
    body=VerificationBodySchema,
)
def request_verification() -> tuple[Response, int]:
    """Ask the area holding a possible match whether it is this person (sealed to it)."""
    data = json_object()
    current = node()
    with current.sessions() as db:
        request_id = verification.request(
            db,
            current.flag_roles,
            current_principal(),
            _area(),
            data,
            current.lookup_limit,
            utcnow(),
        )
    return jsonify(id=request_id), 202


@api.get("/flags/verifications")
@requires(roles=[COORDINATOR], scopes=[FLAGS_WRITE])
@documented(
    "listVerifications",
    "Verification requests other areas sent about this area's flags.",
    ok=(200, "Requests, opened for this area's coordinators"),
    answer=VerificationPageSchema,
    problems=(401, 403, 422),
    query=ACTING_AREA,
)
def list_verifications() -> Response:
    """Requests other areas sent about this area's flags, for its coordinators."""
    current = node()
    with current.sessions() as db:
        items = verification.list_received(
            db, current.master, current_principal(), _area(), utcnow()
        )
    return jsonify(items=VerificationItemSchema(many=True).dump(items), next=None)


@api.post("/flags/verifications/<request_id>/answer")
@requires(roles=[COORDINATOR], scopes=[FLAGS_WRITE])
@documented(
    "answerVerification",
    "The holding area answers a verification request once: `confirmed` (this is our case: "
    "the asker learns this area and its mailbox) or `not_a_match` (nothing else), sealed to "
    "the asker and relayed back by the flag index.",
    ok=(200, "The answer as sent"),
    problems=(400, 401, 403, 404, 409, 422, 503),
    query=ACTING_AREA,
    body=AnswerBodySchema,
)
def answer_verification(request_id: str) -> Response:
    """Answer a request another area sent about one of this area's flags."""
    _canonical_id(request_id, "No such verification request.")
    data = json_object()
    current = node()
    with current.sessions() as db:
        word = answers.answer(
            db, current.flag_roles, current_principal(), _area(), request_id, data, utcnow()
        )
    return jsonify(id=request_id, answer=word)


@api.get("/flags/verifications/sent")
@requires(roles=[COORDINATOR], scopes=[FLAGS_QUERY])
@documented(
    "listSentVerifications",
    "Verification requests this area sent, with the holding area's answer once it came.",
    ok=(200, "Requests sent, newest first"),
    answer=SentPageSchema,
    problems=(401, 403, 422),
    query=ACTING_AREA,
)
def list_sent_verifications() -> Response:
    """Requests this area sent and their answers, for its coordinators."""
    current = node()
    with current.sessions() as db:
        items = answers.list_sent(db, current.master, current_principal(), _area(), utcnow())
    return jsonify(items=SentItemSchema(many=True).dump(items), next=None)

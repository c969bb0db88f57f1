"""`/api/v1/transfers/<id>/legal-hold`, `.../legal-hold/lift` and `.../early-purge`: a
coordinator's or chair's retention decision on the area's copy of a case (seed 004 ISP
8.4-8.6, 9.7-9.8). Users only: a decision is a person's, audited in their name; thin
handlers over gateway/domain/retention.py."""

from __future__ import annotations

from flask import Response, jsonify

from gateway.domain import retention
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import CHAIR, COORDINATOR
from gateway.web import node
from gateway.web.api.common import api, canonical_id, json_object
from gateway.web.api.declarations import documented
from gateway.web.guard import current_principal, requires
from schemas.api.retention import (
    EARLY_PURGE,
    HOLD,
    LIFT,
    EarlyPurgeSchema,
    LegalHoldSchema,
    LiftHoldSchema,
    RetentionViewSchema,
)

PROBLEMS = (400, 401, 403, 404, 409, 422)


def _decide(transfer_id: str, decision: str) -> Response:
    canonical_id(transfer_id)
    data = json_object()
    current = node()
    with current.sessions() as db:
        decided = retention.decide(
            db, current.master, current_principal(), transfer_id, decision, data, utcnow()
        )
    return jsonify(RetentionViewSchema().dump(decided))


@api.post("/transfers/<transfer_id>/legal-hold")
@requires(roles=[COORDINATOR, CHAIR])
@documented(
    "setLegalHold",
    "Keep this area's copy of the case, whatever its age, until the hold is lifted.",
    ok=(200, "The case is held"),
    answer=RetentionViewSchema,
    problems=PROBLEMS,
    body=LegalHoldSchema,
)
def set_legal_hold(transfer_id: str) -> Response:
    return _decide(transfer_id, HOLD)


@api.post("/transfers/<transfer_id>/legal-hold/lift")
@requires(roles=[COORDINATOR, CHAIR])
@documented(
    "liftLegalHold",
    "Lift the legal hold: the retention schedule applies to the case again.",
    ok=(200, "The hold is lifted"),
    answer=RetentionViewSchema,
    problems=PROBLEMS,
    body=LiftHoldSchema,
)
def lift_legal_hold(transfer_id: str) -> Response:
    return _decide(transfer_id, LIFT)


@api.post("/transfers/<transfer_id>/early-purge")
@requires(roles=[COORDINATOR, CHAIR])
@documented(
    "purgeEarly",
    "Purge this area's copy of the case now: its content goes, its metadata and audit stay.",
    ok=(200, "The content is purged"),
    answer=RetentionViewSchema,
    problems=PROBLEMS,
    body=EarlyPurgeSchema,
)
def purge_early(transfer_id: str) -> Response:
    return _decide(transfer_id, EARLY_PURGE)

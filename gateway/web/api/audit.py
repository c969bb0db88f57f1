"""`/api/v1/audit`, `/api/v1/audit/verify`, `/api/v1/audit/subject-access` (and its
`/decisions`) and `/api/v1/reports/disclosures`: for auditors (and clients with
`audit:read`) of the area.

Everything here is content-free (leaves, hashes, counts) except subject access, which
lists disclosures about one person (legal basis, recipients, dates; never the case
content) and is itself audited with its match count.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Response, jsonify, request
from marshmallow import Schema, ValidationError

from gateway.domain.audit import events, reports, subject, verify
from gateway.domain.audit.export import day_range
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import AUDIT_READ, AUDITOR
from gateway.errors import Invalid, field_errors
from gateway.web import node
from gateway.web.api.common import api, json_object
from gateway.web.api.declarations import documented
from gateway.web.guard import current_principal, requires
from schemas.api.audit import (
    AreaQuerySchema,
    AuditPageSchema,
    AuditQuerySchema,
    DisclosureReportSchema,
    ReportQuerySchema,
    SubjectAccessSchema,
    SubjectDecisionAnswerSchema,
    SubjectDecisionSchema,
    SubjectRequestSchema,
    VerifyReportSchema,
    integer_args,
)

AUDITORS = [AUDITOR]


def _load(schema: Schema, data: Any) -> Any:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise Invalid("The request is not valid.", errors=field_errors(exc.messages)) from exc


def _area(requested: str | None) -> str:
    return current_principal().choose_area(requested, AUDITORS, AUDIT_READ)


@api.get("/audit")
@requires(roles=AUDITORS, scopes=[AUDIT_READ])
@documented(
    "listAudit",
    "The area's audit events, oldest first.",
    ok=(200, "OK"),
    answer=AuditPageSchema,
    problems=(401, 403, 404, 422),
    query=AuditQuerySchema,
)
def list_audit() -> Response:
    query = _load(AuditQuerySchema(), integer_args(request.args.to_dict(), "cursor", "limit"))
    area = _area(query.area)
    with node().sessions() as session:
        page = events.list_events(
            session,
            area,
            after=query.cursor,
            limit=query.limit,
            action=query.action,
            start=day_range(query.start, query.start)[0] if query.start else None,
            end=day_range(query.end, query.end)[1] if query.end else None,
        )
    return jsonify(items=page.items, next=page.next)


@api.get("/audit/verify")
@requires(roles=AUDITORS, scopes=[AUDIT_READ])
@documented(
    "verifyAudit",
    "Recompute the area's Merkle log and check every checkpoint.",
    ok=(200, "OK"),
    answer=VerifyReportSchema,
    problems=(401, 403, 404, 422),
    query=AreaQuerySchema,
)
def verify_audit() -> Response:
    area = _area(_load(AreaQuerySchema(), request.args.to_dict()).area)
    with node().sessions() as session:
        result = verify.verify_area(session, area)
    return jsonify(result.as_dict())


@api.get("/reports/disclosures")
@requires(roles=AUDITORS, scopes=[AUDIT_READ])
@documented(
    "disclosureReport",
    "Disclosures by period, peer area, legal basis and consent; delivery times.",
    ok=(200, "OK"),
    answer=DisclosureReportSchema,
    problems=(401, 403, 404, 422),
    query=ReportQuerySchema,
)
def disclosure_report() -> Response:
    query = _load(ReportQuerySchema(), request.args.to_dict())
    area = _area(query.area)
    end = query.end or date.today()
    start = query.start or end - timedelta(days=365)
    with node().sessions() as session:
        result = reports.disclosures(session, area, start, end, query.period)
    return jsonify(result)


@api.post("/audit/subject-access")
@requires(roles=AUDITORS, scopes=[AUDIT_READ])
@documented(
    "subjectAccess",
    "Every disclosure concerning a person (subject access, court orders); the search is "
    "audited with its match count only.",
    ok=(200, "The disclosures found"),
    answer=SubjectAccessSchema,
    problems=(400, 401, 403, 404, 422),
    body=SubjectRequestSchema,
)
def subject_access() -> Response:
    """Subject access and court orders (seed 004 ISP 9). The person is in the body."""
    asked = _load(SubjectRequestSchema(), json_object())
    area = _area(asked.area)
    person = subject.Person(asked.given_names, asked.family_name, asked.date_of_birth)
    principal = current_principal()
    current = node()
    with current.sessions() as session:
        found = subject.search(
            session,
            current.master,
            area,
            person,
            actor=principal.actor(area, AUDITORS),
            now=utcnow(),
            reference=asked.reference,
        )
    return jsonify(
        area=area,
        search=found.seq,
        reference=found.reference,
        perpetrator=found.perpetrator,
        suppliers=found.suppliers,
        disclosures=found.disclosures,
    )


@api.post("/audit/subject-access/decisions")
@requires(roles=AUDITORS, scopes=[AUDIT_READ])
@documented(
    "subjectAccessDecision",
    "Record what was done with a subject access request (disclosed, partly disclosed, "
    "withheld, referred to the supplying agency), naming the search's audit entry.",
    ok=(201, "The decision was recorded"),
    answer=SubjectDecisionAnswerSchema,
    problems=(400, 401, 403, 404, 409, 422),
    body=SubjectDecisionSchema,
)
def subject_access_decision() -> tuple[Response, int]:
    asked = _load(SubjectDecisionSchema(), json_object())
    area = _area(asked.area)
    with node().sessions() as session:
        recorded = subject.decide(
            session,
            area,
            asked.search,
            asked.reference,
            asked.decision,
            actor=current_principal().actor(area, AUDITORS),
            now=utcnow(),
        )
    return jsonify(area=area, search=asked.search, decision=asked.decision, recorded=recorded), 201

"""Bodies of the audit API (`/api/v1/audit`, `/api/v1/audit/verify`,
`/api/v1/audit/subject-access`, `/api/v1/reports/disclosures`). Queries load into
dataclasses; responses are described so the OpenAPI document matches what is sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from marshmallow import Schema, fields, post_load, validate

from schemas.common import SHORT, StrictSchema, area_code, text

PERIODS = ("month", "quarter", "year")
AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX = 100, 500
AREA_HELP = {"description": "Needed when you audit several areas."}


def _day(**kwargs: Any) -> fields.Date:
    return fields.Date(format="iso", **kwargs)


@dataclass(frozen=True)
class AuditQuery:
    area: str | None
    start: date | None
    end: date | None
    action: str | None
    cursor: int | None
    limit: int


class AuditQuerySchema(StrictSchema):
    area = area_code(load_default=None, metadata=AREA_HELP)
    start = _day(data_key="from", load_default=None)
    end = _day(data_key="to", load_default=None)
    action = fields.String(
        load_default=None, validate=validate.Regexp(r"^[a-z_]{1,32}(\.[a-z_]{1,32})?$")
    )
    cursor = fields.Integer(
        load_default=None, strict=True, validate=validate.Range(min=0, max=2**62)
    )
    limit = fields.Integer(
        load_default=AUDIT_PAGE_DEFAULT,
        strict=True,
        validate=validate.Range(min=1, max=AUDIT_PAGE_MAX),
    )

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> AuditQuery:
        return AuditQuery(**data)


@dataclass(frozen=True)
class AreaQuery:
    area: str | None


class AreaQuerySchema(StrictSchema):
    area = area_code(load_default=None, metadata=AREA_HELP)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> AreaQuery:
        return AreaQuery(**data)


@dataclass(frozen=True)
class ReportQuery:
    area: str | None
    start: date | None
    end: date | None
    period: str


class ReportQuerySchema(StrictSchema):
    area = area_code(load_default=None, metadata=AREA_HELP)
    start = _day(
        data_key="from", load_default=None, metadata={"description": "Default: a year ago."}
    )
    end = _day(data_key="to", load_default=None, metadata={"description": "Default: today."})
    period = fields.String(load_default="month", validate=validate.OneOf(PERIODS))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> ReportQuery:
        return ReportQuery(**data)


# The request's own reference (a data protection team's or a court's number), recorded
# in the audit with the search: letters, digits and a few separators only.
SUBJECT_REFERENCE = r"^[A-Za-z0-9][A-Za-z0-9/_.-]{0,39}$"
SUBJECT_DECISIONS = ("disclosed", "partly_disclosed", "withheld", "referred")
REFERENCE_HELP = "Use up to 40 letters, digits, '/', '-', '_' or '.'."


def _reference(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=validate.Regexp(SUBJECT_REFERENCE, error=REFERENCE_HELP), **kwargs
    )


@dataclass(frozen=True)
class SubjectRequest:
    area: str | None
    given_names: str
    family_name: str | None
    date_of_birth: date
    reference: str | None = None


class SubjectRequestSchema(StrictSchema):
    """In the body, never the URL: a name and a date of birth are personal data."""

    area = area_code(load_default=None, metadata=AREA_HELP)
    given_names = text(SHORT, required=True)
    family_name = text(SHORT, load_default=None, allow_none=True)
    date_of_birth = _day(required=True)
    reference = _reference(
        load_default=None,
        metadata={"description": "The request's own reference, recorded with the search."},
    )

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> SubjectRequest:
        return SubjectRequest(**data)


@dataclass(frozen=True)
class SubjectDecision:
    area: str | None
    search: int
    reference: str
    decision: str


class SubjectDecisionSchema(StrictSchema):
    """What was done with a subject access request, naming the search's audit entry."""

    area = area_code(load_default=None, metadata=AREA_HELP)
    search = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=2**62))
    reference = _reference(required=True)
    decision = fields.String(required=True, validate=validate.OneOf(SUBJECT_DECISIONS))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> SubjectDecision:
        return SubjectDecision(**data)


def integer_args(args: dict[str, Any], *names: str) -> dict[str, Any]:
    """Query strings arrive as text: turn digit strings into integers before a strict
    schema sees them (anything else stays text and is refused by the schema)."""
    values = dict(args)
    for name in names:
        raw = values.get(name)
        if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 19:
            values[name] = int(raw)
    return values


# Responses (described for the OpenAPI document).
class AuditEventSchema(Schema):
    seq = fields.Integer()
    at = fields.String()
    action = fields.String()
    actor = fields.Dict()
    area = fields.String()
    peer_area = fields.String(allow_none=True)
    objects = fields.Dict()
    envelope_digest = fields.String(allow_none=True)
    legal_basis = fields.List(fields.String())
    consent = fields.String(allow_none=True)
    commitment = fields.String(allow_none=True)
    details = fields.Dict()
    leaf_hash = fields.String()
    v = fields.Integer()


class AuditPageSchema(Schema):
    items = fields.List(fields.Nested(AuditEventSchema))
    next = fields.String(allow_none=True)


class VerifyReportSchema(Schema):
    area = fields.String()
    ok = fields.Boolean()
    entries = fields.Integer()
    checkpoints = fields.Integer()
    root = fields.String(allow_none=True)
    first_bad = fields.Dict(allow_none=True)
    problems = fields.List(fields.Dict())


class DisclosureReportSchema(Schema):
    area = fields.String()
    start = fields.String(data_key="from")
    end = fields.String(data_key="to")
    period = fields.String()
    disclosures_sent = fields.Dict()
    disclosures_received = fields.Dict()
    delivery = fields.Dict()
    acknowledgement = fields.Dict()
    overdue_acknowledgements = fields.Dict()


class SubjectAccessSchema(Schema):
    area = fields.String()
    search = fields.Integer()
    reference = fields.String(allow_none=True)
    perpetrator = fields.Boolean()
    suppliers = fields.List(fields.String())
    disclosures = fields.List(fields.Dict())


class SubjectDecisionAnswerSchema(Schema):
    area = fields.String()
    search = fields.Integer()
    decision = fields.String()
    recorded = fields.Integer()

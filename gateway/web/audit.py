"""The audit API (`/api/v1/audit`, `/api/v1/audit/verify`, `/api/v1/reports/disclosures`).

Deny by default: none of these endpoints is in the public list, so until a request is
authenticated as an auditor (or a client with `audit:read`) of the area it is refused.
Responses are content-free: leaves, hashes, counts.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, jsonify, request

from gateway.domain.audit import events, reports, verify
from gateway.domain.audit.export import day_range
from gateway.errors import Invalid
from gateway.web import node

audit_api = Blueprint("audit_api", __name__, url_prefix="/api/v1")


def _area() -> str:
    area = request.args.get("area", "")
    if not area:
        raise Invalid("Name the area.", errors={"area": ["Missing data for required field."]})
    return area


def _date(name: str, default: date | None = None) -> date:
    raw = request.args.get(name)
    if raw is None and default is not None:
        return default
    try:
        return date.fromisoformat(raw or "")
    except ValueError:
        raise Invalid(
            "A date is not valid.", errors={name: ["Not a valid date (YYYY-MM-DD)."]}
        ) from None


def _int(name: str, default: int | None) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise Invalid("A number is not valid.", errors={name: ["Not a valid integer."]})
    return int(raw)


@audit_api.get("/audit")
def list_audit() -> Response:
    start = _date("from") if "from" in request.args else None
    end = _date("to") if "to" in request.args else None
    lo = day_range(start, start)[0] if start else None
    hi = day_range(end, end)[1] if end else None
    with node().sessions() as session:
        page = events.list_events(
            session,
            _area(),
            after=_int("cursor", None),
            limit=_int("limit", 100) or 100,
            action=request.args.get("action") or None,
            start=lo,
            end=hi,
        )
    return jsonify(items=page.items, next=page.next)


@audit_api.get("/audit/verify")
def verify_audit() -> Response:
    area = _area()
    with node().sessions() as session, session.begin():
        result = verify.verify_log(session, area)
    return jsonify(result.as_dict())


@audit_api.get("/reports/disclosures")
def disclosure_report() -> Response:
    period = request.args.get("period", "month")
    if period not in reports.PERIODS:
        raise Invalid("Unknown period.", errors={"period": ["Must be month, quarter or year."]})
    with node().sessions() as session:
        result = reports.disclosures(
            session, _area(), _date("from"), _date("to", date.today()), period
        )
    return jsonify(result)

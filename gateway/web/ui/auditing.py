"""The auditor's pages (DESIGN section 7; seed 004 ISP 3.4, 6.2, 9): the disclosure log
(metadata only: never a name, never case content) with its export, reports with charts
drawn on the server as accessible SVG beside their tables, verification of the area's log
and of each peer's, and subject access (the person only in POST bodies, the answer only
in a POST answer, the search and the decision taken both audited).

Pages:
  /audit                                 "Disclosure log"                          auditors
  POST /audit/export                     (CSV or JSON lines download)              auditors
  /audit/reports                         "Disclosure reports"                      auditors
  /audit/verify                          "Check the audit log"                     auditors
  POST /audit/verify/peers/<peer>        "Check the audit log" (the peer's result) auditors
  /audit/subject-access                  "Search for disclosures about a person"   auditors
  POST /audit/subject-access             "Disclosures about the person"            auditors
  POST /audit/subject-access/decision    (records the decision; 303)               auditors
  /audit/subject-access/decisions/<seq>  "Decision recorded"                       auditors
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from gateway.domain.areas import peers
from gateway.domain.audit import actions, events, export, reports, subject, verify, witness
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import AUDIT_READ, AUDITOR
from gateway.errors import Conflict, Invalid, NotFound
from gateway.web import node
from gateway.web.guard import current_principal, requires
from gateway.web.ui import audit_charts, audit_words
from gateway.web.ui.forms import DATE, RADIOS, TEXT, Question, anchors, read_answers
from gateway.web.ui.layout import FORM, UK, current_area, local_time
from gateway.web.ui.pages import go, refusal, render
from gateway.web.ui.transfer_words import DIRECTIONS, area_names, long_date, status_tag
from schemas.api.audit import SubjectRequestSchema

auditing = Blueprint("auditing", __name__)

AUDITORS = [AUDITOR]
PAGE_SIZE = 50
# The periods the pages offer, ending today (UK): days back, and the words.
PERIODS: dict[str, tuple[int, str]] = {
    "week": (7, "Last 7 days"),
    "month": (30, "Last 30 days"),
    "quarter": (91, "Last 3 months"),
    "year": (365, "Last 12 months"),
}
DEFAULT_PERIOD = "month"
FORMATS = {
    "csv": ("CSV (for a spreadsheet)", "text/csv"),
    "jsonl": ("JSON lines", "application/x-ndjson"),
}
CURSOR_GONE = "This page of results no longer exists. Start again from the first page."


def _area() -> str:
    principal = current_principal()
    return principal.choose_area(current_area(principal), AUDITORS, AUDIT_READ)


def _period(code: str | None) -> tuple[date, date] | None:
    if code not in PERIODS:
        return None
    today = utcnow().astimezone(UK).date()
    return today - timedelta(days=PERIODS[code][0] - 1), today


def when(at: str) -> str:
    moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return f"{long_date(moment)}, {local_time(moment)}"


# --- the disclosure log ---------------------------------------------------------------------


def encode_seq(seq: str) -> str:
    """The opaque keyset cursor: the last entry's position, encoded."""
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).rstrip(b"=").decode("ascii")


def decode_seq(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        return None
    number = text.removeprefix("seq:")
    if not text.startswith("seq:") or not number.isdigit() or len(number) > 18:
        return None
    return int(number)


def _peer_options() -> list[tuple[str, str]]:
    with node().sessions() as db:
        return [(peer.code, peer.name) for peer in peers.list_peers(db)]


def _log_row(item: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    grounds = [audit_words.ground_words(code) for code in item.get("legal_basis") or []]
    return {
        "seq": item["seq"],
        "when": when(item["at"]),
        "action": audit_words.action_words(item["action"]),
        "actor": audit_words.actor_words(item.get("actor") or {}),
        "peer": names.get(item.get("peer_area") or "", item.get("peer_area") or ""),
        "grounds": grounds,
        "consent": audit_words.consent_words(item.get("consent")) if item.get("consent") else "",
        "digest": item.get("envelope_digest") or "",
        "hash": item["leaf_hash"],
    }


def _log_context(filters: dict[str, str], peer_options: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "filters": filters,
        "periods": PERIODS,
        "default_period": DEFAULT_PERIOD,
        "actions": sorted(audit_words.ACTIONS.items(), key=lambda pair: pair[1]),
        "peers": peer_options,
        "formats": FORMATS,
    }


@auditing.get("/audit")
@requires(roles=AUDITORS)
def log() -> Response:
    area = _area()
    args = request.args
    filters = {k: args.get(k, "") for k in ("period", "action", "peer", "cursor") if args.get(k)}
    errors: dict[str, str] = {}
    span = _period(filters.get("period", DEFAULT_PERIOD))
    if span is None:
        errors["period"] = "Select a period from the list"
    if filters.get("action") and filters["action"] not in audit_words.ACTIONS:
        errors["action"] = "Select an action from the list"
    peer_options = _peer_options()
    if filters.get("peer") and filters["peer"] not in dict(peer_options):
        errors["peer"] = "Select a peer area from the list"
    after = decode_seq(filters["cursor"]) if filters.get("cursor") else None
    if filters.get("cursor") and after is None:
        errors[FORM] = CURSOR_GONE
    context = _log_context(filters, peer_options)
    if errors or span is None:
        return render("audit/log.html", 400, rows=None, errors=errors, **context)
    lo, hi = export.day_range(*span)
    with node().sessions() as db:
        page = events.list_events(
            db,
            area,
            after=after,
            limit=PAGE_SIZE,
            action=filters.get("action"),
            start=lo,
            end=hi,
            peer_area=filters.get("peer"),
        )
    names = area_names({item["peer_area"] for item in page.items if item.get("peer_area")})
    kept: dict[str, Any] = {k: v for k, v in filters.items() if k != "cursor"}
    return render(
        "audit/log.html",
        rows=[_log_row(item, names) for item in page.items],
        next_url=url_for("auditing.log", **kept, cursor=encode_seq(page.next))
        if page.next
        else None,
        first_url=url_for("auditing.log", **kept) if after is not None else None,
        span=(long_date(span[0]), long_date(span[1])),
        **context,
    )


@auditing.post("/audit/export")
@requires(roles=AUDITORS)
def download() -> Response:
    """The export for a period, as a file (itself audited, with a checkpoint that covers
    it: gateway/domain/audit/export.py)."""
    area = _area()
    span = _period(request.form.get("period"))
    fmt = request.form.get("format", "")
    if span is None or fmt not in FORMATS:
        problems = {}
        if span is None:
            problems["export-period"] = "Select the period to download"
        if fmt not in FORMATS:
            problems["format"] = "Select a format"
        context = _log_context({}, _peer_options())
        return render("audit/log.html", 400, rows=None, errors=problems, **context)
    current, principal = node(), current_principal()
    with current.sessions() as db:
        lines = list(
            export.export(
                db,
                current.master,
                area,
                *span,
                fmt,
                actor=principal.actor(area, AUDITORS),
                now=utcnow(),
            )
        )
    response = Response("\n".join(lines) + "\n", mimetype=FORMATS[fmt][1])
    name = f"audit-{area}-{span[0].isoformat()}-to-{span[1].isoformat()}.{fmt}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- reports --------------------------------------------------------------------------------


@auditing.get("/audit/reports")
@requires(roles=AUDITORS)
def report() -> Response:
    area = _area()
    code = request.args.get("period", "year")
    span = _period(code)
    if span is None:
        return render(
            "audit/reports.html",
            400,
            charts=None,
            periods=PERIODS,
            chosen=code,
            errors={"period": "Select a period from the list"},
        )
    with node().sessions() as db:
        found = reports.disclosures(db, area, *span)
    return render(
        "audit/reports.html",
        charts=audit_charts.report_charts(found),
        totals=audit_charts.totals(found),
        periods=PERIODS,
        chosen=code,
        span=(long_date(span[0]), long_date(span[1])),
    )


# --- verification ---------------------------------------------------------------------------


def _verify_page(status: int = 200, **context: Any) -> Response:
    area = _area()
    with node().sessions() as db:
        result = verify.verify_area(db, area)
    with node().sessions() as db:
        held = witness.held_peers(db, area)
    names = area_names({h.peer for h in held})
    return render(
        "audit/verify.html",
        status,
        result=result,
        first_bad=result.first_bad,
        held=[
            {
                "code": h.peer,
                "name": names.get(h.peer, h.peer),
                "checkpoints": h.checkpoints,
                "largest": h.largest,
                "verified": f"{long_date(h.last_verified)}, {local_time(h.last_verified)}"
                if h.last_verified
                else "Never",
            }
            for h in held
        ],
        **context,
    )


@auditing.get("/audit/verify")
@requires(roles=AUDITORS)
def check() -> Response:
    """Visiting the page verifies the log now (read-only, one snapshot)."""
    return _verify_page()


@auditing.post("/audit/verify/peers/<peer>")
@requires(roles=AUDITORS)
def check_peer(peer: str) -> Response:
    """Ask the peer for a consistency proof from every checkpoint held (recorded in the
    area's log with who asked); the answer is shown here, since asking again is harmless."""
    area = _area()
    current = node()
    try:
        with current.sessions() as db:
            found = witness.verify_peer(
                db,
                current.master,
                current.client,
                peer,
                utcnow(),
                area=area,
                actor=current_principal().actor(area, AUDITORS),
            )
    except Conflict as exc:
        return _verify_page(exc.status, errors=refusal(exc))
    names = area_names({peer})
    return _verify_page(peer_result=found, peer_name=names.get(peer, peer))


# --- subject access -------------------------------------------------------------------------


SUBJECT_QUESTIONS = (
    Question("given_names", "Given names", kind=TEXT, personal=True, required=True),
    Question(
        "family_name",
        "Family name",
        kind=TEXT,
        personal=True,
        hint="Leave blank to match any family name.",
    ),
    Question(
        "date_of_birth",
        "Date of birth",
        kind=DATE,
        personal=True,
        required=True,
        hint="For example, 27 3 1985",
    ),
    Question(
        "reference",
        "The request's reference",
        kind=TEXT,
        required=True,
        hint="The number your data protection team or the court gave the request. "
        "Letters, digits, '/', '-', '_' or '.'; it is recorded in the audit log.",
        width="govuk-input--width-20",
    ),
)
DECISION_QUESTION = Question(
    "decision",
    "What was decided about the request?",
    kind=RADIOS,
    noun="what was decided",
    options=tuple(audit_words.DECISIONS.items()),
)


def _subject_form(status: int = 200, errors: dict[str, str] | None = None) -> Response:
    return render(
        "audit/subject.html",
        status,
        questions=SUBJECT_QUESTIONS,
        form=request.form if errors else None,
        errors=errors or {},
        anchors=anchors(SUBJECT_QUESTIONS),
    )


@auditing.get("/audit/subject-access")
@requires(roles=AUDITORS)
def subject_form() -> Response:
    return _subject_form()


@auditing.post("/audit/subject-access")
@requires(roles=AUDITORS)
def subject_search() -> Response:
    area = _area()
    answers = {k: v for k, v in read_answers(request.form, SUBJECT_QUESTIONS).items() if v}
    try:
        asked = SubjectRequestSchema().load(answers)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {FORM: exc.messages}
        return _subject_form(422, refusal(Invalid("", errors=messages), SUBJECT_QUESTIONS))
    if asked.reference is None:
        return _subject_form(422, {"reference": "Enter the request's reference"})
    current, principal = node(), current_principal()
    person = subject.Person(asked.given_names, asked.family_name, asked.date_of_birth)
    with current.sessions() as db:
        found = subject.search(
            db,
            current.master,
            area,
            person,
            actor=principal.actor(area, AUDITORS),
            now=utcnow(),
            reference=asked.reference,
        )
    names = area_names(
        {d["disclosed_by"] for d in found.disclosures}
        | {d["disclosed_to"] for d in found.disclosures}
    )
    return render(
        "audit/subject_results.html",
        answer=found,
        rows=[_disclosure_row(d, names) for d in found.disclosures],
        suppliers=[names.get(code, code) for code in found.suppliers],
        decision=DECISION_QUESTION,
        form=None,
    )


def _disclosure_row(item: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {
        "when": long_date(datetime.fromisoformat(item["created_at"])),
        "direction": DIRECTIONS.get(item["direction"], item["direction"]),
        "by": names.get(item["disclosed_by"], item["disclosed_by"]),
        "to": names.get(item["disclosed_to"], item["disclosed_to"]),
        "roles": ", ".join(item["roles"]),
        "perpetrator": item["perpetrator"],
        "consent": audit_words.consent_words(item["consent"]),
        "grounds": [audit_words.ground_words(g["code"]) for g in item["legal_basis"]],
        "status": status_tag(item["status"]) if item["status"] else None,
        "entry": item["audit"]["seq"] if item["audit"] else None,
    }


@auditing.post("/audit/subject-access/decision")
@requires(roles=AUDITORS)
def subject_decision() -> Response:
    area = _area()
    raw_search = request.form.get("search", "")
    reference = request.form.get("reference", "")
    decision = request.form.get("decision", "")
    if not raw_search.isdigit() or len(raw_search) > 18:
        raise NotFound("No subject access search with this reference.")
    errors: dict[str, str] = {"decision": "Select what was decided"}
    status = 422
    if decision in audit_words.DECISIONS:
        try:
            with node().sessions() as db:
                recorded = subject.decide(
                    db,
                    area,
                    int(raw_search),
                    reference,
                    decision,
                    actor=current_principal().actor(area, AUDITORS),
                    now=utcnow(),
                )
        except (Conflict, Invalid) as exc:
            errors, status = refusal(exc), exc.status
        else:
            return go("auditing.subject_decided", seq=recorded)
    return render(
        "audit/decision.html",
        status,
        search=raw_search,
        reference=reference,
        decision=DECISION_QUESTION,
        form=request.form,
        errors=errors,
    )


@auditing.get("/audit/subject-access/decisions/<int:seq>")
@requires(roles=AUDITORS)
def subject_decided(seq: int) -> Response:
    area = _area()
    with node().sessions() as db:
        page = events.list_events(db, area, after=seq - 1, limit=1) if seq > 0 else None
    leaf = page.items[0] if page and page.items else None
    if leaf is None or leaf["seq"] != seq or leaf["action"] != actions.SUBJECT_ACCESS_DECIDED:
        raise NotFound("No such decision.")
    return render(
        "audit/decided.html",
        decision=audit_words.DECISIONS.get(str(leaf["details"].get("decision")), ""),
        entry=seq,
        when=when(leaf["at"]),
    )

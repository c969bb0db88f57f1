"""Shared flags in the browser (DESIGN section 6; seed 004): the area's flags (roles only,
never a name; the area's own case reference in the page body only), setting and reviewing
a flag, looking a person up (the answer is the POST's own response, never a GET page),
asking the area holding a possible match to check, the requests other areas sent about
this area's flags, and the area's sharing policy for its admins.

Pages:
  /flags                        "Shared flags"                              coordinators, chairs
  /flags/print                  "Shared flags: printable list"              coordinators, chairs
  /flags/lapsed.csv             (CSV download of lapsed flags)              coordinators, chairs
  /flags/new                    "Set a flag"                                coordinators
  /flags/<id>/set               "Flag set"                                  coordinators
  /flags/<id>/review            "Review the flag"                           coordinators
  /flags/<id>/reviewed          "Flag reviewed" or "Flag cleared"           coordinators
  /flags/lookup                 "Look a person up"                          coordinators
  POST /flags/lookup            "What the lookup found" (no-store)          coordinators
  POST /flags/lookup/ask        (a verification request; 303)              coordinators
  /flags/lookup/asked           "Request sent"                              coordinators
  /flags/verifications          "Verification requests received"            coordinators
  /flags/verifications/<id>/answer    "Is this your case?"                  coordinators
  /flags/verifications/<id>/answered  "Answer sent"                         coordinators
  /flags/verifications/sent     "Requests you sent"                         coordinators
  /flags/policy                 "What this area's flags share"              admins
  /flags/policy/saved           "Sharing policy saved"                      admins
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from gateway.domain.clock import utcnow
from gateway.domain.flags import answers, lifecycle, lookup, verification
from gateway.domain.identity.principals import ADMIN, CHAIR, COORDINATOR, FLAGS_QUERY, FLAGS_WRITE
from gateway.domain.transfers import reading, states
from gateway.errors import DomainError, NotFound
from gateway.web import node
from gateway.web.guard import current_principal, requires
from gateway.web.ui import flag_questions as fq
from gateway.web.ui.flag_words import ANSWER_WORDS, flag_status_tag, subject_words
from gateway.web.ui.forms import (
    DATE,
    RADIOS,
    Question,
    anchors,
    nest,
    prefill,
    problems,
    read_answers,
)
from gateway.web.ui.layout import FORM, current_area
from gateway.web.ui.pages import go, refusal, render
from gateway.web.ui.transfer_words import DIRECTIONS, area_names, long_date, short_reference
from schemas.api.pages import PAGE_MAX, encode_cursor
from schemas.wire.flags import CLEARED, MAX_SUBJECTS, FlagQuery, FlagQuerySchema, load

flags = Blueprint("flags", __name__)

PAGE_SIZE = 50
PRINT_PAGES = 10  # a printable list holds at most PRINT_PAGES x PAGE_MAX flags
RECENT_TRANSFERS = 20  # the transfers offered as a flag's source
# CSV cells a spreadsheet would run as a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _area(roles: list[str], scope: str) -> str:
    principal = current_principal()
    return principal.choose_area(current_area(principal), roles, scope)


def _args() -> dict[str, Any]:
    return dict(request.args.items())


def _no_store(response: Response) -> Response:
    """An answer page holding personal details: never kept by the browser or a proxy."""
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the area's flags ------------------------------------------------------------------------


def _query(area: str, limit: int) -> tuple[dict[str, Any], dict[str, str]]:
    """The list's filters (GET: they hold no personal detail) as the API's query, for the
    area the person is working in (one with roles in several areas chose it)."""
    answers = read_answers(request.args, fq.FILTERS)
    show = answers.get("show") or fq.SHOW_ALL
    data: dict[str, Any] = {"area": area, "limit": limit}
    if request.args.get("cursor"):
        data["cursor"] = request.args["cursor"]
    if show == fq.EXPIRING:
        data["expiring_within"] = fq.EXPIRING_DAYS
    elif show == fq.LAPSED:
        if answers.get("lapsed_since") is None:
            return data, {fq.SINCE.path: "Enter the date the flags lapsed since"}
        data["lapsed_since"] = answers["lapsed_since"]
    elif show != fq.SHOW_ALL:
        return data, {fq.SHOW.path: "Select which flags to show"}
    return data, {}


def _load_query(data: dict[str, Any]) -> tuple[FlagQuery | None, dict[str, str]]:
    try:
        return load(FlagQuerySchema(), data, FlagQuery), {}
    except ValidationError as exc:
        found = problems(exc.messages, fq.FILTERS)
        if "cursor" in exc.messages:
            found = {
                FORM: "This page of results no longer exists. Start again from the first page."
            }
        return None, found


def _rows(items: list[lifecycle.FlagView], area: str) -> list[dict[str, Any]]:
    names = area_names({item.sits_with for item in items} | {area})
    return [
        {
            "id": item.id,
            "case_ref": item.case_ref or "",
            "subjects": subject_words(item.subject_roles),
            "reviewed": long_date(item.reviewed_at),
            "expires": long_date(item.expires_at),
            "status": flag_status_tag(item.status),
            "sits_with": names.get(item.sits_with, item.sits_with),
            "moved": item.sits_with != area,
            "reviewable": item.status != CLEARED,
            "shared": item.shared,
        }
        for item in items
    ]


def _page(query: FlagQuery) -> lifecycle.FlagPage:
    with node().sessions() as db:
        return lifecycle.list_flags(db, current_principal(), query, utcnow())


def _everything(data: dict[str, Any]) -> tuple[list[lifecycle.FlagView], dict[str, str]]:
    """Every flag the filters select, page after page (the printable list and the CSV)."""
    query, errors = _load_query({**data, "limit": PAGE_MAX})
    items: list[lifecycle.FlagView] = []
    for _ in range(PRINT_PAGES):
        if query is None:
            break
        page = _page(query)
        items += page.items
        if page.next is None:
            break
        query, errors = _load_query(
            {**data, "limit": PAGE_MAX, "cursor": encode_cursor(*page.next)}
        )
    return items, errors


def _filter_form() -> dict[str, Any]:
    """The filters as typed, for the boxes (prefilled from the address, never a message)."""
    return {
        "form": request.args if request.args else None,
        "values": {fq.SHOW.path: {"choice": fq.SHOW_ALL}},
        "filter_questions": fq.FILTERS,
        "anchors": anchors(fq.FILTERS),
    }


@flags.get("/flags")
@requires(roles=[COORDINATOR, CHAIR])
def flag_list() -> Response:
    area = _area([COORDINATOR, CHAIR], FLAGS_QUERY)
    data, errors = _query(area, PAGE_SIZE)
    query, more = (None, {}) if errors else _load_query(data)
    errors = errors or more
    if query is None:
        return render("flags/list.html", 400, rows=[], errors=errors, **_filter_form())
    page = _page(query)
    filters: dict[str, Any] = {k: v for k, v in request.args.items() if k != "cursor"}
    next_url = (
        url_for("flags.flag_list", **filters, cursor=encode_cursor(*page.next))
        if page.next
        else None
    )
    return render(
        "flags/list.html",
        rows=_rows(page.items, area),
        next_url=next_url,
        first=query.cursor is None,
        first_url=url_for("flags.flag_list", **filters),
        print_url=url_for("flags.printable", **filters),
        csv_url=url_for("flags.lapsed_csv", **filters),
        coordinator=area in current_principal().areas_for([COORDINATOR], FLAGS_WRITE),
        lapsed=data.get("lapsed_since"),
        **_filter_form(),
    )


@flags.get("/flags/print")
@requires(roles=[COORDINATOR, CHAIR])
def printable() -> Response:
    area = _area([COORDINATOR, CHAIR], FLAGS_QUERY)
    data, errors = _query(area, PAGE_MAX)
    data.pop("cursor", None)
    items, more = ([], {}) if errors else _everything(data)
    errors = errors or more
    return render(
        "flags/print.html",
        400 if errors else 200,
        rows=_rows(items, area),
        errors=errors,
        back_url=url_for("flags.flag_list", **_args()),
        printed=long_date(utcnow()),
        lapsed=data.get("lapsed_since"),
        expiring=data.get("expiring_within"),
    )


def _cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv(rows: list[dict[str, Any]]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Case reference", "People", "Last review", "Lapsed on", "Where the case sits"])
    for row in rows:
        writer.writerow(
            [
                _cell(row["case_ref"]),
                row["subjects"],
                row["reviewed"],
                row["expires"],
                row["sits_with"],
            ]
        )
    yield out.getvalue()


@flags.get("/flags/lapsed.csv")
@requires(roles=[COORDINATOR, CHAIR])
def lapsed_csv() -> Response:
    """Lapsed flags for the next meeting's agenda: since the date chosen on the list, or
    over the last 30 days. The case references are in the file, never in its name."""
    area = _area([COORDINATOR, CHAIR], FLAGS_QUERY)
    since = read_answers(request.args, (fq.SINCE,)).get(fq.SINCE.path)
    if since is None:
        since = (utcnow().date() - timedelta(days=fq.EXPIRING_DAYS)).isoformat()
    items, errors = _everything({"area": area, "lapsed_since": since})
    if errors:
        return render("flags/list.html", 400, rows=[], errors=errors, **_filter_form())
    name = f"lapsed-flags-{utcnow().date().isoformat()}.csv"
    return Response(
        "".join(_csv(_rows(items, area))),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- set a flag ------------------------------------------------------------------------------


def _subject_count(form: Mapping[str, str]) -> int:
    raw = form.get("subject_count", "1")
    count = int(raw) if raw.isdigit() else 1
    return max(1, min(count, MAX_SUBJECTS))


def _transfer_question(area: str) -> Question | None:
    """The area's recent transfers, by short reference and direction (no names)."""
    with node().sessions() as db:
        page = reading.list_transfer_page(
            db, area, direction=None, status=None, after=None, limit=RECENT_TRANSFERS
        )
    items = [t for t in page.items if t.status not in (states.DRAFT, states.AWAITING_APPROVAL)]
    if not items:
        return None
    names = area_names({t.from_area for t in items} | {t.to_area for t in items})
    options = tuple(
        (
            t.id,
            f"{DIRECTIONS[t.direction]} {'from' if t.direction == states.INBOUND else 'to'} "
            f"{names[t.from_area if t.direction == states.INBOUND else t.to_area]}, "
            f"transfer {short_reference(t.id)}, {long_date(t.created_at)}",
        )
        for t in items
    )
    return Question(
        fq.TRANSFER_ID,
        "Which transfer? (only if the case came by transfer)",
        kind=RADIOS,
        options=options,
        noun="the transfer",
    )


def _flag_questions(count: int, transfer: Question | None) -> tuple[Question, ...]:
    subjects = tuple(q for i in range(count) for q in fq.subject_questions(i))
    return (*fq.FLAG, *((transfer,) if transfer else ()), *subjects)


def _flag_body(form: Any, count: int) -> dict[str, Any]:
    answers = nest(read_answers(form, _flag_questions(count, None)))
    subjects = answers.pop(fq.SUBJECT, {})
    source = answers.get("source")
    if source == fq.TRANSFER:
        chosen = form.get(fq.TRANSFER_ID) or ""
        answers["source"] = {"transfer": chosen} if chosen else fq.TRANSFER
    return {**answers, "subjects": [subjects[str(i)] for i in range(count)]}


def _set_page(status: int, count: int, transfer: Question | None, errors: Any = None) -> Response:
    questions = _flag_questions(count, transfer)
    return render(
        "flags/set.html",
        status,
        head=[q for q in questions if not q.path.startswith(fq.SUBJECT)],
        subjects=[fq.subject_questions(i) for i in range(count)],
        count=count,
        most=MAX_SUBJECTS,
        values={},
        form=request.form if request.method == "POST" else None,
        errors=dict(errors or {}),
        anchors=anchors(questions),
    )


@flags.route("/flags/new", methods=["GET", "POST"])
@requires(roles=[COORDINATOR])
def set_flag() -> Response:
    area = _area([COORDINATOR], FLAGS_WRITE)
    transfer = _transfer_question(area)
    if request.method == "GET":
        return _set_page(200, 1, transfer)
    count = _subject_count(request.form)
    action = request.form.get("action")
    if action == "add":
        # "Add another person" without JavaScript: the same page, one more person.
        return _set_page(200, min(count + 1, MAX_SUBJECTS), transfer)
    if action == "remove" and count > 1:
        return _set_page(200, count - 1, transfer)
    body = _flag_body(request.form, count)
    if body.get("source") == fq.TRANSFER:
        missing = (
            {fq.TRANSFER_ID: "Select the transfer"}
            if transfer
            else {fq.SOURCE.path: "This area has no transfer to choose: choose its own meeting"}
        )
        return _set_page(422, count, transfer, missing)
    current = node()
    try:
        with current.sessions() as db:
            made = lifecycle.set_flag(
                db, current.flag_roles, current_principal(), area, body, utcnow()
            )
    except DomainError as exc:
        questions = _flag_questions(count, transfer)
        status = exc.status if exc.status != 400 else 422
        return _set_page(status, count, transfer, refusal(exc, questions))
    return go("flags.flag_set", flag_id=made.id)


def _flag(flag_id: str) -> lifecycle.FlagView:
    with node().sessions() as db:
        return lifecycle.get_flag(db, current_principal(), flag_id)


def _flag_context(found: lifecycle.FlagView) -> dict[str, Any]:
    names = area_names({found.sits_with, found.area_code})
    return {
        "flag": found,
        "subjects": subject_words(found.subject_roles),
        "reviewed": long_date(found.reviewed_at),
        "expires": long_date(found.expires_at),
        "status_tag": flag_status_tag(found.status),
        "sits_with": names.get(found.sits_with, found.sits_with),
    }


@flags.get("/flags/<flag_id>/set")
@requires(roles=[COORDINATOR])
def flag_set(flag_id: str) -> Response:
    return render(
        "flags/done.html", done="set", heading="Flag set", **_flag_context(_flag(flag_id))
    )


# --- review ----------------------------------------------------------------------------------


def _review_page(found: lifecycle.FlagView, status: int = 200, errors: Any = None) -> Response:
    return render(
        "flags/review.html",
        status,
        questions=fq.REVIEW,
        values={},
        form=request.form if request.method == "POST" else None,
        errors=dict(errors or {}),
        anchors=anchors(fq.REVIEW),
        **_flag_context(found),
    )


@flags.route("/flags/<flag_id>/review", methods=["GET", "POST"])
@requires(roles=[COORDINATOR])
def review(flag_id: str) -> Response:
    found = _flag(flag_id)
    if found.area_code not in current_principal().areas_for([COORDINATOR], FLAGS_WRITE):
        raise NotFound("No such flag.")
    if request.method == "GET":
        return _review_page(found)
    body = nest(read_answers(request.form, fq.REVIEW))
    if body.get("outcome") is None:
        # The schema's default is "extend": the page asks, rather than assume.
        body.pop("outcome")
        missing = {"outcome": "Select what the review decided"}
        if body.get("reviewed_at") is None:
            missing = {"reviewed_at": "Enter the date of the MARAC review", **missing}
        return _review_page(found, 422, missing)
    current = node()
    try:
        with current.sessions() as db:
            lifecycle.review(db, current.flag_roles, current_principal(), flag_id, body, utcnow())
    except NotFound:
        raise
    except DomainError as exc:
        status = exc.status if exc.status != 400 else 422
        return _review_page(found, status, refusal(exc, fq.REVIEW))
    return go("flags.reviewed", flag_id=flag_id)


@flags.get("/flags/<flag_id>/reviewed")
@requires(roles=[COORDINATOR])
def reviewed(flag_id: str) -> Response:
    found = _flag(flag_id)
    done = "cleared" if found.status == CLEARED else "reviewed"
    heading = "Flag cleared" if done == "cleared" else "Flag reviewed"
    return render("flags/done.html", done=done, heading=heading, **_flag_context(found))


# --- look a person up ------------------------------------------------------------------------


def _lookup_form(status: int = 200, errors: Any = None) -> Response:
    return render(
        "flags/lookup.html",
        status,
        questions=fq.LOOKUP,
        values={},
        form=request.form if request.method == "POST" else None,
        errors=dict(errors or {}),
        anchors=anchors(fq.LOOKUP),
    )


@flags.get("/flags/lookup")
@requires(roles=[COORDINATOR])
def lookup_form() -> Response:
    return _lookup_form()


@flags.post("/flags/lookup")
@requires(roles=[COORDINATOR])
def lookup_answer() -> Response:
    """The answer is this POST's response: no address holds the person or the matches."""
    area = _area([COORDINATOR], FLAGS_QUERY)
    person = nest(read_answers(request.form, fq.LOOKUP))
    current = node()
    try:
        with current.sessions() as db:
            matches = lookup.lookup(
                db,
                current.flag_roles,
                current_principal(),
                area,
                person,
                current.lookup_limit,
                utcnow(),
            )
    except DomainError as exc:
        status = exc.status if exc.status != 400 else 422
        return _no_store(_lookup_form(status, refusal(exc, fq.LOOKUP)))
    names = area_names({m.area for m in matches if m.area})
    return _no_store(
        render(
            "flags/lookup_result.html",
            local=[m for m in matches if m.kind == "local"],
            remote=[m for m in matches if m.kind == "remote"],
            possible=[m for m in matches if m.kind == "possible"],
            names=names,
            long_date=long_date,
            no_birth_date=person.get("date_of_birth") is None,
            person=person,
            hidden=_hidden(person),
            note=fq.NOTE,
        )
    )


def _hidden(person: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The person again as the lookup form's own fields (hidden, in the POST body only),
    for "ask them to check"."""
    fields: list[tuple[str, str]] = []
    for q in fq.LOOKUP:
        shown = prefill(q, person.get(q.path))
        if q.kind == DATE:
            fields += [(f"{q.id}-{box}", shown.get(box, "")) for box in ("day", "month", "year")]
        else:
            fields.append((q.id, shown.get("text", "")))
    return fields


@flags.post("/flags/lookup/ask")
@requires(roles=[COORDINATOR])
def ask() -> Response:
    area = _area([COORDINATOR], FLAGS_QUERY)
    person = nest(read_answers(request.form, fq.LOOKUP))
    body = {
        "ref": request.form.get("ref", ""),
        "person": person,
        "note": (request.form.get(fq.NOTE.id) or "").strip() or None,
    }
    current = node()
    try:
        with current.sessions() as db:
            verification.request(
                db,
                current.flag_roles,
                current_principal(),
                area,
                body,
                current.lookup_limit,
                utcnow(),
            )
    except DomainError as exc:
        status = exc.status if exc.status != 400 else 422
        errors = refusal(exc, fq.LOOKUP)
        return _no_store(_lookup_form(status, {FORM: next(iter(errors.values()))}))
    return go("flags.asked")


@flags.get("/flags/lookup/asked")
@requires(roles=[COORDINATOR])
def asked() -> Response:
    return render("flags/asked.html")


# --- verification requests received ---------------------------------------------------------


@flags.get("/flags/verifications")
@requires(roles=[COORDINATOR])
def verifications() -> Response:
    area = _area([COORDINATOR], FLAGS_WRITE)
    current = node()
    with current.sessions() as db:
        items = verification.list_received(db, current.master, current_principal(), area, utcnow())
    names = area_names({item["from_area"] for item in items})
    for item in items:
        born = item["person"].get("date_of_birth")
        item["born"] = long_date(date.fromisoformat(born)) if born else "Not given"
    return _no_store(
        render(
            "flags/verifications.html",
            items=items,
            names=names,
            long_date=long_date,
            answer_words=ANSWER_WORDS,
        )
    )


# --- the holder's answer, and the answers to the requests this area sent --------------------


def _answer_page(item: Mapping[str, Any], status: int = 200, errors: Any = None) -> Response:
    return render(
        "flags/answer.html",
        status,
        item=item,
        names=area_names({item["from_area"]}),
        long_date=long_date,
        question=fq.ANSWER,
        values={},
        form=request.form if request.method == "POST" else None,
        errors=dict(errors or {}),
    )


@flags.route("/flags/verifications/<request_id>/answer", methods=["GET", "POST"])
@requires(roles=[COORDINATOR])
def answer(request_id: str) -> Response:
    area = _area([COORDINATOR], FLAGS_WRITE)
    current = node()
    with current.sessions() as db:
        item = answers.received(db, current_principal(), area, request_id)
    if item["answer"] is not None:
        return go("flags.answered", request_id=request_id)
    if request.method == "GET":
        return _answer_page(item)
    chosen = read_answers(request.form, [fq.ANSWER]).get(fq.ANSWER.path)
    if chosen is None:
        return _answer_page(item, 422, {fq.ANSWER.path: f"Select {fq.ANSWER.noun}"})
    try:
        with current.sessions() as db:
            answers.answer(
                db,
                current.flag_roles,
                current_principal(),
                area,
                request_id,
                {"answer": chosen},
                utcnow(),
            )
    except DomainError as exc:
        status = exc.status if exc.status != 400 else 422
        return _answer_page(item, status, refusal(exc, [fq.ANSWER]))
    return go("flags.answered", request_id=request_id)


@flags.get("/flags/verifications/<request_id>/answered")
@requires(roles=[COORDINATOR])
def answered(request_id: str) -> Response:
    area = _area([COORDINATOR], FLAGS_WRITE)
    with node().sessions() as db:
        item = answers.received(db, current_principal(), area, request_id)
    if item["answer"] is None:
        raise NotFound("This request has not been answered.")
    return render("flags/answered.html", item=item, names=area_names({item["from_area"]}))


@flags.get("/flags/verifications/sent")
@requires(roles=[COORDINATOR])
def sent() -> Response:
    area = _area([COORDINATOR], FLAGS_QUERY)
    current = node()
    with current.sessions() as db:
        items = answers.list_sent(db, current.master, current_principal(), area, utcnow())
    names = area_names({item["area"] for item in items if item["area"]})
    return _no_store(
        render(
            "flags/sent.html",
            items=items,
            names=names,
            long_date=long_date,
            short_reference=short_reference,
        )
    )


# --- the area's sharing policy ---------------------------------------------------------------


def _policy(area: str, perpetrators: bool | None, children: bool | None) -> frozenset[str]:
    principal = current_principal()
    with node().sessions() as db:
        return lifecycle.set_policy(
            db, area, perpetrators, children, principal.actor(area, [ADMIN]), utcnow()
        )


def _policy_page(area: str, status: int = 200, errors: Any = None) -> Response:
    shared = _policy(area, None, None)  # None, None: read only, nothing recorded
    values = {q.path: prefill(q, fq.POLICY_ROLES[q.path] in shared) for q in fq.POLICY}
    return render(
        "flags/policy.html",
        status,
        questions=fq.POLICY,
        values=values,
        form=request.form if request.method == "POST" else None,
        errors=dict(errors or {}),
        shared=shared,
    )


@flags.route("/flags/policy", methods=["GET", "POST"])
@requires(roles=[ADMIN])
def policy() -> Response:
    area = _area([ADMIN], FLAGS_WRITE)
    if request.method == "GET":
        return _policy_page(area)
    answers = read_answers(request.form, fq.POLICY)
    missing = {q.path: f"Select {q.noun}" for q in fq.POLICY if answers.get(q.path) is None}
    if missing:
        return _policy_page(area, 422, missing)
    _policy(area, answers["perpetrators"], answers["children"])
    return go("flags.policy_saved")


@flags.get("/flags/policy/saved")
@requires(roles=[ADMIN])
def policy_saved() -> Response:
    area = _area([ADMIN], FLAGS_WRITE)
    return render("flags/policy_saved.html", shared=_policy(area, None, None))

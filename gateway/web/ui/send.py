"""Send a transfer, in the browser: choose the receiving area and the reason (which saves a
sealed draft), then a task list over the draft whose sections follow the referral form,
one page per section (consent: one question a page), documents held with the draft, check
your answers, send, and a confirmation that says what happens next.

Every page calls the same domain services as the API (`transfers.drafts`,
`casework.documents`) and every answer is validated by the `transfer_request` schema; the
page only puts the schema's refusals into words. URLs carry the draft's opaque id only;
titles are generic.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from gateway.domain.areas import peers
from gateway.domain.casework import documents
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import COORDINATOR
from gateway.domain.transfers import drafts, reading, sending
from gateway.domain.transfers.states import AWAITING_APPROVAL
from gateway.errors import Conflict, DomainError, Invalid
from gateway.web import node
from gateway.web.guard import current_principal, requires
from gateway.web.ui import send_sections as sections
from gateway.web.ui.code_words import DOCUMENT_KINDS as DOCUMENT_WORDS
from gateway.web.ui.forms import (
    RADIOS,
    Question,
    anchors,
    flatten,
    nest,
    plain,
    prefill,
    problems,
    read_answers,
    value_at,
)
from schemas.wire.document import KINDS

send = Blueprint("send", __name__)

DOCUMENT_KINDS = tuple(DOCUMENT_WORDS.items())


def sending_area() -> str:
    """The area the coordinator is working in (chosen with the area switcher, else their
    only or first area with the coordinator role)."""
    held = current_principal().areas_for([COORDINATOR])
    if not held:
        abort(403)
    chosen = session.get("area")
    return chosen if chosen in held else held[0]


def _render(template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("errors", {})
    body = render_template(template, **context)
    return Response(body, status=status, mimetype="text/html")


def _go(endpoint: str, **values: Any) -> Response:
    return redirect(url_for(endpoint, **values), code=303)


def _draft(transfer_id: str) -> tuple[reading.TransferView, dict[str, Any]]:
    current = node()
    with current.sessions() as db:
        return drafts.draft_content(db, current.master, current_principal(), transfer_id)


def _update(transfer_id: str, part: dict[str, Any]) -> None:
    current = node()
    with current.sessions() as db:
        drafts.update_draft(db, current.master, current_principal(), transfer_id, part, utcnow())


def _peer_names() -> dict[str, str]:
    with node().sessions() as db:
        return {peer.code: peer.name for peer in peers.list_peers(db)}


# --- start ----------------------------------------------------------------------------------


def _start_questions(names: dict[str, str]) -> tuple[Question, ...]:
    return (
        Question(
            "to_area",
            "Which MARAC are you sending the case to?",
            noun="the MARAC you are sending the case to",
            kind=RADIOS,
            options=tuple(sorted(names.items(), key=lambda item: item[1])),
            required=True,
        ),
        Question(
            "reason",
            "Why is the case moving?",
            noun="why the case is moving",
            kind=RADIOS,
            options=sections.REASONS,
            required=True,
        ),
    )


@send.route("/transfers/new", methods=["GET", "POST"])
@requires(roles=[COORDINATOR])
def start() -> Response:
    area = sending_area()
    names = {code: name for code, name in _peer_names().items() if code != area}
    questions = _start_questions(names)
    if request.method == "GET":
        return _render("send/start.html", questions=questions, values={}, form=None, anchors={})
    answers = read_answers(request.form, questions)
    current = node()
    try:
        with current.sessions() as db:
            started = drafts.start_draft(
                db,
                current.master,
                current_principal(),
                {"from_area": area, **answers},
                utcnow(),
            )
    except Invalid as exc:
        found = problems(exc.errors or {}, questions)
        return _render(
            "send/start.html",
            422,
            questions=questions,
            values={},
            form=request.form,
            errors=found,
            anchors={},
        )
    return _go("send.task_list", transfer_id=started.id)


# --- the task list --------------------------------------------------------------------------


def _answered(content: dict[str, Any], key: str) -> bool:
    """Whether the draft holds an answer (even an empty one) for a field or a field of a
    nested object (`documents.to_follow`)."""
    head, _, rest = key.partition(".")
    if not rest:
        return head in content
    inner = content.get(head)
    return isinstance(inner, dict) and _answered(inner, rest)


def _status(section: sections.Section, content: dict[str, Any]) -> str:
    if all(_answered(content, key) for key in section.keys):
        if section.slug == "consent":
            consent = content.get("consent") or {}
            wanted = ("victim_informed", "consent", "decided_by", "decided_at", "decision_forum")
            return "completed" if all(k in consent for k in wanted) else "in_progress"
        return "completed"
    return "in_progress" if any(_answered(content, key) for key in section.keys) else "not_started"


def _sections(content: dict[str, Any]) -> list[sections.Section]:
    return [s for s in sections.SECTIONS if s.applies(content.get("reason"))]


@send.get("/drafts/<transfer_id>")
@requires(roles=[COORDINATOR])
def task_list(transfer_id: str) -> Response:
    transfer, content = _draft(transfer_id)
    held = _held_documents(transfer_id)
    rows = [(s, _status(s, content)) for s in _sections(content)]
    return _render(
        "send/task_list.html",
        transfer=transfer,
        rows=rows,
        peer=_peer_names().get(transfer.to_area, transfer.to_area),
        reason=sections.REASON_WORDS.get(str(content.get("reason")), ""),
        held=held,
        done=sum(1 for _, status in rows if status == "completed"),
    )


# --- one question page ----------------------------------------------------------------------


def _page_part(page: sections.Page, answers: dict[str, Any]) -> dict[str, Any]:
    """The page's answers as the part of the request they set."""
    if page.root:
        whole = _tidy(nest(answers)[page.root])
        # An optional object left wholly empty (no IDVA) is no object at all.
        empty = all(v in (None, [], "") for v in whole.values())
        return {page.root: None if empty else whole}
    part: dict[str, Any] = {}
    for path, value in answers.items():
        head, _, rest = path.partition(".")
        if not rest:
            part[path] = value
            continue
        sub, _, deeper = rest.partition(".")
        key = f"{head}.{sub}"
        if deeper:
            part.setdefault(key, {}).update(nest({deeper: value}))
        else:
            part[key] = value
    if part.get("restricted") is False:
        # Not restricted: no reason may be recorded (the schema refuses one).
        part["restricted_reason"] = None
    return part


def _tidy(value: Any) -> Any:
    """A nested object left wholly empty on the page is no object at all."""
    if isinstance(value, dict):
        tidied = {k: _tidy(v) for k, v in value.items()}
        nested = [k for k, v in tidied.items() if isinstance(value[k], dict)]
        for key in nested:
            if all(v in (None, [], "") for v in (tidied[key] or {}).values()):
                tidied[key] = None
        return tidied
    return value


def _next_page(page: sections.Page, transfer_id: str) -> Response:
    """The section's next page (consent and safe contact ask one thing a page), else the
    task list."""
    for section in sections.SECTIONS:
        slugs = [p.slug for p in section.pages]
        if page.slug in slugs and page.slug != slugs[-1]:
            following = slugs[slugs.index(page.slug) + 1]
            return _go("send.question", transfer_id=transfer_id, slug=following)
    return _go("send.task_list", transfer_id=transfer_id)


@send.route("/drafts/<transfer_id>/<slug>", methods=["GET", "POST"])
@requires(roles=[COORDINATOR])
def question(transfer_id: str, slug: str) -> Response:
    page = sections.PAGES.get(slug)
    if page is None:
        abort(404)
    transfer, content = _draft(transfer_id)
    context: dict[str, Any] = {
        "transfer": transfer,
        "page": page,
        "anchors": anchors(page.questions),
        "questions": page.questions,
        "values": {q.path: prefill(q, value_at(content, q.path)) for q in page.questions},
        "form": None,
        "back": url_for("send.task_list", transfer_id=transfer_id),
    }
    if request.method == "GET":
        return _render("send/question.html", **context)
    answers = read_answers(request.form, page.questions)
    try:
        _update(transfer_id, _page_part(page, answers))
    except Invalid as exc:
        found = problems(exc.errors or {}, page.questions)
        return _render("send/question.html", 422, **{**context, "form": request.form}, errors=found)
    return _next_page(page, transfer_id)


# --- several of a thing ---------------------------------------------------------------------


def _list_of(key: str) -> sections.ListSection:
    found = sections.LISTS.get(key)
    if found is None:
        abort(404)
    return found


@send.route("/drafts/<transfer_id>/list/<key>", methods=["GET", "POST"])
@requires(roles=[COORDINATOR])
def list_page(transfer_id: str, key: str) -> Response:
    section = _list_of(key)
    transfer, content = _draft(transfer_id)
    if request.method == "POST":
        # "Continue": the section is answered, even with none of the thing.
        if not _answered(content, key):
            _update(transfer_id, {key: []})
        return _go("send.task_list", transfer_id=transfer_id)
    return _render(
        "send/list.html",
        transfer=transfer,
        section=section,
        items=list(enumerate(value_at(content, key) or [])),
    )


@send.route("/drafts/<transfer_id>/list/<key>/<index>", methods=["GET", "POST"])
@requires(roles=[COORDINATOR])
def item(transfer_id: str, key: str, index: str) -> Response:
    section = _list_of(key)
    transfer, content = _draft(transfer_id)
    items = list(value_at(content, key) or [])
    position = len(items) if index == "new" else _index(index, items)
    saved = items[position] if position < len(items) else {}
    context: dict[str, Any] = {
        "transfer": transfer,
        "section": section,
        "anchors": anchors(section.questions),
        "position": position,
        "questions": section.questions,
        "values": {q.path: prefill(q, value_at(saved, q.path)) for q in section.questions},
        "form": None,
        "new": position == len(items),
        "back": url_for("send.list_page", transfer_id=transfer_id, key=key),
    }
    if request.method == "GET":
        return _render("send/item.html", **context)
    entry = _tidy(nest(read_answers(request.form, section.questions)))
    if position == len(items):
        items.append(entry)
    else:
        items[position] = entry
    try:
        _update(transfer_id, {key: items})
    except Invalid as exc:
        found = problems(exc.errors or {}, section.questions, prefix=f"{key}.{position}")
        return _render("send/item.html", 422, **{**context, "form": request.form}, errors=found)
    return _go("send.list_page", transfer_id=transfer_id, key=key)


def _index(text: str, items: list[Any]) -> int:
    if not text.isdigit() or int(text) >= len(items):
        abort(404)
    return int(text)


@send.post("/drafts/<transfer_id>/list/<key>/<index>/remove")
@requires(roles=[COORDINATOR])
def remove_item(transfer_id: str, key: str, index: str) -> Response:
    _list_of(key)
    _, content = _draft(transfer_id)
    items = list(value_at(content, key) or [])
    del items[_index(index, items)]
    _update(transfer_id, {key: items})
    return _go("send.list_page", transfer_id=transfer_id, key=key)


# --- documents held with the draft ----------------------------------------------------------


def _held_documents(transfer_id: str) -> list[documents.DocumentView]:
    with node().sessions() as db:
        _, found = documents.list_documents(db, current_principal(), transfer_id)
    return [d for d in found if d.direction == documents.HELD]


DOCUMENT_QUESTIONS = (
    Question(
        "kind",
        "What is the document?",
        noun="what the document is",
        kind=RADIOS,
        options=DOCUMENT_KINDS,
        required=True,
    ),
    Question("file", "Choose the file", hint="PDF, Word, OpenDocument, RTF, text, PNG or JPEG"),
)


@send.route("/drafts/<transfer_id>/documents", methods=["GET", "POST"])
@requires(roles=[COORDINATOR])
def documents_page(transfer_id: str) -> Response:
    transfer, _ = _draft(transfer_id)
    context: dict[str, Any] = {
        "transfer": transfer,
        "held": _held_documents(transfer_id),
        "questions": DOCUMENT_QUESTIONS,
        "kinds": dict(DOCUMENT_KINDS),
        "limit_mb": node().settings.document_max_bytes // (1024 * 1024),
    }
    if request.method == "GET":
        return _render("send/documents.html", **context)
    try:
        _attach(transfer_id)
    except DomainError as exc:
        where = "kind" if exc.errors and "kind" in exc.errors else "file"
        return _render(
            "send/documents.html", exc.status, **context, errors={where: _upload_problem(exc)}
        )
    return _go("send.documents_page", transfer_id=transfer_id)


def _attach(transfer_id: str) -> None:
    current = node()
    limit = current.settings.document_max_bytes
    kind = request.form.get("kind") or ""
    if kind not in KINDS:
        raise Invalid("Say what the document is.", errors={"kind": ["Select what it is."]})
    part = request.files.get("file")
    if part is None:
        raise Invalid("Choose a file.", errors={"file": ["Select a file."]})
    content = part.stream.read(limit + 1)
    upload = documents.file_upload(kind, content, None, limit)
    with current.sessions() as db:
        documents.send_document(
            db, current.master, current_principal(), transfer_id, upload, utcnow()
        )


def _upload_problem(error: DomainError) -> str:
    if error.errors and "kind" in error.errors:
        return "Select what the document is"
    if error.errors and "file" in error.errors:
        return "Select a file"
    if error.status == 413:
        return "The file must be smaller than the limit shown"
    if error.status == 415:
        return "The file must be a PDF, Word, OpenDocument, RTF, text, PNG or JPEG file"
    return error.detail


# --- check your answers, send, confirmation -------------------------------------------------


def _full_problems(content: dict[str, Any], transfer_id: str) -> list[dict[str, str]]:
    """The whole request checked as it will be sent: the error summary's items, each
    linked to the page where it is answered."""
    try:
        sending.validated_request(content, content["from_area"], content["to_area"])
    except Invalid as exc:
        found: dict[str, dict[str, str]] = {}
        for path, message in flatten(exc.errors):
            href, text = _linked(path, message, transfer_id)
            found.setdefault(text, {"href": href, "text": text})
        return list(found.values())
    return []


def _linked(path: str, message: str, transfer_id: str) -> tuple[str, str]:
    for section in sections.SECTIONS:
        key = section.list.key if section.list else None
        if key and (path == key or path.startswith(key + ".")):
            href = url_for("send.list_page", transfer_id=transfer_id, key=key)
            return href, f"{section.title}: {_reworded(message)}"
        for page in section.pages:
            for q in page.questions:
                if q.path == path or q.path.startswith(path + ".") or path.startswith(q.path + "."):
                    href = url_for("send.question", transfer_id=transfer_id, slug=page.slug)
                    return href, f"{page.title}: {plain(message, q)}"
    return url_for("send.task_list", transfer_id=transfer_id), _reworded(message)


def _reworded(message: str) -> str:
    if message in ("Missing data for required field.", "Field may not be null."):
        return "not answered yet"
    return message


@send.get("/drafts/<transfer_id>/check")
@requires(roles=[COORDINATOR])
def check(transfer_id: str) -> Response:
    transfer, content = _draft(transfer_id)
    return _check_page(transfer, content, 200)


def _check_page(
    transfer: reading.TransferView,
    content: dict[str, Any],
    status: int,
    refused: list[dict[str, str]] | None = None,
) -> Response:
    found = refused or _full_problems(content, transfer.id)
    return _render(
        "send/check.html",
        status,
        transfer=transfer,
        content=content,
        sections=_sections(content),
        peer=_peer_names().get(transfer.to_area, transfer.to_area),
        reason=sections.REASON_WORDS.get(str(content.get("reason")), ""),
        held=_held_documents(transfer.id),
        kinds=dict(DOCUMENT_KINDS),
        value_at=value_at,
        problems_found=found,
        errors={"": "The transfer cannot be sent yet"} if found else {},
    )


@send.post("/drafts/<transfer_id>/send")
@requires(roles=[COORDINATOR])
def send_now(transfer_id: str) -> Response:
    current = node()
    try:
        with current.sessions() as db:
            sent = drafts.send_draft(db, current.master, current_principal(), transfer_id, utcnow())
    except Invalid:
        transfer, content = _draft(transfer_id)
        return _check_page(transfer, content, 422)
    except Conflict as exc:
        # The receiving area's gateway accepts only older versions that have no place for
        # some answers (docs/contract.md, "Payload versions"): say so, linking each answer.
        transfer, content = _draft(transfer_id)
        named = [_linked(path, str(m[0]), transfer_id) for path, m in (exc.errors or {}).items()]
        found = [{"text": exc.detail, "href": url_for("send.task_list", transfer_id=transfer_id)}]
        found += [{"href": href, "text": text} for href, text in named]
        return _check_page(transfer, content, 409, found)
    return _go("send.sent", transfer_id=sent.id)


@send.get("/transfers/<transfer_id>/sent")
@requires(roles=[COORDINATOR])
def sent(transfer_id: str) -> Response:
    with node().sessions() as db:
        transfer, _ = reading.transfer_timeline(db, current_principal(), transfer_id)
    if transfer.direction != "outbound":
        abort(404)
    return _render(
        "send/sent.html",
        transfer=transfer,
        held=transfer.status == AWAITING_APPROVAL,
        peer=_peer_names().get(transfer.to_area, transfer.to_area),
    )


@send.route("/drafts/<transfer_id>/delete", methods=["GET", "POST"])
@requires(roles=[COORDINATOR])
def delete(transfer_id: str) -> Response:
    transfer, _ = _draft(transfer_id)
    if request.method == "GET":
        return _render("send/delete.html", transfer=transfer)
    current = node()
    with current.sessions() as db:
        drafts.delete_draft(db, current.master, current_principal(), transfer_id, utcnow())
    return _go("send.deleted")


@send.get("/drafts/deleted")
@requires(roles=[COORDINATOR])
def deleted() -> Response:
    return _render("send/deleted.html")


@send.app_template_global()
def raw_values(form: MultiDict[str, str] | None, q: Question) -> dict[str, Any]:
    """What was typed, shown again in the boxes after a refusal (never in a message)."""
    if form is None:
        return {}
    return {
        "text": form.get(q.id, ""),
        "choice": form.get(q.id, ""),
        "chosen": form.getlist(q.id),
        "day": form.get(q.id + "-day", ""),
        "month": form.get(q.id + "-month", ""),
        "year": form.get(q.id + "-year", ""),
        "time": form.get(q.id + "-time", ""),
    }

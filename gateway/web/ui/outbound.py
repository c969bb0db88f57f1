"""What the sending area does about a transfer it sent, in the browser (DESIGN section 2),
linked from the case page: answer an information request with documents, withdraw the
transfer, report a repeat incident (the receiving area reports one back on the same
page), grant or refuse a request to forward the case, send a failed reply again. Each is
the domain service the API calls, under the same rules; each change ends with a 303 to a
confirmation saying what happens next. Coordinators only; an id of another area's
transfer is 404, as one that does not exist.

Pages (every one "coordinator"):
  /cases/<id>/requests/<request_id>/answer     "Send the documents asked for"
  /cases/<id>/requests/<request_id>/answered   "Documents sent"
  /cases/<id>/withdraw                         "Withdraw the transfer"
  /cases/<id>/withdrawn                        "Transfer withdrawn"
  /cases/<id>/repeat-incident                  "Report a repeat incident" (either area)
  /cases/<id>/repeat-incident/sent             "Repeat incident reported"
  /cases/<id>/forward-requests/<request_id>    "Answer a request to forward the case"
  /cases/<id>/forward-requests/<request_id>/answered   "Request to forward answered"
  POST /cases/<id>/messages/<message_id>/resend
  /cases/<id>/messages/<message_id>/resent     "Message queued again"
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, request
from werkzeug.wrappers import Response

from gateway.domain.casework import (
    documents,
    forward_permission,
    forwarding,
    information_requests,
    messages,
    repeat_incidents,
    withdrawal,
)
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import COORDINATOR
from gateway.domain.transfers import reading, states, timeline
from gateway.errors import DomainError, Invalid, NotFound, UnsupportedMediaType
from gateway.web import node
from gateway.web.guard import current_principal, requires
from gateway.web.ui.code_words import DOCUMENT_KINDS
from gateway.web.ui.forms import Question, anchors, nest, read_answers
from gateway.web.ui.outbound_questions import (
    DECIDE,
    MESSAGE_WORDS,
    REPEAT,
    WITHDRAW,
    grant_terms,
)
from gateway.web.ui.pages import case_url, go, refusal, render
from gateway.web.ui.transfer_words import area_names, long_date, short_reference, status_tag
from schemas.wire.forward_permission import GRANTED

outbound = Blueprint("outbound", __name__)

# --- shared ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """What every page here shows of the transfer: metadata only."""

    transfer: reading.TransferView
    steps: list[timeline.Step]
    reference: str
    other_area: str
    status: dict[str, str]
    url: str


def _case(transfer_id: str, *, sent_only: bool = True) -> Case:
    """The area's own transfer (one it sent, unless `sent_only` is False), or NotFound:
    another area's, or one this page is not for."""
    with node().sessions() as db:
        transfer, steps = reading.transfer_timeline(db, current_principal(), transfer_id)
    if sent_only and transfer.direction != states.OUTBOUND:
        raise NotFound("No such transfer.")
    names = area_names({transfer.peer_area})
    return Case(
        transfer,
        steps,
        short_reference(transfer.id),
        names.get(transfer.peer_area, transfer.peer_area),
        status_tag(transfer.status),
        case_url(transfer.id),
    )


def _form_page(
    template: str,
    case: Case,
    questions: tuple[Question, ...],
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    **context: Any,
) -> Response:
    return render(
        template,
        status,
        case=case,
        questions=questions,
        values={},
        form=request.form if request.method == "POST" else None,
        errors=dict(errors or {}),
        anchors=anchors(questions),
        **context,
    )


def _submit(
    template: str,
    case: Case,
    questions: tuple[Question, ...],
    act: Callable[[dict[str, Any]], object],
    done: Response | Callable[[], Response],
    extra: Mapping[str, Any] | None = None,
    **context: Any,
) -> Response:
    """Post the page's answers to the domain; its refusal shown on the page again."""
    body = {**nest(read_answers(request.form, questions)), **(extra or {})}
    try:
        act(body)
    except NotFound:
        raise
    except DomainError as exc:
        status = exc.status if exc.status != 400 else 422
        return _form_page(template, case, questions, status, refusal(exc, questions), **context)
    return done if isinstance(done, Response) else done()


# --- withdraw -------------------------------------------------------------------------------


@outbound.route("/cases/<transfer_id>/withdraw", methods=["GET", "POST"])
@requires(roles=[COORDINATOR])
def withdraw(transfer_id: str) -> Response:
    case = _case(transfer_id)
    context: dict[str, Any] = {
        "sent": case.transfer.status not in (states.DRAFT, states.AWAITING_APPROVAL),
        "withdrawn": case.transfer.status == states.WITHDRAWN,
    }
    if request.method == "GET":
        return _form_page("outbound/withdraw.html", case, WITHDRAW, **context)
    current = node()

    def act(body: dict[str, Any]) -> object:
        with current.sessions() as db:
            return withdrawal.withdraw(
                db, current.master, current_principal(), transfer_id, body, utcnow()
            )

    return _submit(
        "outbound/withdraw.html",
        case,
        WITHDRAW,
        act,
        lambda: go("outbound.withdrawn", transfer_id=transfer_id),
        **context,
    )


@outbound.get("/cases/<transfer_id>/withdrawn")
@requires(roles=[COORDINATOR])
def withdrawn(transfer_id: str) -> Response:
    case = _case(transfer_id)
    if case.transfer.status != states.WITHDRAWN:
        raise NotFound("This transfer has not been withdrawn.")
    step = next((s for s in reversed(case.steps) if s.kind == states.WITHDRAWN), None)
    notified = bool(step and step.detail.get("notified"))
    return render("outbound/withdrawn.html", case=case, notified=notified)


# --- repeat incident ------------------------------------------------------------------------


# The one page for either area (seed 001 5.0: both keep responsibility for 12 months): the
# originating area tells the area now holding the case; the receiving area tells the
# originating area back (docs/contract.md, "Repeat incidents in both directions").
@outbound.route("/cases/<transfer_id>/repeat-incident", methods=["GET", "POST"])
@requires(roles=[COORDINATOR])
def repeat_incident(transfer_id: str) -> Response:
    case = _case(transfer_id, sent_only=False)
    if request.method == "GET":
        return _form_page("outbound/repeat_incident.html", case, REPEAT)
    current = node()

    def act(body: dict[str, Any]) -> object:
        with current.sessions() as db:
            return repeat_incidents.report(
                db, current.master, current_principal(), transfer_id, body, utcnow()
            )

    return _submit(
        "outbound/repeat_incident.html",
        case,
        REPEAT,
        act,
        lambda: go("outbound.repeat_incident_sent", transfer_id=transfer_id),
    )


@outbound.get("/cases/<transfer_id>/repeat-incident/sent")
@requires(roles=[COORDINATOR])
def repeat_incident_sent(transfer_id: str) -> Response:
    case = _case(transfer_id, sent_only=False)
    sent = repeat_incidents.SENT_STEP[case.transfer.direction]
    if not any(step.kind == sent for step in case.steps):
        raise NotFound("No repeat incident was reported for this transfer.")
    return render("outbound/repeat_incident_sent.html", case=case)


# --- forward permission ---------------------------------------------------------------------


def _permission(transfer_id: str, request_id: str) -> forward_permission.PermissionView:
    with node().sessions() as db:
        found = forward_permission.permissions(db, current_principal(), transfer_id)
    for permission in found:
        if permission.request_id == request_id:
            return permission
    raise NotFound("No such request to forward this transfer.")


@outbound.route(
    "/cases/<transfer_id>/forward-requests/<request_id>",
    methods=["GET", "POST"],
    endpoint="forward_permission",
)
@requires(roles=[COORDINATOR])
def forward_permission_page(transfer_id: str, request_id: str) -> Response:
    case = _case(transfer_id)
    permission = _permission(transfer_id, request_id)
    questions = (*DECIDE[:2], *grant_terms(_exchanged(transfer_id)), *DECIDE[2:])
    context: dict[str, Any] = {
        "permission": permission,
        "forward_to": area_names({permission.forward_to}).get(
            permission.forward_to, permission.forward_to
        ),
        "asked_on": long_date(permission.requested_at),
        "open": permission.status == forward_permission.REQUESTED,
    }
    if request.method == "GET":
        return _form_page("outbound/forward_permission.html", case, questions, **context)
    current = node()

    def act(body: dict[str, Any]) -> object:
        with current.sessions() as db:
            return forwarding.decide(
                db, current.master, current_principal(), transfer_id, body, utcnow()
            )

    return _submit(
        "outbound/forward_permission.html",
        case,
        questions,
        act,
        lambda: go(
            "outbound.forward_permission_answered", transfer_id=transfer_id, request_id=request_id
        ),
        extra={"request_id": request_id},
        **context,
    )


def _exchanged(transfer_id: str) -> tuple[tuple[str, str], ...]:
    """The documents sent or received on the case, as a grant's checkboxes: kind and date
    in words (document ids are opaque; no filename is ever kept)."""
    with node().sessions() as db:
        _, found = documents.list_documents(db, current_principal(), transfer_id)
    words = {states.OUTBOUND: "sent", states.INBOUND: "received"}
    return tuple(
        (d.id, f"{DOCUMENT_KINDS[d.kind]}, {words[d.direction]} {long_date(d.created_at)}")
        for d in found
        if d.direction in words
    )


@outbound.get("/cases/<transfer_id>/forward-requests/<request_id>/answered")
@requires(roles=[COORDINATOR])
def forward_permission_answered(transfer_id: str, request_id: str) -> Response:
    case = _case(transfer_id)
    permission = _permission(transfer_id, request_id)
    if permission.status == forward_permission.REQUESTED:
        raise NotFound("This request has not been answered.")
    forward_to = area_names({permission.forward_to}).get(
        permission.forward_to, permission.forward_to
    )
    return render(
        "outbound/forward_permission_answered.html",
        case=case,
        granted=permission.status == GRANTED,
        forward_to=forward_to,
    )


# --- answer an information request ----------------------------------------------------------


def _asked(transfer_id: str, request_id: str) -> information_requests.RequestView:
    """A request the other area made of us about this transfer, or NotFound."""
    with node().sessions() as db:
        _transfer, found = information_requests.list_requests(db, current_principal(), transfer_id)
    for asked in found:
        if asked.id == request_id and asked.direction == states.INBOUND:
            return asked
    raise NotFound("No such information request on this transfer.")


def _file_questions(asked: information_requests.RequestView) -> tuple[Question, ...]:
    return tuple(Question(f"file-{kind}", DOCUMENT_KINDS.get(kind, kind)) for kind in asked.what)


def _file_problem(exc: DomainError, label: str, max_bytes: int) -> str:
    if isinstance(exc, documents.TooLarge):
        return f"The file for {label.lower()} must be smaller than {max_bytes // (1024 * 1024)} MB"
    if isinstance(exc, UnsupportedMediaType):
        return (
            f"The file for {label.lower()} must be a PDF, Word (DOCX), OpenDocument text, RTF, "
            "plain text, PNG or JPEG"
        )
    if isinstance(exc, Invalid):
        return f"The file for {label.lower()} is empty"
    return exc.detail


def _uploads(
    asked: information_requests.RequestView, questions: tuple[Question, ...], max_bytes: int
) -> tuple[list[documents.Outgoing], dict[str, str]]:
    """Each chosen file, checked by the domain before anything is sent."""
    outgoing, errors = [], {}
    for kind, question in zip(asked.what, questions, strict=True):
        part = request.files.get(question.id)
        if part is None or not part.filename:
            continue
        content = part.stream.read(max_bytes + 1)
        try:
            outgoing.append(documents.file_upload(kind, content, asked.id, max_bytes))
        except DomainError as exc:
            errors[question.path] = _file_problem(exc, question.label, max_bytes)
    if not outgoing and not errors and questions:
        errors[questions[0].path] = "Select a file to send"
    return outgoing, errors


@outbound.route("/cases/<transfer_id>/requests/<request_id>/answer", methods=["GET", "POST"])
@requires(roles=[COORDINATOR])
def answer_request(transfer_id: str, request_id: str) -> Response:
    case = _case(transfer_id)
    asked = _asked(transfer_id, request_id)
    questions = _file_questions(asked)
    context: dict[str, Any] = {"asked": asked, "asked_on": long_date(asked.created_at)}
    if request.method == "GET":
        return _form_page("outbound/answer_request.html", case, questions, **context)
    current = node()
    max_bytes = current.settings.document_max_bytes
    outgoing, errors = _uploads(asked, questions, max_bytes)
    if errors:
        return _form_page("outbound/answer_request.html", case, questions, 422, errors, **context)
    for document in outgoing:
        try:
            with current.sessions() as db:
                documents.send_document(
                    db, current.master, current_principal(), transfer_id, document, utcnow()
                )
        except NotFound:
            raise
        except DomainError as exc:
            return _form_page(
                "outbound/answer_request.html", case, questions, exc.status, refusal(exc), **context
            )
    return go("outbound.answer_sent", transfer_id=transfer_id, request_id=request_id)


@outbound.get("/cases/<transfer_id>/requests/<request_id>/answered")
@requires(roles=[COORDINATOR])
def answer_sent(transfer_id: str, request_id: str) -> Response:
    case = _case(transfer_id)
    asked = _asked(transfer_id, request_id)
    if asked.answered_by is None:
        raise NotFound("This request has not been answered.")
    return render("outbound/answer_sent.html", case=case, asked=asked, kinds=DOCUMENT_KINDS)


# --- send a failed reply again --------------------------------------------------------------


@outbound.post("/cases/<transfer_id>/messages/<message_id>/resend")
@requires(roles=[COORDINATOR])
def resend(transfer_id: str, message_id: str) -> Response:
    """Either direction: an acknowledgement the receiving area sent can fail too."""
    case = _case(transfer_id, sent_only=False)
    try:
        with node().sessions() as db:
            messages.resend(db, current_principal(), transfer_id, message_id, utcnow())
    except NotFound:
        raise
    except DomainError as exc:
        return render("outbound/resend_refused.html", exc.status, case=case, errors=refusal(exc))
    return go("outbound.resent", transfer_id=transfer_id, message_id=message_id)


@outbound.get("/cases/<transfer_id>/messages/<message_id>/resent")
@requires(roles=[COORDINATOR])
def resent(transfer_id: str, message_id: str) -> Response:
    case = _case(transfer_id, sent_only=False)
    with node().sessions() as db:
        _transfer, found = messages.list_messages(db, current_principal(), transfer_id)
    message = next((m for m in found if m.envelope_id == message_id), None)
    if message is None:
        raise NotFound(messages.NO_SUCH_MESSAGE)
    return render(
        "outbound/resent.html",
        case=case,
        what=MESSAGE_WORDS.get(message.type, "Message"),
    )

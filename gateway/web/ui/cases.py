"""The case page and the receiving area's actions (DESIGN section 8).

    GET  /cases/<id>                          the case (inbound or outbound)
    GET  /cases/<id>/documents/<document_id>  a document, as an audited download
    GET|POST /cases/<id>/acknowledge          accept (listed for a meeting) or redirect
    GET|POST /cases/<id>/request-information  ask the sending area for documents
    GET|POST /cases/<id>/ask-forward          ask the sending area's permission to forward
    GET|POST /cases/<id>/forward              forward, once that permission is granted
    GET|POST /cases/<id>/idva-referral        report the referral to the IDVA service
    GET|POST /cases/<id>/access               name who may open a restricted case (the chair)
    GET  /cases/<id>/done/<action>            what happens next, after each action

Every view calls the same domain services as the API (gateway/web/api/), so who may see or
do what is decided there: auditors get metadata and the timeline only, admins and other
areas never reach a case, a restricted case opens only for the people named on it
(Restricted: a page saying whom to ask), a case withdrawn before it was opened is gone
(the 410 page). Forms post the answers as the API's JSON bodies; a refusal comes back as
the GOV.UK error summary, and every change ends in a 303 to a confirmation page. URLs carry
opaque ids only, titles are generic.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, make_response, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from gateway.domain.areas import local_areas, peers
from gateway.domain.casework import (
    acknowledgements,
    documents,
    forward_permission,
    forwarding,
    idva_referrals,
    information_requests,
    messages,
    promised_documents,
    repeat_incidents,
)
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import AUDITOR, CHAIR, COORDINATOR, Principal
from gateway.domain.schedule import meetings, reminders
from gateway.domain.schedule.working_calendar import london_day
from gateway.domain.transfers import reading, restriction, states
from gateway.domain.transfers.states import INBOUND, OUTBOUND, WITHDRAWN
from gateway.errors import ChairDecides, Conflict, Invalid, NotFound, Restricted
from gateway.web import node
from gateway.web.api.common import canonical_id
from gateway.web.downloads import attachment
from gateway.web.guard import current_principal, requires
from gateway.web.ui import case_content as words
from gateway.web.ui import case_forms, send_sections
from gateway.web.ui.code_words import DOCUMENT_KINDS
from gateway.web.ui.forms import (
    CHECKBOXES,
    RADIOS,
    Question,
    anchors,
    nest,
    problems,
    read_answers,
)
from gateway.web.ui.layout import FORM, ErrorMap, current_area
from keys import MasterKey
from schemas.wire.document import MINUTES_JSON
from schemas.wire.forward_permission import GRANTED

cases = Blueprint("cases", __name__, template_folder="templates")

READERS = (COORDINATOR, CHAIR, AUDITOR)
DOWNLOADERS = (COORDINATOR, CHAIR)
ACTORS = (COORDINATOR,)
# Naming who may open a restricted case is the chair's (seed 001 4.5.3); coordinators see
# the page and who is named, and are told the chair decides.
NAMERS = (COORDINATOR, CHAIR)
CHAIR_DECIDES = (
    "Only your area's MARAC chair decides who may open a restricted case. Ask your chair "
    "to name or remove people."
)
OPEN = "open"


# --- what the domain says about one case -------------------------------------------------


@dataclass(frozen=True)
class Case:
    """Everything the case page shows, each part from the service the API uses for it."""

    transfer: reading.TransferView
    steps: list[Any]
    documents: list[documents.DocumentView]
    messages: list[messages.MessageView]
    requests: list[information_requests.RequestView]
    permissions: list[forward_permission.PermissionView]
    naming: restriction.Naming
    due: reminders.Due | None
    names: dict[str, str]


def _area_names(db: Session) -> dict[str, str]:
    """Area names by code: the pinned peers and this node's own areas."""
    names = {peer.code: peer.name for peer in peers.list_peers(db)}
    names.update(local_areas.area_names(db, local_areas.area_codes(db)))
    return names


def _case(principal: Principal, transfer_id: str) -> Case:
    """The case's metadata; NotFound (as for a missing id) for anyone who may not list the
    area's transfers."""
    canonical_id(transfer_id)
    with node().sessions() as db:
        found, steps = reading.transfer_timeline(db, principal, transfer_id)
        _, docs = documents.list_documents(db, principal, transfer_id)
        _, thread = messages.list_messages(db, principal, transfer_id)
        _, asked = information_requests.list_requests(db, principal, transfer_id)
        permissions = forward_permission.permissions(db, principal, transfer_id)
        naming = restriction.view(db, principal, transfer_id)
        schedule = meetings.schedule(db, principal, _area(found))
        names = _area_names(db)
    due = reminders.acknowledgement_due(found, schedule.ack_working_days, utcnow())
    return Case(found, steps, docs, thread, asked, permissions, naming, due, names)


def _area(found: reading.TransferView) -> str:
    """The area holding the case on this node."""
    return found.to_area if found.direction == INBOUND else found.from_area


def _title(found: reading.TransferView) -> str:
    return "Inbound transfer" if found.direction == INBOUND else "Outbound transfer"


def _href(path: str) -> str:
    """A link to a page another module serves, built from its documented path."""
    return request.script_root + path


def _page(template: str, status: int = 200, **context: Any) -> Response:
    return make_response(render_template(template, **context), status)


# --- the case page ------------------------------------------------------------------------


@cases.get("/cases/<transfer_id>")
@requires(roles=READERS)
def case(transfer_id: str) -> Response:
    principal = current_principal()
    found = _case(principal, transfer_id)
    area = _area(found.transfer)
    content: dict[str, Any] | None = None
    restricted = False
    if principal.may_read_content(area):
        try:
            with node().sessions() as db:
                opened = reading.open_transfer(
                    db, node().master, principal, transfer_id, now=utcnow()
                )
            content = opened.content
        except Restricted:
            restricted = True
    # Opening an inbound case records when it was first read; show the state after it.
    people = _colleagues(principal, transfer_id) if restricted else []
    return _page(
        "cases/case.html",
        403 if restricted else 200,
        title=_title(found.transfer),
        case=found,
        area=area,
        content=content,
        safety=words.safety(content) if content else None,
        promised=_promised(found, content),
        sections=words.sections(content) if content else [],
        restricted_page=restricted,
        elsewhere=current_area(principal) != area,
        named=[p for p in people if p.named],
        actions=_actions(found) if principal.may_send(area) else _chair_actions(principal, found),
        chair_decides=found.naming.restricted and not _is_chair(principal, area),
        may_read=principal.may_read_content(area),
        links=_links(found) if principal.may_send(area) else {},
        words=words,
    )


def _promised(found: Case, content: dict[str, Any] | None) -> list[promised_documents.Promise]:
    """The documents the transfer said would follow, each kept or still missing."""
    plan = (content or {}).get("documents") or {}
    return promised_documents.promises(
        plan.get("to_follow") or [],
        found.documents,
        found.transfer.direction,
        london_day(utcnow()),
    )


def _actions(found: Case) -> list[tuple[str, str]]:
    """Links to the steps the case's state allows (the domain refuses any other)."""
    t = found.transfer

    def link(endpoint: str) -> str:
        return url_for(endpoint, transfer_id=t.id)

    if t.direction == OUTBOUND:
        if t.status == WITHDRAWN:
            return []
        if t.status == states.DRAFT:
            return [(_href(f"/drafts/{t.id}"), "Continue this draft")]
        links = _links(found)
        return [
            (links["repeat"], "Report a repeat incident"),
            (links["withdraw"], "Withdraw this transfer"),
        ]
    offered: list[tuple[str, str]] = []
    if states.allowed(INBOUND, t.status, states.ACKNOWLEDGED):
        offered.append((link("cases.acknowledge"), "Acknowledge or redirect"))
    if t.status == states.ACKNOWLEDGED:
        offered.append((link("cases.idva_referral"), "Report the referral to the IDVA service"))
    if t.status in information_requests.ASKABLE:
        offered.append((link("cases.request_information"), "Ask for more information"))
    if t.status in repeat_incidents.HOLDING[INBOUND]:
        offered.append((_links(found)["repeat"], "Report a repeat incident to the sending area"))
    if t.status != WITHDRAWN:
        offered.append((link("cases.ask_forward"), "Ask permission to forward"))
        if _granted(found):
            offered.append((link("cases.forward"), "Forward this case"))
    return offered


def _is_chair(principal: Principal, area: str) -> bool:
    return principal.kind == "user" and area in principal.areas_for({CHAIR})


def _chair_actions(principal: Principal, found: Case) -> list[tuple[str, str]]:
    """A chair of the area names who may open a restricted case (seed 001 4.5.3)."""
    if found.naming.restricted and _is_chair(principal, _area(found.transfer)):
        href = url_for("cases.name_access", transfer_id=found.transfer.id)
        return [(href, "Name who may open this case")]
    return []


def _colleagues(principal: Principal, transfer_id: str) -> list[restriction.Colleague]:
    with node().sessions() as db:
        return restriction.colleagues(db, principal, transfer_id)


def _links(found: Case) -> dict[str, Any]:
    """Steps served by their own pages under these paths: the sending area's (withdraw,
    answer a request for information or to forward), either side's report of a repeat
    incident and sending again of a reply whose delivery failed."""
    base = f"/cases/{found.transfer.id}"
    sender = found.transfer.direction == OUTBOUND
    return {
        "withdraw": _href(base + "/withdraw"),
        "repeat": _href(base + "/repeat-incident"),
        "answer": {
            r.id: _href(f"{base}/requests/{r.id}/answer")
            for r in found.requests
            if sender and r.direction == INBOUND and r.status == OPEN
        },
        "decide": {
            p.request_id: _href(f"{base}/forward-requests/{p.request_id}")
            for p in found.permissions
            if sender and p.status == forward_permission.REQUESTED
        },
        "resend": {
            m.envelope_id: _href(f"{base}/messages/{m.envelope_id}/resend")
            for m in found.messages
            if m.delivery == "failed"
        },
    }


@cases.get("/cases/<transfer_id>/documents/<document_id>")
@requires(roles=DOWNLOADERS)
def document(transfer_id: str, document_id: str) -> Response:
    """The document's bytes as the API serves them: decrypted in memory, checked against
    its signed digest, audited, an attachment under a generated name."""
    canonical_id(transfer_id)
    canonical_id(document_id)
    current = node()
    with current.sessions() as db:
        opened = documents.open_document(
            db, current.master, current_principal(), transfer_id, document_id, utcnow()
        )
    return attachment(opened)


@cases.get("/cases/<transfer_id>/documents/<document_id>/minutes")
@requires(roles=DOWNLOADERS)
def minutes(transfer_id: str, document_id: str) -> Response:
    """Structured minutes read on the page (opened and audited as a download), with who
    agreed to share them first (seed 002 appendix 3 II)."""
    canonical_id(transfer_id)
    canonical_id(document_id)
    current = node()
    with current.sessions() as db:
        opened = documents.open_document(
            db, current.master, current_principal(), transfer_id, document_id, utcnow()
        )
    if opened.document.media_type != MINUTES_JSON:
        raise NotFound("This document is not structured minutes.")
    return _page(
        "cases/minutes.html",
        transfer_id=transfer_id,
        document=opened.document,
        sections=words.minutes_sections(json.loads(opened.content)),
        words=words,
    )


@cases.get("/cases/<transfer_id>/messages/<envelope_id>")
@requires(roles=DOWNLOADERS)
def message(transfer_id: str, envelope_id: str) -> Response:
    """One reply opened: decrypted in memory and audited as the API's getMessage."""
    canonical_id(transfer_id)
    canonical_id(envelope_id)
    current = node()
    with current.sessions() as db:
        opened = messages.open_message(
            db, current.master, current_principal(), transfer_id, envelope_id, utcnow()
        )
        names = _area_names(db)
    kind = opened.message.type
    return _page(
        "cases/message.html",
        transfer=opened.transfer,
        message=opened.message,
        heading=words.words(words.MESSAGE_TYPES, kind),
        rows=words.message_rows(kind, opened.content, names),
        words=words,
    )


# --- forms: the answers as the API's bodies -----------------------------------------------


def _submit(
    transfer_id: str,
    questions: Sequence[Question],
    call: Callable[[Session, dict[str, Any]], object],
    body: Callable[[dict[str, Any]], dict[str, Any]],
    done: str,
) -> tuple[Response | None, ErrorMap, int]:
    """Post the answers through the domain: a 303 to the confirmation, or the refusal as
    an ErrorMap (Invalid at its fields; a state conflict for the form as a whole)."""
    answers = read_answers(request.form, questions)
    try:
        with node().sessions() as db:
            call(db, body(answers))
    except Invalid as exc:
        found = problems(exc.errors or {}, questions) or {FORM: exc.detail}
        return None, case_forms.worded(found, questions), exc.status
    except (Conflict, Restricted, ChairDecides) as exc:
        return None, {FORM: exc.detail}, exc.status
    target = url_for("cases.done", transfer_id=transfer_id, action=done)
    return redirect(target, code=303), {}, 303


# A missing answer in the words GOV.UK uses for it (what to do, not the question again).


def _form_page(
    template: str,
    found: Case,
    questions: Sequence[Question],
    errors: ErrorMap,
    status: int,
    values: Mapping[str, Any],
    **context: Any,
) -> Response:
    # Every box gets a value: the textarea macro would print a missing one as "None".
    shown = {q.path: {"text": ""} | dict(values.get(q.path) or {}) for q in questions}
    return _page(
        template,
        status,
        case=found,
        questions={q.path: q for q in questions},
        ordered=questions,
        values=shown,
        # After a refusal the boxes show what was typed (the `raw_values` template global).
        form=request.form if request.method == "POST" else None,
        errors=errors,
        anchors=anchors(questions),
        words=words,
        **context,
    )


def _blank_free(answers: dict[str, Any]) -> dict[str, Any]:
    return case_forms.without_blank(nest(answers))


# A coordinator's step on a case that is one domain call with the node's master key.
Step = Callable[[Session, MasterKey, Principal, str, dict[str, Any], datetime], object]


def _coordinator_step(
    principal: Principal,
    found: Case,
    questions: list[Question],
    step: Step,
    done: str,
    role_path: str,
    *,
    body: Callable[[dict[str, Any]], dict[str, Any]] = _blank_free,
    **texts: str,
) -> Response:
    """The form of a coordinator's step on the generic action page: the answers go through
    `step`; the coordinator's role is filled in; `texts` are the page's heading, intro and
    button."""
    transfer_id = found.transfer.id
    errors: ErrorMap = {}
    status = 200
    if request.method == "POST":
        current = node()

        def call(db: Session, data: dict[str, Any]) -> object:
            return step(db, current.master, principal, transfer_id, data, utcnow())

        sent, errors, status = _submit(transfer_id, questions, call, body, done)
        if sent is not None:
            return sent
    values = {role_path: {"text": "MARAC coordinator"}}
    return _form_page("cases/action.html", found, questions, errors, status, values, **texts)


def _peer_choices(found: Case) -> tuple[tuple[str, str], ...]:
    """Areas this node can send to, other than the two of this transfer."""
    skip = {found.transfer.from_area, found.transfer.to_area}
    return tuple(
        (code, found.names.get(code, code)) for code in sorted(found.names) if code not in skip
    )


# --- acknowledge ----------------------------------------------------------------------------


@cases.route("/cases/<transfer_id>/acknowledge", methods=["GET", "POST"])
@requires(roles=ACTORS)
def acknowledge(transfer_id: str) -> Response:
    principal = current_principal()
    found = _case(principal, transfer_id)
    with node().sessions() as db:
        schedule = meetings.schedule(db, principal, _area(found.transfer))
        urgent = acknowledgements.is_urgent(db, node().master, principal, transfer_id)
    dates = schedule.meeting_dates
    questions = case_forms.acknowledge_questions(
        dates, _peer_choices(found), utcnow().date(), urgent=urgent
    )
    emergency = request.form.get("listed_for") == case_forms.EMERGENCY
    # The default: the first meeting whose referral deadline has not passed (seed 003).
    suggested = schedule.suggested_listing(utcnow())
    defaults: dict[str, Any] = {"acknowledged_by.role": {"text": "MARAC coordinator"}}
    if suggested is not None:
        defaults["listed_for"] = {"choice": suggested.isoformat()}
    errors: ErrorMap = {}
    status = 200
    if request.method == "POST":
        current = node()

        def call(db: Session, data: dict[str, Any]) -> object:
            try:
                return acknowledgements.acknowledge(
                    db, current.master, principal, transfer_id, data, utcnow()
                )
            except Invalid as exc:
                # With an emergency meeting the date refused is the one in its own boxes.
                if emergency and exc.errors and "listed_for" in exc.errors:
                    moved = dict(exc.errors)
                    moved[case_forms.EMERGENCY_DATE] = moved.pop("listed_for")
                    raise Invalid(exc.detail, errors=moved) from exc
                raise

        done, errors, status = _submit(
            transfer_id, questions, call, case_forms.acknowledgement_body, "acknowledged"
        )
        if done is not None:
            return done
    return _form_page(
        "cases/acknowledge.html",
        found,
        questions,
        errors,
        status,
        defaults,
        meeting_dates=bool(dates),
        urgent=urgent,
    )


# --- ask for more information ----------------------------------------------------------------


@cases.route("/cases/<transfer_id>/request-information", methods=["GET", "POST"])
@requires(roles=ACTORS)
def request_information(transfer_id: str) -> Response:
    principal = current_principal()
    return _coordinator_step(
        principal,
        _case(principal, transfer_id),
        case_forms.request_questions(),
        information_requests.request_information,
        "information-requested",
        "requested_by.role",
        body=lambda answers: _blank_free(answers) | {"what": answers.get("what") or []},
        heading="Ask the sending area for more information",
        intro="Your request goes to the sending MARAC, sealed. They will send what you ask "
        "for as documents on this case.",
        button="Send the request",
    )


# --- forwarding -------------------------------------------------------------------------------


@cases.route("/cases/<transfer_id>/ask-forward", methods=["GET", "POST"])
@requires(roles=ACTORS)
def ask_forward(transfer_id: str) -> Response:
    principal = current_principal()
    found = _case(principal, transfer_id)
    return _coordinator_step(
        principal,
        found,
        case_forms.ask_forward_questions(_peer_choices(found)),
        forwarding.request_permission,
        "forward-asked",
        "requested_by.role",
        heading="Ask permission to forward this case",
        intro="What was shared stays the sending area's: you may pass the case to a third "
        "area only with their permission. They will grant or refuse it on their side.",
        button="Ask for permission",
    )


def _granted(found: Case) -> tuple[tuple[str, str], ...]:
    return tuple(
        (p.forward_to, found.names.get(p.forward_to, p.forward_to))
        for p in found.permissions
        if p.status == GRANTED and p.used_by is None
    )


@cases.route("/cases/<transfer_id>/forward", methods=["GET", "POST"])
@requires(roles=ACTORS)
def forward(transfer_id: str) -> Response:
    principal = current_principal()
    found = _case(principal, transfer_id)
    granted = _granted(found)
    allowed = _allowed(principal, transfer_id) if granted else []
    covered = tuple(
        (
            d.id,
            f"{DOCUMENT_KINDS[d.kind]} (allowed for {found.names.get(g.forward_to, g.forward_to)})",
        )
        for g in allowed
        for d in g.documents
    )
    # Forwarding is this area's own disclosure (seed 004 ISP 3.4): its own sender details
    # and consent decision, asked as the send journey asks them.
    questions = [
        Question(
            "to_area",
            "Which area do you want to forward the case to?",
            kind=RADIOS,
            hint="Only the areas the sending MARAC gave permission for",
            noun="the area to forward the case to",
            options=granted,
        ),
        *send_sections.SENDER.questions,
        *(q for page in send_sections.CONSENT_PAGES for q in page.questions),
    ]
    if covered:
        questions.append(
            Question(
                "documents",
                "Which documents do you want to send with the case? (optional)",
                kind=CHECKBOXES,
                hint="Only documents the sending area allowed for the area you choose",
                options=covered,
            )
        )
    errors: ErrorMap = {}
    status = 200
    if request.method == "POST":
        current = node()

        def call(db: Session, data: dict[str, Any]) -> object:
            return forwarding.forward(db, current.master, principal, transfer_id, data, utcnow())

        done, errors, status = _submit(transfer_id, questions, call, nest, "forwarded")
        if done is not None:
            return done
    return _form_page(
        "cases/action.html",
        found,
        questions,
        errors,
        status,
        {},
        heading="Forward this case",
        intro="The case is sealed again for the area you choose and sent as a new transfer "
        "from your area. You keep your copy and your responsibilities for this case.",
        button="Forward the case",
        allowed=[_allowed_rows(found, g) for g in allowed],
        nothing=None
        if granted
        else "The sending area has not given permission to forward this case to any area "
        "yet. Ask for permission first.",
    )


def _allowed(principal: Principal, transfer_id: str) -> list[forwarding.GrantTerms]:
    current = node()
    with current.sessions() as db:
        return forwarding.granted_terms(db, current.master, principal, transfer_id)


def _allowed_rows(found: Case, terms: forwarding.GrantTerms) -> tuple[str, list[tuple[str, str]]]:
    """What one grant allows, as a summary card: its restrictions travel with the case."""
    reason = terms.restricted_reason
    return (
        f"Permission to forward to {found.names.get(terms.forward_to, terms.forward_to)}",
        [
            ("Restrictions that go with the case", terms.restrictions or "None set"),
            (
                "Restricted case there",
                f"Yes: {words.RESTRICTED_REASONS.get(reason, reason)}" if reason else "No",
            ),
            (
                "Documents that may go with it",
                ", ".join(DOCUMENT_KINDS[d.kind] for d in terms.documents) or "None",
            ),
        ],
    )


# --- the referral to the IDVA service, after the acknowledgement ------------------------------


@cases.route("/cases/<transfer_id>/idva-referral", methods=["GET", "POST"])
@requires(roles=ACTORS)
def idva_referral(transfer_id: str) -> Response:
    principal = current_principal()
    return _coordinator_step(
        principal,
        _case(principal, transfer_id),
        case_forms.idva_referral_questions(),
        idva_referrals.report,
        "idva-referred",
        "reported_by.role",
        heading="Report the referral to the IDVA service",
        intro="Tell the sending area that the victim was referred to your IDVA service. "
        "Your report goes to them sealed, and shows on the case in both areas.",
        button="Send the report",
    )


# --- naming who may open a restricted case ---------------------------------------------------


@cases.route("/cases/<transfer_id>/access", methods=["GET", "POST"])
@requires(roles=NAMERS)
def name_access(transfer_id: str) -> Response:
    principal = current_principal()
    found = _case(principal, transfer_id)
    people = _colleagues(principal, transfer_id)
    chair = _is_chair(principal, _area(found.transfer))
    questions = [
        Question(
            "users",
            "Who may open this case?",
            kind=CHECKBOXES,
            hint="Name at least one coordinator. Nobody else in your area can open it.",
            options=tuple(
                (p.user_id, f"{p.email} ({', '.join(r.capitalize() for r in p.roles)})")
                for p in people
            ),
        )
    ]
    errors: ErrorMap = {}
    status = 200
    if request.method == "POST":

        def call(db: Session, data: dict[str, Any]) -> object:
            return restriction.name_users(db, principal, transfer_id, data["users"], utcnow())

        def body(answers: dict[str, Any]) -> dict[str, Any]:
            return {"users": answers.get("users") or []}

        done, errors, status = _submit(transfer_id, questions, call, body, "access-named")
        if done is not None:
            return done
    return _form_page(
        "cases/action.html",
        found,
        questions,
        errors,
        status,
        {"users": {"chosen": [p.user_id for p in people if p.named]}},
        heading="Who may open this restricted case",
        intro="This case is restricted. Only the people named here can open it; "
        "everyone else in your area sees only that it exists and where it stands.",
        button="Save who may open it",
        nothing=_naming_refusal(found, chair),
        named=[p.email for p in people if p.named],
    )


def _naming_refusal(found: Case, chair: bool) -> str | None:
    """Why there is no form: the case is not restricted, or the visitor is no chair."""
    if not found.naming.restricted:
        return "This case is not restricted: everyone who works on your area's cases can open it."
    return None if chair else CHAIR_DECIDES


# --- confirmations ----------------------------------------------------------------------------

DONE = (
    "acknowledged",
    "information-requested",
    "forward-asked",
    "forwarded",
    "access-named",
    "idva-referred",
)


@cases.get("/cases/<transfer_id>/done/<action>")
@requires(roles=NAMERS)
def done(transfer_id: str, action: str) -> Response:
    if action not in DONE:
        abort(404)
    found = _case(current_principal(), transfer_id)
    answered = found.transfer.status in (states.ACKNOWLEDGED, states.REDIRECTED)
    if action == "acknowledged" and not answered:
        abort(404)  # nothing to confirm: the page never says what did not happen
    forwarded = [p.used_by for p in found.permissions if p.used_by]
    return _page(
        "cases/done.html",
        case=found,
        action=action,
        forwarded_to=forwarded[-1] if forwarded else None,
        words=words,
    )

"""The people of an area, for its admins (gateway/domain/identity/people.py): add a person
with a role (a single-use link to set up their account, shown once and mailed when SMTP is
configured), add and remove roles, lift a lock, reset a lost second factor.

A person's name and email are staff contact data: they appear in these pages' bodies
only, are posted, never put in a URL or a title, and never logged. The pages address a
person by their opaque id.

Pages:
  /admin/people                       "People"                          admins
  /admin/people/new                   "Add a person"                    admins
                                      then "Person added" (the link, shown once)
  /admin/people/<id>                  "Manage a person"                 admins
  POST /admin/people/<id>/roles, /roles/remove, /unlock                 admins
  /admin/people/<id>/reset            "Reset their second factor"       admins
                                      then "Second factor reset" (the link, shown once)
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Blueprint, request, url_for
from werkzeug.wrappers import Response

from adapters.mail import Mail, MailError
from gateway.domain.clock import utcnow
from gateway.domain.identity import people
from gateway.domain.identity.principals import ADMIN, ROLES
from gateway.errors import Conflict, Invalid
from gateway.web import node
from gateway.web.guard import current_principal, requires
from gateway.web.ui.admin import admin_area
from gateway.web.ui.forms import EMAIL, RADIOS, TEXT, Question, problems, read_answers
from gateway.web.ui.layout import FORM, local_time
from gateway.web.ui.pages import go, refusal, render
from gateway.web.ui.transfer_words import long_date

people_pages = Blueprint("people", __name__)
log = logging.getLogger("gateway.people")

ROLE_WORDS = {
    "coordinator": "Coordinator: sends and receives the area's transfers",
    "chair": "Chair: reads the area's transfers and approves those decided after a meeting",
    "auditor": "Auditor: sees the area's audit log and what was sent, never case content",
    "admin": "Admin: looks after keys, peers, people and API clients, never cases",
}
assert tuple(ROLE_WORDS) == ROLES  # noqa: S101 - every role has its words
ROLE = Question("role", "Role", kind=RADIOS, options=tuple(ROLE_WORDS.items()), noun="a role")
PERSON_QUESTIONS = (
    Question("name", "Full name", kind=TEXT, personal=True, noun="their full name"),
    Question(
        "email",
        "Email address",
        kind=EMAIL,
        personal=True,  # someone else's address: never the admin's own autofilled
        hint="Their work email. They sign in with it, and their setup link is sent to it.",
        noun="their email address",
    ),
    ROLE,
)
MAIL_SUBJECT = "Set up your MARAC Exchange account"
MAIL_BODY = (
    "Use this link to set your password and your authenticator app for MARAC Exchange:\n\n"
    "{link}\n\n"
    "The link works once and stops working at {time} on {date} (UK time). "
    "If you were not expecting it, do not use it and tell your MARAC's admin.\n"
)


def _link(token: str) -> str:
    """The single-use link. The token travels in the query string, which the access log
    leaves out (gateway/serve.py logs the path only)."""
    return node().settings.base_url + url_for("welcome.start", token=token)


def _mail(to: str, link: str, expires: datetime) -> bool | None:
    """Mail the link (and nothing else about the person) when SMTP is configured: None
    when it is not, False when the mail server refused it."""
    mailer = node().mailer
    if mailer is None:
        return None
    body = MAIL_BODY.format(link=link, time=local_time(expires), date=long_date(expires))
    try:
        mailer.send(Mail(to=to, subject=MAIL_SUBJECT, body=body))
    except (MailError, OSError) as exc:
        log.warning("setup link not mailed kind=%s", type(exc).__name__)
        return False
    return True


def _shown_once(template: str, to: str | None, token: str, expires: datetime) -> Response:
    link = _link(token)
    mailed = _mail(to, link, expires) if to else None
    return render(
        template,
        link=link,
        mailed=mailed,
        expires=f"{local_time(expires)} on {long_date(expires)}",
    )


@people_pages.get("/admin/people")
@requires(roles=[ADMIN])
def people_list() -> Response:
    code = admin_area()
    with node().sessions() as db:
        found = people.list_people(db, current_principal(), code, utcnow())
    return render("people/list.html", people=found, role_names=_short_roles)


def _short_roles(roles: tuple[str, ...]) -> str:
    return ", ".join(role.capitalize() for role in roles) or "None"


@people_pages.get("/admin/people/new")
@requires(roles=[ADMIN])
def add() -> Response:
    admin_area()
    return render("people/add.html", questions=PERSON_QUESTIONS, form=None)


@people_pages.post("/admin/people/new")
@requires(roles=[ADMIN])
def add_submit() -> Response:
    code = admin_area()
    answers = read_answers(request.form, PERSON_QUESTIONS)
    current = node()
    try:
        with current.sessions() as db:
            added = people.add_person(
                db,
                current.master,
                current_principal(),
                code,
                email=answers.get("email") or "",
                name=answers.get("name") or "",
                role=answers.get("role") or "",
                now=utcnow(),
            )
    except (Invalid, Conflict) as exc:
        errors = _person_problems(exc)
        status = 409 if isinstance(exc, Conflict) else 400
        return render(
            "people/add.html", status, questions=PERSON_QUESTIONS, form=request.form, errors=errors
        )
    if added.token is None or added.expires_at is None:
        return go("people.manage", user_id=added.user_id)
    return _shown_once("people/added.html", answers.get("email"), added.token, added.expires_at)


def _person_problems(exc: Invalid | Conflict) -> dict[str, str]:
    if isinstance(exc, Conflict) or not exc.errors:
        return {FORM: exc.detail}
    found = problems(exc.errors, PERSON_QUESTIONS)
    if "email" in found:
        found["email"] = "Enter an email address in the correct format, like name@example.org"
    if "name" in found and "characters" not in found["name"]:
        found["name"] = "Enter their full name"
    return found


def _manage_page(user_id: str, status: int = 200, errors: dict[str, str] | None = None) -> Response:
    code = admin_area()
    principal = current_principal()
    with node().sessions() as db:
        found = people.person(db, principal, code, user_id, utcnow())
    return render(
        "people/manage.html",
        status,
        person=found,
        role_words=ROLE_WORDS,
        addable=[(r, w) for r, w in ROLE_WORDS.items() if r not in found.roles],
        role_question=ROLE,
        yourself=user_id == principal.id,
        errors=errors or {},
    )


@people_pages.get("/admin/people/<user_id>")
@requires(roles=[ADMIN])
def manage(user_id: str) -> Response:
    return _manage_page(user_id)


def _change(user_id: str, change: str) -> Response:
    code = admin_area()
    principal = current_principal()
    role = request.form.get("role", "")
    if change in ("grant", "remove") and role not in ROLES:
        return _manage_page(user_id, 400, {"role": "Select a role"})
    try:
        with node().sessions() as db:
            if change == "grant":
                people.grant_role(db, principal, code, user_id, role, utcnow())
            elif change == "remove":
                people.remove_role(db, principal, code, user_id, role, utcnow())
            else:
                people.unlock(db, principal, code, user_id, utcnow())
    except Conflict as exc:
        return _manage_page(user_id, 409, refusal(exc))
    return go("people.manage", user_id=user_id)


@people_pages.post("/admin/people/<user_id>/roles")
@requires(roles=[ADMIN])
def grant(user_id: str) -> Response:
    return _change(user_id, "grant")


@people_pages.post("/admin/people/<user_id>/roles/remove")
@requires(roles=[ADMIN])
def remove(user_id: str) -> Response:
    return _change(user_id, "remove")


@people_pages.post("/admin/people/<user_id>/unlock")
@requires(roles=[ADMIN])
def unlock(user_id: str) -> Response:
    return _change(user_id, "unlock")


@people_pages.get("/admin/people/<user_id>/reset")
@requires(roles=[ADMIN])
def reset(user_id: str) -> Response:
    code = admin_area()
    with node().sessions() as db:
        found = people.person(db, current_principal(), code, user_id, utcnow())
    return render("people/reset.html", person=found)


@people_pages.post("/admin/people/<user_id>/reset")
@requires(roles=[ADMIN])
def reset_submit(user_id: str) -> Response:
    code = admin_area()
    current = node()
    principal = current_principal()
    with current.sessions() as db:
        found = people.person(db, principal, code, user_id, utcnow())
    try:
        with current.sessions() as db:
            token, expires = people.reset_second_factor(
                db, current.master, principal, code, user_id, utcnow()
            )
    except Conflict as exc:
        return render("people/reset.html", 409, person=found, errors=refusal(exc))
    return _shown_once("people/reset_done.html", found.email, token, expires)

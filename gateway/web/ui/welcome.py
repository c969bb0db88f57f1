"""First sign-in through a single-use link (gateway/domain/identity/people.py): the person
an admin added (or whose lost second factor was reset) sets a password that meets the
password rules, then enrols their authenticator app on the sign-in's enrolment page
(`/login/enrol`), which ends in a full session.

Opening the link spends nothing (mail scanners open links): the "Continue" button posts
the token, which puts the invitation's id (not the token) in the server-side session; the
password page spends the link. Public pages, like the other sign-in steps.

Pages:
  /welcome?token=...     "Set up your account"     anyone holding a link
  POST /welcome                                     (CSRF of the anonymous session)
  /welcome/password      "Create your password"    the person whose link was accepted
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, make_response, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from gateway.domain.clock import utcnow
from gateway.domain.identity import browser_sessions as stages
from gateway.domain.identity import people
from gateway.errors import Invalid, NotFound
from gateway.web import node
from gateway.web.sessions import ServerSession

welcome = Blueprint("welcome", __name__)
log = logging.getLogger("gateway.login")
INVITATION = "welcome.invitation"
PURPOSE = "welcome.purpose"


def _session() -> ServerSession:
    if not isinstance(session, ServerSession):  # pragma: no cover - wired in create_app
        raise RuntimeError("server-side sessions are not installed")
    return session


def _page(template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("errors", {})
    context.setdefault("csrf_token", _session().csrf_token())
    return make_response(render_template(template, **context), status)


def _gone() -> Response:
    return _page("welcome/gone.html", 404)


def _open(token: str) -> people.InvitationView | None:
    try:
        with node().sessions() as db:
            return people.open_invitation(db, node().master, token, utcnow())
    except NotFound:
        return None


@welcome.get("/welcome")
def start() -> Response:
    token = request.args.get("token", "")
    found = _open(token)
    if found is None:
        return _gone()
    return _page("welcome/start.html", token=token, reset=found.purpose == people.RESET)


@welcome.post("/welcome")
def start_submit() -> Response:
    found = _open(request.form.get("token", ""))
    if found is None:
        log.info("setup link refused")
        return _gone()
    _session()[INVITATION] = found.id
    _session()[PURPOSE] = found.purpose
    return redirect(url_for("welcome.password"), code=303)


@welcome.get("/welcome/password")
def password() -> Response:
    if not isinstance(_session().get(INVITATION), str):
        return _gone()
    return _page("welcome/password.html")


@welcome.post("/welcome/password")
def password_submit() -> Response:
    invitation = _session().get(INVITATION)
    if not isinstance(invitation, str):
        return _gone()
    chosen = request.form.get("password", "")[:1024]
    again = request.form.get("confirm", "")[:1024]
    if not chosen:
        return _page("welcome/password.html", 400, errors={"password": "Enter a password"})
    if chosen != again:
        return _page("welcome/password.html", 400, errors={"confirm": "The passwords do not match"})
    try:
        with node().sessions() as db:
            user_id = people.accept_invitation(db, invitation, chosen, utcnow())
    except Invalid as exc:
        rule = (exc.errors or {}).get("password") or [exc.detail]
        message = str(rule[0]).rstrip(".")
        return _page("welcome/password.html", 400, errors={"password": message})
    except NotFound:
        return _gone()
    log.info("setup link used")
    _session().begin_stage(user_id, stages.ENROL)
    return redirect(url_for("ui.enrol"), code=303)

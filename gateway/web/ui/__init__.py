"""Server-rendered pages on the GOV.UK layout (gateway/web/ui/layout.py): sign-in with
password, second factor, authenticator enrolment, single sign-on, sign-out, the area
switcher and the idle-timeout keep-alive. Every page works with JavaScript off.

Login steps, each ending in a session under a NEW id (gateway/web/sessions.py):
  password ok -> stage `password` (or `enrol` if no authenticator is confirmed yet)
  code ok     -> stage `full`: signed in
Messages never repeat what was typed (no email in a page, a log or a problem document).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import segno
from authlib.integrations.base_client import OAuthError
from flask import (
    Blueprint,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from joserfc.errors import JoseError
from markupsafe import Markup
from requests import RequestException
from werkzeug.wrappers import Response

from adapters.oidc import OidcProviders, ProviderMisconfigured
from gateway.domain.areas import local_areas
from gateway.domain.clock import utcnow
from gateway.domain.identity import browser_sessions as stages
from gateway.domain.identity import users
from gateway.domain.identity.principals import ROLES
from gateway.domain.identity.rate_limits import RateLimit
from gateway.errors import Conflict, NotFound, TooManyRequests, Unauthorized
from gateway.web import node
from gateway.web.guard import current_principal, requires
from gateway.web.sessions import ServerSession, policy
from gateway.web.sessions import id_key as session_id_key
from gateway.web.ui.layout import AREA_KEY, FORM, areas_of, current_area, local_time
from gateway.web.ui.work import home_page

ui = Blueprint("ui", __name__, template_folder="templates")
log = logging.getLogger("gateway.login")


def _session() -> ServerSession:
    if not isinstance(session, ServerSession):  # pragma: no cover - wired in create_app
        raise RuntimeError("server-side sessions are not installed")
    return session


def _stage() -> tuple[str | None, str]:
    state = _session().state
    return (state.user_id, state.stage) if state else (None, stages.ANONYMOUS)


def _policy() -> users.LoginPolicy:
    s = node().settings
    return users.LoginPolicy(
        max_failures=s.login_max_failures,
        lockout=timedelta(seconds=s.login_lockout),
        failures_per_source=RateLimit.parse(s.login_rate_limit),
    )


def _source() -> str:
    return request.remote_addr or "unknown"


def _providers() -> OidcProviders:
    found = node_extension("gateway.oidc")
    return found if isinstance(found, OidcProviders) else OidcProviders()


def node_extension(name: str) -> Any:
    from flask import current_app

    return current_app.extensions.get(name)


def _page(template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("csrf_token", _session().csrf_token())
    response = make_response(render_template(template, **context), status)
    return response


def _refused(template: str, error: Exception, field: str, **context: Any) -> Response:
    """The page again with the refusal at `field`; what was typed is not shown again."""
    status = 429 if isinstance(error, TooManyRequests) else 401
    detail = getattr(error, "detail", users.FAILED)
    response = _page(template, status, errors={field: detail}, **context)
    if isinstance(error, TooManyRequests):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _go(endpoint: str) -> Response:
    return redirect(url_for(endpoint), code=303)


@ui.get("/login")
def login() -> Response:
    _user_id, stage = _stage()
    if stage == stages.FULL:
        return _go("ui.home")
    return _page("login.html", providers=_providers().areas())


@ui.post("/login")
def login_submit() -> Response:
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    try:
        with node().sessions() as db:
            accepted = users.check_password(
                db, email=email, password=password, source=_source(), policy=_policy(), now=utcnow()
            )
    except (Unauthorized, TooManyRequests) as exc:
        log.info("login refused step=password")
        return _refused("login.html", exc, "email", providers=_providers().areas())
    next_stage = stages.PASSWORD if accepted.enrolled else stages.ENROL
    _session().begin_stage(accepted.user_id, next_stage)
    return _go("ui.second_factor" if accepted.enrolled else "ui.enrol")


def _second_factor(enrolling: bool) -> Response | None:
    """Check the code for the user waiting in this session; None when accepted."""
    user_id, _ = _stage()
    template = "enrol.html" if enrolling else "totp.html"
    try:
        with node().sessions() as db:
            users.check_second_factor(
                db,
                node().master,
                user_id=user_id or "",
                code=request.form.get("code", "")[:64],
                source=_source(),
                policy=_policy(),
                now=utcnow(),
                enrolling=enrolling,
            )
    except (Unauthorized, TooManyRequests) as exc:
        log.info("login refused step=%s", "enrol" if enrolling else "totp")
        return _refused(template, exc, "code", **(_enrolment(user_id or "") if enrolling else {}))
    _session().begin_stage(user_id or "", stages.FULL)
    log.info("login accepted")
    return None


@ui.get("/login/totp")
def second_factor() -> Response:
    if _stage()[1] != stages.PASSWORD:
        return _go("ui.login")
    return _page("totp.html")


@ui.post("/login/totp")
def second_factor_submit() -> Response:
    if _stage()[1] != stages.PASSWORD:
        return _go("ui.login")
    return _second_factor(enrolling=False) or _go("ui.home")


def _enrolment(user_id: str) -> dict[str, Any]:
    with node().sessions() as db:
        enrolment = users.enrolment_for(db, node().master, user_id)
    svg = segno.make(enrolment.totp_uri, error="m").svg_inline(scale=4, title="QR code")
    return {"qr_svg": Markup(svg), "secret": enrolment.totp_secret}  # noqa: S704 - segno's own SVG


@ui.get("/login/enrol")
def enrol() -> Response:
    user_id, stage = _stage()
    if stage != stages.ENROL or user_id is None:
        return _go("ui.login")
    try:
        return _page("enrol.html", **_enrolment(user_id))
    except Conflict:
        return _go("ui.login")


@ui.post("/login/enrol")
def enrol_submit() -> Response:
    user_id, stage = _stage()
    if stage != stages.ENROL or user_id is None:
        return _go("ui.login")
    return _second_factor(enrolling=True) or _go("ui.home")


@ui.post("/logout")
def logout() -> Response:
    _user_id, stage = _stage()
    _session().end()
    if stage == stages.FULL:
        log.info("logout")
    return _go("ui.login")


@ui.get("/")
@requires(roles=ROLES)
def home() -> Response:
    """Your work: gateway/web/ui/work.py."""
    return home_page()


def _area_page(status: int = 200, errors: dict[str, str] | None = None) -> Response:
    principal = current_principal()
    chosen, areas = current_area(principal), areas_of(principal)
    with node().sessions() as db:
        names = local_areas.area_names(db, areas)
    choices = [{"value": a, "text": names.get(a, a), "checked": a == chosen} for a in areas]
    return _page("areas.html", status, choices=choices, errors=errors)


@ui.get("/area")
@requires(roles=ROLES)
def choose_area() -> Response:
    return _area_page()


@ui.post("/area")
@requires(roles=ROLES)
def choose_area_submit() -> Response:
    """Remember the chosen area in the server-side session; only an area the person
    holds a role in is accepted."""
    area = request.form.get("area", "")
    if area not in areas_of(current_principal()):
        return _area_page(400, {"area": "Choose one of the areas listed"})
    _session()[AREA_KEY] = area
    return _go("ui.home")


@ui.post("/session/keep-alive")
@requires(roles=ROLES)
def keep_alive() -> Response:
    """'Stay signed in' on the idle-timeout warning: the idle clock restarts now."""
    state = _session().state
    current = node()
    with current.sessions() as db:
        ends_at = (
            stages.touch(db, session_id_key(current), state.raw_id, policy(current), utcnow())
            if state
            else None
        )
    if ends_at is None:
        raise Unauthorized("Your session has ended. Sign in again.")
    left = max(0, int((ends_at - utcnow()).total_seconds()))
    return jsonify(seconds_left=left, ends_at=local_time(ends_at))


# --- single sign-on ---------------------------------------------------------------------


def _client(area: str) -> tuple[Any, Any]:
    try:
        found = _providers().provider_client(area)
    except (RequestException, ValueError, ProviderMisconfigured) as exc:
        log.warning("identity provider unusable area=%s kind=%s", area, type(exc).__name__)
        raise NotFound("Single sign-on is not available for this area.") from exc
    if found is None:
        raise NotFound("Single sign-on is not configured for this area.")
    return found


@ui.get("/login/oidc/<area>")
def oidc_start(area: str) -> Response:
    client, _ = _client(area)
    callback = node().settings.base_url + url_for("ui.oidc_callback", area=area)
    response: Response = client.authorize_redirect(callback)
    return response


@ui.get("/login/oidc/<area>/callback")
def oidc_callback(area: str) -> Response:
    client, provider = _client(area)
    try:
        # Authlib checks `aud` only through `azp` unless told: an ID token issued to
        # another client but carrying our id as `azp` would pass. Name both claims.
        token = client.authorize_access_token(
            claims_options={
                "iss": {"essential": True, "values": [provider.issuer]},
                "aud": {"essential": True, "values": [provider.client_id]},
            }
        )
        claims = token.get("userinfo")
        if not claims:
            raise Unauthorized("The identity provider sent no ID token.")
        rules = users.SsoRules(
            frozenset(provider.allowed_domains), provider.role_claim, provider.role_mapping
        )
        with node().sessions() as db:
            user_id, roles = users.sso_login(
                db, area=area, claims=dict(claims), rules=rules, now=utcnow()
            )
    except (OAuthError, JoseError, RequestException, Unauthorized, KeyError, ValueError) as exc:
        # The kind of failure only: a provider's message may quote what it was sent.
        log.info("login refused step=oidc area=%s kind=%s", area, type(exc).__name__)
        error = (
            exc
            if isinstance(exc, Unauthorized)
            else Unauthorized("Single sign-on did not complete. Try again.")
        )
        return _refused("login.html", error, FORM, providers=_providers().areas())
    _session().begin_stage(user_id, stages.FULL, roles=sorted([a, r] for a, r in roles))
    log.info("login accepted method=oidc area=%s", area)
    return _go("ui.home")

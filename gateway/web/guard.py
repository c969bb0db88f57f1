"""Deny by default: who is asking, what each route needs, CSRF, security headers.

Every request to a known route goes through `_guard`, which is the ONE place access is
decided:

1. An endpoint named in `PUBLIC_ENDPOINTS` is answered without a principal (login pages,
   the OIDC callback, the token endpoint, federation endpoints, which carry their own JWS
   authentication, health, the public bundle, the OpenAPI document).
2. Any other endpoint needs a principal: a bearer access token (API clients) or a
   server-side session that completed login (users). None: 401.
3. The route must declare what it needs with `@requires(...)`; a route that declares
   nothing is closed to everyone (403), so forgetting the decorator fails safe.
4. State-changing requests authenticated by the session cookie (and the public login
   forms) must carry the session's CSRF token; bearer-token calls need none, because a
   browser never attaches a bearer token on its own.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, g, request, session

from gateway.domain.clock import utcnow
from gateway.domain.identity import clients, users
from gateway.domain.identity.principals import Principal
from gateway.errors import Forbidden, Unauthorized
from gateway.web import node

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC_ENDPOINTS = frozenset(
    {
        "health.healthz",
        "health.readyz",
        "health.metrics",
        "federation.receive_envelope",
        "federation.receive_envelope_batch",
        "federation.bundle",
        "federation.audit_consistency",
        "federation.audit_cosignature",
        "federation.linkage_evaluate",
        "federation.flag_tokens",
        "federation.flag_match",
        "federation.flag_verifications",
        "federation.flag_verification_answers",
        "static",
        "problems.problem_type",
        "ui.login",
        "ui.login_submit",
        "ui.second_factor",
        "ui.second_factor_submit",
        "ui.enrol",
        "ui.enrol_submit",
        "ui.logout",
        "ui.oidc_start",
        "ui.oidc_callback",
        # First sign-in through an admin's single-use link (gateway/web/ui/welcome.py).
        "welcome.start",
        "welcome.start_submit",
        "welcome.password",
        "welcome.password_submit",
        "about.accessibility",
        "about.cookies",
        "api.token",
        # Public on purpose: it describes the API's shape (paths, schemas, security
        # schemes), never data, and integrators and test tools read it before they hold
        # a token.
        "api.openapi",
    }
)
# Public state-changing endpoints that authenticate every request themselves and are
# never called by a browser with our cookie: they need no CSRF token.
CSRF_EXEMPT = frozenset(
    {
        "federation.receive_envelope",
        "federation.receive_envelope_batch",
        "federation.audit_consistency",
        "federation.audit_cosignature",
        "federation.linkage_evaluate",
        "federation.flag_tokens",
        "federation.flag_match",
        "federation.flag_verifications",
        "federation.flag_verification_answers",
        "api.token",
    }
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
ACCESS_ATTRIBUTE = "_gateway_access"


@dataclass(frozen=True)
class Access:
    """What a route needs: one of `roles` in some area (users), or one of `scopes`
    (clients). The domain service then checks the area of the thing touched."""

    roles: frozenset[str]
    scopes: frozenset[str]

    def allows(self, principal: Principal) -> bool:
        if principal.kind == "user":
            return principal.has_any_role(self.roles)
        return principal.has_any_scope(self.scopes)


def requires(*, roles: Iterable[str] = (), scopes: Iterable[str] = ()) -> Callable[[F], F]:
    def mark(view: F) -> F:
        setattr(view, ACCESS_ATTRIBUTE, Access(frozenset(roles), frozenset(scopes)))
        return view

    return mark


def current_principal() -> Principal:
    """The principal the guard resolved; only callable from a protected route."""
    found = g.get("principal")
    if not isinstance(found, Principal):
        raise Unauthorized("Authentication is required.")
    return found


def _bearer_principal(header: str) -> Principal:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Use a bearer access token.")
    current = node()
    base = current.settings.base_url
    with current.sessions() as db:
        return clients.verify_bearer(
            db, token.strip(), issuer=base, audience=base + "/api/v1", now=utcnow()
        )


def _session_principal() -> Principal | None:
    state = getattr(session, "state", None)
    if state is None or not state.authenticated or state.user_id is None:
        return None
    restrict = session.get("roles")  # single sign-on: the roles granted at that login
    with node().sessions() as db:
        held = users.current_roles(db, state.user_id)
    if restrict is not None:
        held = held & {(str(a), str(r)) for a, r in restrict}
    return Principal.user(state.user_id, held)


def check_csrf() -> None:
    expected = session.get("csrf")
    offered = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    if not isinstance(expected, str) or not hmac.compare_digest(
        expected.encode(), offered.encode("utf-8", "replace")
    ):
        raise Forbidden("The CSRF token is missing or wrong. Reload the page and try again.")


def install_guard(app: Flask) -> None:
    @app.before_request
    def _guard() -> None:
        endpoint = request.endpoint
        if endpoint is None:  # no such route: let Flask answer 404/405
            return
        unsafe = request.method not in SAFE_METHODS
        if endpoint in PUBLIC_ENDPOINTS:
            if unsafe and endpoint not in CSRF_EXEMPT:
                check_csrf()
            return
        header = request.headers.get("Authorization")
        principal = _bearer_principal(header) if header else _session_principal()
        if principal is None:
            raise Unauthorized("Authentication is required.")
        access = getattr(app.view_functions[endpoint], ACCESS_ATTRIBUTE, None)
        if not isinstance(access, Access) or not access.allows(principal):
            raise Forbidden("You may not do this.")
        if unsafe and not header:
            check_csrf()
        g.principal = principal

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        # Nothing this node serves may be cached: case content, tokens, login pages.
        headers.setdefault("Cache-Control", "no-store")
        headers.setdefault("Pragma", "no-cache")
        # Our pages use only our own stylesheet and scripts (GOV.UK Frontend, served by
        # this node): no inline script or style, no frames, forms post only to us, and
        # the one script request (the idle-timeout keep-alive) goes only to us.
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        # Sent always (browsers ignore it over plain http); behind a TLS proxy the app
        # itself may not see https.
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        if response.status_code == 401:
            headers.setdefault("WWW-Authenticate", 'Bearer realm="marac-gateway"')
        return response

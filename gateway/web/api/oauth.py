"""`POST /api/v1/oauth/token`: OAuth 2.0 client credentials (RFC 6749 section 4.4) through
Authlib's generic AuthorizationServer.

Clients authenticate with HTTP Basic (`client_secret_basic`) or form fields
(`client_secret_post`). The answer is a short-lived Ed25519 JWT (gateway/domain/clients.py)
and nothing is stored per token. Errors are problem documents that also carry the RFC 6749
`error` code, so both OAuth libraries and our own clients understand them.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from flask import Request, Response, json
from flask import request as flask_request

from gateway.domain.clock import utcnow
from gateway.domain.identity import clients
from gateway.domain.identity.principals import SCOPES
from gateway.errors import Invalid, register_problem
from gateway.web import node
from gateway.web.api.common import api
from gateway.web.api.declarations import documented
from gateway.web.errors import problem_type_base
from schemas.api.oauth import TokenRequestSchema, TokenResponseSchema

log = logging.getLogger("gateway.oauth")

# RFC 6749 section 5.2 error codes, each a problem type of its own.
OAUTH_ERRORS = {
    "invalid_request": "The token request is missing a parameter or repeats one.",
    "invalid_client": "The client id or secret is wrong, or the client was revoked.",
    "invalid_grant": "The grant is not valid for this client.",
    "unauthorized_client": "This client may not use that grant type.",
    "unsupported_grant_type": "Only the client_credentials grant is served.",
    "invalid_scope": "A scope asked for is unknown or was not granted to this client.",
}
for _code, _text in OAUTH_ERRORS.items():
    register_problem("oauth-" + _code.replace("_", "-"), "Token request refused", _text)


def _oauth_type(code: object) -> str:
    known = code if isinstance(code, str) and code in OAUTH_ERRORS else "invalid_request"
    return problem_type_base() + "oauth-" + known.replace("_", "-")


AUTH_METHODS = ("client_secret_basic", "client_secret_post")
# Form fields that each authenticate a client on their own.
BODY_CREDENTIALS = ("client_secret", "client_assertion")


class _Client(ClientMixin):  # type: ignore[misc]
    """Authlib's view of one of our clients; every decision is the domain's."""

    def __init__(self, view: clients.ClientView) -> None:
        self.view = view

    def get_client_id(self) -> str:
        return self.view.id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(sorted(set(scope.split()) & self.view.scopes))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        current = node()
        with current.sessions() as db:
            return clients.check_secret(db, current.master, self.view.id, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class _Grant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)


class _TokenRequest(OAuth2Request):  # type: ignore[misc]
    """The request as Authlib wants it, at this node's public URL (behind a TLS proxy the
    app itself sees plain http, which Authlib would refuse as insecure transport)."""

    def __init__(self, request: Request, uri: str) -> None:
        super().__init__(method=request.method, uri=uri, headers=request.headers)
        self._request = request
        self.payload = FlaskOAuth2Payload(request)

    @property
    def args(self) -> Any:
        return self._request.args

    @property
    def form(self) -> Any:
        return self._request.form


class TokenServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.register_grant(_Grant)
        self.register_token_generator("default", self._generate)

    def query_client(self, client_id: str) -> _Client | None:
        with node().sessions() as db:
            view = clients.find_client(db, client_id or "")
        return _Client(view) if view else None

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Nothing to store: the token is a signed JWT that expires by itself."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals: audit events are written by the domain."""

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return _TokenRequest(flask_request, node().settings.base_url + flask_request.path)

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        if status >= 400 and isinstance(body, dict):
            body = {
                "type": _oauth_type(body.get("error")),
                "title": "Token request refused",
                "status": status,
                "error": body.get("error", "invalid_request"),
                "detail": "The client credentials or the request are not acceptable.",
            }
            response = Response(json.dumps(body), status=status, headers=headers)
            response.mimetype = "application/problem+json"
            return response
        return Response(
            json.dumps(body), status=status, headers=headers, mimetype="application/json"
        )

    def _generate(
        self,
        grant_type: str,
        client: _Client,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = False,
    ) -> dict[str, Any]:
        current = node()
        base = current.settings.base_url
        requested = frozenset(scope.split()) if scope else None
        try:
            with current.sessions() as db:
                issued = clients.issue_token(
                    db,
                    current.master,
                    client.view,
                    requested=requested,
                    issuer=base,
                    audience=base + "/api/v1",
                    lifetime=int(current.settings.access_token_lifetime),
                    now=utcnow(),
                )
        except Invalid as exc:
            raise InvalidScopeError() from exc
        # The issue is in the client's area's audit log (clients.issue_token).
        log.info("access token issued")
        return {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }


_server = TokenServer()


@api.post("/oauth/token")
@documented(
    "issueToken",
    "Client credentials grant: a short-lived bearer token.",
    ok=(200, "An access token"),
    answer=TokenResponseSchema,
    problems=(400, 401),
    body={"application/x-www-form-urlencoded": TokenRequestSchema},
    security=[{"basic": []}, {}],
)
def token() -> Response:
    if _authenticates_twice(flask_request):
        error = InvalidRequestError(description="Use one client authentication method.")
        refused: Response = _server.handle_error_response(None, error)
        return refused
    response: Response = _server.create_token_response()
    return response


def _authenticates_twice(request: Request) -> bool:
    """RFC 6749 section 2.3: a client MUST NOT use more than one authentication method in a
    request; Authlib would answer for whichever it tries first."""
    in_body = [name for name in BODY_CREDENTIALS if name in request.form]
    return len(in_body) > 1 or (bool(in_body) and "Authorization" in request.headers)

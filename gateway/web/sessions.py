"""Flask's `session`, kept server-side in the database (gateway/domain/sessions.py).

The cookie is `__Host-gw-session`: Secure, HttpOnly, SameSite=Lax (Lax, not Strict, so
the cookie comes back on the top-level redirect from an identity provider), Path=/ and
no Domain, which the `__Host-` prefix makes the browser enforce. It holds only the
random id. A session row is written only when something is stored (a CSRF secret for a
login form, OIDC state) or a login step completes.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from gateway.domain.clock import utcnow
from gateway.domain.identity import browser_sessions as store
from gateway.node import Node

COOKIE = "__Host-gw-session"
CSRF_KEY = "csrf"


class ServerSession(CallbackDict[str, Any], SessionMixin):
    def __init__(self, initial: dict[str, Any] | None, state: store.SessionState | None) -> None:
        def changed(_: Any) -> None:
            self.modified = True

        super().__init__(initial or {}, changed)
        self.state = state
        self.modified = False
        self.ended = False
        # Set by `begin_stage`: the session is replaced by one under a new id at save.
        self.next_stage: tuple[str, str, dict[str, Any]] | None = None

    def begin_stage(self, user_id: str, stage: str, **data: Any) -> None:
        """Privilege changes: the old id dies, a new one is issued, data starts afresh
        (only what is passed here, plus a new CSRF secret)."""
        self.next_stage = (user_id, stage, data)

    def end(self) -> None:
        self.ended = True

    def csrf_token(self) -> str:
        if CSRF_KEY not in self:
            self[CSRF_KEY] = secrets.token_urlsafe(32)
        return str(self[CSRF_KEY])


def policy(node: Node) -> store.SessionPolicy:
    s = node.settings
    return store.SessionPolicy(
        idle=timedelta(seconds=s.session_idle_timeout),
        absolute=timedelta(seconds=s.session_absolute_timeout),
    )


def id_key(node: Node) -> bytes:
    return node.master.subkey("session-id")


class DatabaseSessionInterface(SessionInterface):
    def __init__(self, node: Node) -> None:
        self.node = node

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        raw = request.cookies.get(COOKIE)
        state = None
        if raw:
            with self.node.sessions() as db:
                state = store.load(db, id_key(self.node), raw, policy(self.node), utcnow())
        return ServerSession(state.data if state else None, state)

    def save_session(  # type: ignore[override]
        self, app: Flask, session: ServerSession, response: Response
    ) -> None:
        if not (session.ended or session.next_stage is not None or session.modified):
            return  # nothing changed: no key, no database round trip
        key, now = id_key(self.node), utcnow()
        with self.node.sessions() as db:
            if session.ended:
                if session.state is not None:
                    store.end(db, key, session.state.raw_id, utcnow())
                response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="Lax")
                return
            old = session.state.raw_id if session.state else None
            if session.next_stage is not None:
                user_id, stage, data = session.next_stage
                fresh = {**data, CSRF_KEY: secrets.token_urlsafe(32)}
                state = store.start(
                    db,
                    key,
                    user_id=user_id,
                    stage=stage,
                    data=fresh,
                    policy=policy(self.node),
                    now=now,
                    replaces=old,
                )
                self._set_cookie(response, state.raw_id)
            elif session.modified and session.state is not None:
                store.save_data(db, key, session.state.raw_id, dict(session))
            elif session.modified and dict(session):
                state = store.start(
                    db,
                    key,
                    user_id=None,
                    stage=store.ANONYMOUS,
                    data=dict(session),
                    policy=policy(self.node),
                    now=now,
                )
                self._set_cookie(response, state.raw_id)

    def _set_cookie(self, response: Response, raw_id: str) -> None:
        # No Max-Age: a browser session cookie; the server enforces the timeouts.
        response.set_cookie(COOKIE, raw_id, path="/", secure=True, httponly=True, samesite="Lax")

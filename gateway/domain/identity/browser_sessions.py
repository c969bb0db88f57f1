"""Server-side browser sessions.

The cookie carries only a random 256-bit id; the table keeps its keyed digest, the user,
the login stage and a small JSON document (the CSRF secret and, during single sign-on,
the OIDC state). A session ends at the first of: logout (the row is deleted, so a
replayed cookie finds nothing), the idle timeout, and the absolute timeout. Every change
of privilege (password accepted, second factor accepted, single sign-on) replaces the row
with one under a NEW id, so an id planted or seen before login is worthless after it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from adapters.db.models import WebSession
from gateway.domain import audit
from gateway.domain.audit import actions
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.users import roles_of
from gateway.domain.transaction import owns_transaction
from keys import keyed_digest

ANONYMOUS, PASSWORD, ENROL, FULL = "anonymous", "password", "enrol", "full"
STAGES = (ANONYMOUS, PASSWORD, ENROL, FULL)
# Writing last_seen on every request would make every read a write; a minute of slack
# on a 30-minute idle timeout costs nothing.
TOUCH_INTERVAL = timedelta(seconds=60)
# A login left half-way (anonymous, or waiting for the second factor) lives this long.
PRE_AUTH_LIFETIME = timedelta(minutes=15)


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta


@dataclass
class SessionState:
    raw_id: str
    user_id: str | None
    stage: str
    data: dict[str, Any] = field(default_factory=dict)
    # When the session ends if nothing more happens: the idle or the absolute limit,
    # whichever comes first. Pages show it (WCAG 2.2.1: the person is told in advance).
    ends_at: datetime | None = None

    @property
    def authenticated(self) -> bool:
        return self.stage == FULL and self.user_id is not None


def _digest(key: bytes, raw_id: str) -> str:
    return keyed_digest(key, raw_id)


@owns_transaction
def load(
    session: Session, key: bytes, raw_id: str, policy: SessionPolicy, now: datetime
) -> SessionState | None:
    """The live session for a cookie, or None (unknown, ended or expired: then deleted)."""
    if not 20 <= len(raw_id) <= 128:
        return None
    with session.begin():
        row = session.get(WebSession, _digest(key, raw_id))
        if row is None:
            return None
        if now >= row.expires_at or now - row.last_seen_at >= policy.idle:
            session.delete(row)
            return None
        if now - row.last_seen_at >= TOUCH_INTERVAL:
            row.last_seen_at = now
        return SessionState(
            raw_id, row.user_id, row.stage, json.loads(row.data), _ends_at(row, policy)
        )


def _ends_at(row: WebSession, policy: SessionPolicy) -> datetime:
    return min(row.expires_at, row.last_seen_at + policy.idle)


@owns_transaction
def touch(
    session: Session, key: bytes, raw_id: str, policy: SessionPolicy, now: datetime
) -> datetime | None:
    """The person asked to stay signed in: the idle clock restarts now. Returns the new
    end of the session, or None when it has already ended."""
    with session.begin():
        row = session.get(WebSession, _digest(key, raw_id))
        if row is None or now >= row.expires_at or now - row.last_seen_at >= policy.idle:
            return None
        row.last_seen_at = now
        return _ends_at(row, policy)


@owns_transaction
def start(
    session: Session,
    key: bytes,
    *,
    user_id: str | None,
    stage: str,
    data: dict[str, Any],
    policy: SessionPolicy,
    now: datetime,
    replaces: str | None = None,
) -> SessionState:
    """A new session under a fresh id; the one it replaces (if any) is deleted in the same
    transaction. Expired rows are swept here, so the table cannot grow without bound."""
    if stage not in STAGES:
        raise ValueError("unknown session stage")
    lifetime = policy.absolute if stage == FULL else min(policy.absolute, PRE_AUTH_LIFETIME)
    raw_id = secrets.token_urlsafe(32)
    with session.begin():
        if replaces:
            session.execute(
                delete(WebSession).where(WebSession.id_digest == _digest(key, replaces))
            )
        session.execute(
            delete(WebSession).where(
                or_(WebSession.expires_at <= now, WebSession.last_seen_at <= now - policy.idle)
            )
        )
        session.add(
            WebSession(
                id_digest=_digest(key, raw_id),
                user_id=user_id,
                stage=stage,
                data=json.dumps(data),
                created_at=now,
                last_seen_at=now,
                expires_at=now + lifetime,
            )
        )
    return SessionState(raw_id, user_id, stage, dict(data), min(now + lifetime, now + policy.idle))


@owns_transaction
def save_data(session: Session, key: bytes, raw_id: str, data: dict[str, Any]) -> None:
    with session.begin():
        row = session.get(WebSession, _digest(key, raw_id))
        if row is not None:
            row.data = json.dumps(data)


@owns_transaction
def end(session: Session, key: bytes, raw_id: str, now: datetime) -> None:
    with session.begin():
        row = session.get(WebSession, _digest(key, raw_id))
        if row is None:
            return
        if row.user_id is not None and row.stage == FULL:
            areas = sorted({area for area, _ in roles_of(session, row.user_id)})
            audit.record_everywhere(
                session,
                areas,
                audit.Event(action=actions.LOGOUT, actor=Actor.user(row.user_id)),
                now,
            )
        session.delete(row)

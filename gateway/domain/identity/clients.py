"""Machine clients (case-management systems) and their short-lived access tokens.

A client belongs to one area and holds a fixed set of scopes. Its secret (256 random
bits) is stored as a keyed BLAKE2b digest, not Argon2id: with that much entropy a slow
hash adds no safety, while the token endpoint must stay cheap enough not to become a
denial-of-service lever; the key (derived from the master key) means a copy of the
database alone does not even let anyone test a guess.

Access tokens are Ed25519 JWTs (keys/access_tokens.py) signed by the node's token key,
generated on first use and sealed under the master key like the area keys.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from adapters.db.models import ApiClient, TokenKey
from gateway.domain import audit
from gateway.domain.areas.local_areas import get_area
from gateway.domain.audit import actions
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import SCOPES, Principal
from gateway.domain.transaction import owns_transaction
from gateway.errors import Conflict, Invalid, NotFound, Unauthorized
from keys import (
    AccessClaims,
    CryptoError,
    MasterKey,
    TokenSigningKey,
    issue_access_token,
    keyed_digest,
    same_digest,
    verify_access_token,
)
from keys.access_tokens import access_token_key_id

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,199}$")
_CLIENT_ID = re.compile(r"^gwc-[A-Za-z0-9_-]{16,60}$")
OPERATOR = Actor.operator()
TOKEN_KEY_CONTEXT = "token-key:{key_id}"  # noqa: S105 - a sealing context, not a secret


@dataclass(frozen=True)
class ClientView:
    id: str
    name: str
    area: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class ClientRow:
    """A client as its area's admins see it in the list (revoked ones stay, marked)."""

    id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked: bool


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


def parse_scopes(text: str) -> frozenset[str]:
    scopes = frozenset(text.split())
    if not scopes or not scopes <= set(SCOPES):
        raise Invalid(
            "Unknown or missing scope.",
            errors={"scope": [f"Use one or more of: {' '.join(SCOPES)}."]},
        )
    return scopes


def _secret_digest(master: MasterKey, client_id: str, secret: str) -> str:
    return keyed_digest(master.subkey("client-secret"), f"{client_id}:{secret}")


@owns_transaction
def create_client(
    session: Session,
    master: MasterKey,
    *,
    name: str,
    area: str,
    scopes: str,
    now: datetime,
    actor: Actor = OPERATOR,
) -> tuple[ClientView, str]:
    """A new client and its secret; the secret is shown once and never stored."""
    granted = parse_scopes(scopes)
    if not NAME.match(name):
        raise Invalid(
            "The client name is not valid.",
            errors={"name": ["Letters, digits, space, '.', '_', '-'; at most 200."]},
        )
    client_id = "gwc-" + secrets.token_urlsafe(18)
    secret = secrets.token_urlsafe(32)
    with session.begin():
        get_area(session, area)
        session.add(
            ApiClient(
                id=client_id,
                name=name,
                area_code=area,
                scopes=" ".join(sorted(granted)),
                secret_digest=_secret_digest(master, client_id, secret),
                created_at=now,
                disabled=False,
            )
        )
        audit.record(
            session,
            area,
            audit.Event(
                action=actions.CLIENT_CREATED,
                actor=actor,
                objects={"client": client_id},
                details={"scopes": " ".join(sorted(granted))},
            ),
            now,
        )
    return ClientView(client_id, name, area, granted), secret


@owns_transaction
def list_clients(session: Session, principal: Principal, area: str) -> list[ClientRow]:
    """The area's clients, newest first; for its admins (or the operator)."""
    principal.admin_actor(area)
    with session.begin():
        get_area(session, area)
        rows = session.scalars(
            select(ApiClient)
            .where(ApiClient.area_code == area)
            .order_by(ApiClient.created_at.desc(), ApiClient.id)
        )
        return [
            ClientRow(r.id, r.name, tuple(sorted(r.scopes.split())), r.created_at, r.disabled)
            for r in rows
        ]


@owns_transaction
def revoke_client(
    session: Session, principal: Principal, area: str, client_id: str, now: datetime
) -> ClientRow:
    """The client's secret stops working and its tokens are refused at once (the bearer
    check reads the client on every call). Another area's client answers NotFound."""
    actor = principal.admin_actor(area)
    with session.begin():
        row = session.get(ApiClient, client_id) if _CLIENT_ID.match(client_id) else None
        if row is None or row.area_code != area:
            raise NotFound("No such API client.")
        if row.disabled:
            raise Conflict("This API client has already been revoked.")
        row.disabled = True
        audit.record(
            session,
            area,
            audit.Event(action=actions.CLIENT_REVOKED, actor=actor, objects={"client": row.id}),
            now,
        )
        return ClientRow(row.id, row.name, tuple(sorted(row.scopes.split())), row.created_at, True)


def _view(row: ApiClient) -> ClientView:
    return ClientView(row.id, row.name, row.area_code, frozenset(row.scopes.split()))


@owns_transaction
def find_client(session: Session, client_id: str) -> ClientView | None:
    if not _CLIENT_ID.match(client_id):
        return None
    with session.begin():
        row = session.get(ApiClient, client_id)
        return None if row is None or row.disabled else _view(row)


@owns_transaction
def check_secret(session: Session, master: MasterKey, client_id: str, secret: str) -> bool:
    if not _CLIENT_ID.match(client_id) or len(secret) > 200:
        return False
    with session.begin():
        row = session.get(ApiClient, client_id)
        expected = row.secret_digest if row is not None and not row.disabled else None
    offered = _secret_digest(master, client_id, secret)
    return expected is not None and same_digest(expected, offered)


def _signing_key(session: Session, master: MasterKey, now: datetime) -> TokenSigningKey:
    """The node's token key, created on first use (inside the caller's transaction)."""
    row = session.scalars(select(TokenKey).order_by(TokenKey.created_at, TokenKey.key_id)).first()
    if row is not None:
        seed = master.open(row.secret_sealed, TOKEN_KEY_CONTEXT.format(key_id=row.key_id))
        return TokenSigningKey(seed)
    key = TokenSigningKey.generate()
    session.add(
        TokenKey(
            key_id=key.key_id,
            public=key.public,
            secret_sealed=master.seal(key.seed, TOKEN_KEY_CONTEXT.format(key_id=key.key_id)),
            created_at=now,
        )
    )
    return key


@owns_transaction
def issue_token(
    session: Session,
    master: MasterKey,
    client: ClientView,
    *,
    requested: frozenset[str] | None,
    issuer: str,
    audience: str,
    lifetime: int,
    now: datetime,
) -> IssuedToken:
    """A token for the requested scopes (all granted ones when none are asked for); asking
    for a scope the client was not granted is refused, not silently narrowed."""
    scopes = requested or client.scopes
    if not scopes <= client.scopes:
        raise Invalid("The client may not ask for that scope.", errors={"scope": ["Not granted."]})
    with session.begin():
        key = _signing_key(session, master, now)
        audit.record(
            session,
            client.area,
            audit.Event(
                action=actions.TOKEN_ISSUED,
                actor=Actor.client(client.id),
                details={"scopes": " ".join(sorted(scopes)), "lifetime": lifetime},
            ),
            now,
        )
    token = issue_access_token(
        key,
        issuer=issuer,
        audience=audience,
        client_id=client.id,
        area=client.area,
        scopes=scopes,
        lifetime=lifetime,
        now=int(now.timestamp()),
    )
    return IssuedToken(token, lifetime, " ".join(sorted(scopes)))


@owns_transaction
def verify_bearer(
    session: Session, token: str, *, issuer: str, audience: str, now: datetime
) -> Principal:
    """The client behind a bearer token; the client must still exist and be enabled, and
    the token's scopes are narrowed to what the client holds now. One statement: the
    client's row, read on every call so that a revocation (or an operator's direct change)
    is seen at once by every process; the token keys' public halves are kept in process
    (`_keys_for`)."""
    with session.begin():
        claims = _verified(token, _keys_for(session, token), issuer, audience, now)
        client = _client_row(session, claims.subject) if _CLIENT_ID.match(claims.subject) else None
    if client is None or client.disabled or client.view.area != claims.area:
        raise Unauthorized("The access token is not valid.")
    return Principal.client(client.view.id, client.view.area, claims.scopes & client.view.scopes)


# The public halves of the node's token keys, per database. Token keys are only ever added
# (`_signing_key`), never changed or removed, so a process may keep the ones it has seen;
# a token naming a key it has not seen makes it read them again (one select), which is
# also how a key created by another process is found.
_TOKEN_KEYS: dict[str, dict[str, bytes]] = {}


def _keys_for(session: Session, token: str) -> dict[str, bytes]:
    where = str(session.get_bind().engine.url)
    known = _TOKEN_KEYS.get(where, {})
    try:
        wanted = access_token_key_id(token)
    except CryptoError as exc:
        raise Unauthorized("The access token is not valid.") from exc
    if wanted in known:
        return known
    table = cast(Table, TokenKey.__table__)
    fresh = {
        str(key_id): bytes(public)
        for key_id, public in session.execute(select(table.c.key_id, table.c.public))
    }
    _TOKEN_KEYS[where] = fresh
    return fresh


@dataclass(frozen=True)
class _ClientState:
    view: ClientView
    disabled: bool


def _client_row(session: Session, client_id: str) -> _ClientState | None:
    table = cast(Table, ApiClient.__table__)
    row = session.execute(
        select(table.c.id, table.c.name, table.c.area_code, table.c.scopes, table.c.disabled).where(
            table.c.id == client_id
        )
    ).first()
    if row is None:
        return None
    view = ClientView(str(row[0]), str(row[1]), str(row[2]), frozenset(str(row[3]).split()))
    return _ClientState(view, bool(row[4]))


def _verified(
    token: str, keys: dict[str, bytes], issuer: str, audience: str, now: datetime
) -> AccessClaims:
    try:
        return verify_access_token(
            token, keys, issuer=issuer, audience=audience, now=int(now.timestamp())
        )
    except CryptoError as exc:
        raise Unauthorized("The access token is not valid.") from exc

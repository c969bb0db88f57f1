"""Authenticating a peer's request (DESIGN section 4, federation HTTP): a short-lived
Ed25519 JWS from a pinned key, bound to the addressed area, the method, the URL and the
body. Used by every inbound federation endpoint."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters.db.models import Peer, UsedToken
from adapters.db.session import read_only
from gateway.domain.areas.local_areas import area_url
from gateway.domain.areas.peers import is_revoked, pinned_key
from gateway.domain.transaction import owns_transaction
from gateway.errors import ClockSkewed, Refused, Unauthorized, UnknownSigningKey
from keys import (
    ClockSkew,
    CryptoError,
    ExpiredKey,
    PublicAreaKey,
    RequestClaims,
    check_body,
    format_time,
    token_audience,
    token_issuer,
    token_key_id,
    verify_request_token,
)

# Kept after a token expires, so a clock a little behind cannot reopen the replay window.
JTI_MARGIN = timedelta(seconds=60)


def bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("A bearer request token is required.")
    return token.strip()


@owns_transaction
def token_key(session: Session, authorization: str | None, now: datetime) -> PublicAreaKey:
    with session.begin():
        return _token_key_in(session, authorization, now)


def _token_key_in(session: Session, authorization: str | None, now: datetime) -> PublicAreaKey:
    try:
        key_id = token_key_id(bearer(authorization))
    except CryptoError as exc:
        raise Unauthorized(f"Request token refused: {exc}.") from exc
    key = pinned_key(session, key_id)
    issuer = None
    if key is None and is_revoked(session, key_id):
        raise Refused("The token is signed by a revoked key.", reason="revoked-key")
    if key is None:
        issuer = _known_issuer(session, authorization)
    if key is None:
        raise UnknownSigningKey(
            "The token's key is not pinned on this node; import the bundle.", issuer=issuer
        )
    try:
        key.check_valid(now)
    except ExpiredKey as exc:
        raise Unauthorized("The token's key is outside its validity period.") from exc
    return key


def _known_issuer(session: Session, authorization: str | None) -> str | None:
    """The token's `iss` if it names a pinned peer (unverified: it only picks whose
    published bundle to fetch, from the URL this node already holds for it)."""
    try:
        issuer = token_issuer(bearer(authorization))
    except CryptoError:
        return None
    return issuer if session.get(Peer, issuer) is not None else None


@owns_transaction
def endpoint_url(session: Session, area: str, path: str) -> str:
    """The URL a sender must have bound its token to: the addressed area's published URL."""
    with session.begin():
        return _endpoint_url_in(session, area, path)


def _endpoint_url_in(session: Session, area: str, path: str) -> str:
    url = area_url(session, area)
    if url is None:
        raise Refused("No such area on this node.", reason="wrong-addressee")
    return url + path


def verify(
    session: Session,
    authorization: str | None,
    *,
    audience: str,
    method: str,
    path: str,
    body: bytes,
    now: datetime,
) -> RequestClaims:
    key = token_key(session, authorization, now)
    try:
        return verify_request_token(
            bearer(authorization),
            key,
            audience=audience,
            method=method,
            url=endpoint_url(session, audience, path),
            body=body,
            now=int(now.timestamp()),
        )
    except ClockSkew as exc:
        raise _skewed(exc, now) from exc
    except CryptoError as exc:
        raise Unauthorized(f"Request token refused: {exc}.") from exc


@owns_transaction
def verify_before_body(
    session: Session, authorization: str | None, *, method: str, path: str, now: datetime
) -> RequestClaims:
    """Everything but the body binding, checked before the body is read: a stranger cannot
    make this node read (up to its largest limit) a body no pinned key signed for.
    `body_matches` finishes the check once the body is in. A token addressed to an area
    this node does not host is refused as `wrong-addressee`, as the envelope would be.
    The pinned key and the area's URL are read in one transaction."""
    token = bearer(authorization)
    try:
        with session.begin():
            read_only(session)
            key = _token_key_in(session, authorization, now)
            audience = token_audience(token)
            url = _endpoint_url_in(session, audience, path)
        return verify_request_token(
            token,
            key,
            audience=audience,
            method=method,
            url=url,
            body=None,
            now=int(now.timestamp()),
        )
    except ClockSkew as exc:
        raise _skewed(exc, now) from exc
    except CryptoError as exc:
        raise Unauthorized(f"Request token refused: {exc}.") from exc


def _skewed(exc: ClockSkew, now: datetime) -> ClockSkewed:
    return ClockSkewed(
        f"Request token refused: {exc} by this node's clock.", server_time=format_time(now)
    )


def body_matches(claims: RequestClaims, body: bytes) -> None:
    try:
        check_body(claims, body)
    except CryptoError as exc:
        raise Unauthorized(f"Request token refused: {exc}.") from exc


@owns_transaction
def authenticate(
    session: Session,
    authorization: str | None,
    *,
    audience: str,
    method: str,
    path: str,
    body: bytes,
    now: datetime,
) -> RequestClaims:
    """Verify and spend the token at once (for endpoints whose effect is not itself
    idempotent by an id the way envelopes are)."""
    claims = verify(
        session, authorization, audience=audience, method=method, path=path, body=body, now=now
    )
    try:
        with session.begin():
            session.add(used_token(claims, now))
    except IntegrityError as exc:
        raise Unauthorized("The request token has already been used.") from exc
    return claims


def used_token(claims: RequestClaims, now: datetime) -> UsedToken:
    return UsedToken(
        jti=claims.jti,
        issuer=claims.iss,
        expires_at=datetime.fromtimestamp(claims.exp, now.tzinfo) + JTI_MARGIN,
    )

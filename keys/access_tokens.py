"""API access tokens for machine clients: short-lived JWTs signed Ed25519 by the node.

Why JWTs rather than opaque tokens: the bearer check on every API call then needs no
database read for the token itself (only the client row, so deleting a client revokes it).

The verifier names the one algorithm it accepts (`Ed25519`), picks the key by `kid` from
the node's own token keys, and refuses any header that would let a token bring its own
key (`jwk`, `jku`, `x5u`, `x5c`, ...), `alg: none`, `HS256` and every other algorithm,
expired tokens, a wrong audience or issuer, and a `typ` other than `at+jwt` (RFC 9068),
so a federation request token can never pass as an access token.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from nacl.signing import SigningKey

from keys.encoding import b64url_encode, sha256
from keys.errors import BadSignature, BadToken
from keys.request_tokens import ALGORITHM, CLOCK_LEEWAY, checked_header

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - the RFC 9068 media type, not a secret
MAX_ACCESS_LIFETIME = 3600
_REQUIRED = ("iss", "aud", "sub", "iat", "exp", "jti", "scope", "area", "client_id")


@dataclass(frozen=True)
class TokenSigningKey:
    """The node's private token key; at rest it is sealed under the master key."""

    seed: bytes

    @classmethod
    def generate(cls) -> TokenSigningKey:
        return cls(bytes(SigningKey.generate()))

    @property
    def public(self) -> bytes:
        return bytes(SigningKey(self.seed).verify_key)

    @property
    def key_id(self) -> str:
        return token_key_id(self.public)


def token_key_id(public: bytes) -> str:
    return "tk-" + b64url_encode(sha256(b"marac-token-key:v1:" + public)[:12])


@dataclass(frozen=True)
class AccessClaims:
    subject: str  # the client id
    area: str
    scopes: frozenset[str]
    jti: str
    expires_at: int


def issue_access_token(
    key: TokenSigningKey,
    *,
    issuer: str,
    audience: str,
    client_id: str,
    area: str,
    scopes: frozenset[str],
    lifetime: int,
    now: int | None = None,
) -> str:
    if not 0 < lifetime <= MAX_ACCESS_LIFETIME:
        raise ValueError("access token lifetime must be between 1 s and 1 h")
    issued = int(time.time()) if now is None else now
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": client_id,
        "client_id": client_id,
        "area": area,
        "scope": " ".join(sorted(scopes)),
        "iat": issued,
        "exp": issued + lifetime,
        "jti": str(uuid.uuid4()),
    }
    header = {"alg": ALGORITHM, "typ": ACCESS_TOKEN_TYPE, "kid": key.key_id}
    return jwt.encode(header, claims, _private(key), algorithms=[ALGORITHM])


def access_token_key_id(token: str) -> str:
    header = checked_header(token)
    kid = header.get("kid")
    if header.get("typ") != ACCESS_TOKEN_TYPE:
        raise BadToken("not an access token")
    if not isinstance(kid, str) or not kid:
        raise BadToken("token names no key")
    return kid


def verify_access_token(
    token: str,
    public_keys: Mapping[str, bytes],
    *,
    issuer: str,
    audience: str,
    now: int | None = None,
) -> AccessClaims:
    kid = access_token_key_id(token)  # refuses alg, typ and key-bearing headers first
    public = public_keys.get(kid)
    if public is None:
        raise BadToken("token names an unknown key")
    verifier = OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(public)})
    try:
        decoded = jwt.decode(token, verifier, algorithms=[ALGORITHM])
    except JoseError as exc:
        raise BadSignature("access token signature does not verify") from exc
    return _check_claims(decoded.claims, issuer, audience, now)


def _check_claims(
    claims: dict[str, Any], issuer: str, audience: str, now: int | None
) -> AccessClaims:
    if any(name not in claims for name in _REQUIRED):
        raise BadToken("token lacks a required claim")
    current = int(time.time()) if now is None else now
    iat, exp = claims["iat"], claims["exp"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
        raise BadToken("iat and exp must be integers")
    if exp <= iat or exp - iat > MAX_ACCESS_LIFETIME:
        raise BadToken("token lifetime is invalid")
    if iat > current + CLOCK_LEEWAY:
        raise BadToken("token issued in the future")
    if exp <= current:
        raise BadToken("token expired")
    if claims["iss"] != issuer:
        raise BadToken("token issuer is not this node")
    if claims["aud"] != audience:
        raise BadToken("token audience is not this API")
    values = [claims[name] for name in ("sub", "client_id", "area", "scope", "jti")]
    if not all(isinstance(v, str) for v in values) or claims["sub"] != claims["client_id"]:
        raise BadToken("token claims are malformed")
    return AccessClaims(
        subject=claims["sub"],
        area=claims["area"],
        scopes=frozenset(claims["scope"].split()),
        jti=claims["jti"],
        expires_at=exp,
    )


def _private(key: TokenSigningKey) -> OKPKey:
    return OKPKey.import_key(
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "d": b64url_encode(key.seed),
            "x": b64url_encode(key.public),
        }
    )

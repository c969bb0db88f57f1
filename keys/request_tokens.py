"""Federation request tokens: Ed25519 compact JWS bound to one HTTP request.

Claims (DESIGN section 4): iss, aud, iat, exp (at most 120 s after iat), jti, htm, htu,
bsh (b64url SHA-256 of the body). Verification names the key and the one algorithm it
accepts; headers that would let a token bring its own key (`jwk`, `jku`, `x5u`, `x5c`)
are refused before any cryptography runs. Single use of `jti` is the caller's job,
because it needs durable storage.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from keys.area import AreaSecretKeys, PublicAreaKey
from keys.bounded_json import TOKEN_LIMITS, parse_json
from keys.encoding import b64url_decode, b64url_encode, sha256
from keys.errors import BadSignature, BadToken, ClockSkew, Malformed

ALGORITHM = "Ed25519"  # RFC 9864 fully-specified name; "EdDSA" is not accepted
MAX_LIFETIME = 120
# How far ahead of ours a sender's clock may be (behind: up to the token's lifetime).
CLOCK_LEEWAY = 30
MAX_TOKEN_CHARS = 8192
_FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit"})
_REQUIRED = ("iss", "aud", "iat", "exp", "jti", "htm", "htu", "bsh")


@dataclass(frozen=True)
class RequestClaims:
    iss: str
    aud: str
    jti: str
    iat: int
    exp: int
    bsh: str = ""


def body_hash(body: bytes) -> str:
    return b64url_encode(sha256(body))


def issue_request_token(
    keys: AreaSecretKeys,
    *,
    audience: str,
    method: str,
    url: str,
    body: bytes,
    lifetime: int = 60,
    now: int | None = None,
) -> str:
    if not 0 < lifetime <= MAX_LIFETIME:
        raise ValueError("token lifetime must be between 1 and 120 seconds")
    issued = int(time.time()) if now is None else now
    claims = {
        "iss": keys.area,
        "aud": audience,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": str(uuid.uuid4()),
        "htm": method.upper(),
        "htu": url,
        "bsh": body_hash(body),
    }
    private = OKPKey.import_key(
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "d": b64url_encode(keys.signing_seed),
            "x": b64url_encode(keys.signing_public),
        }
    )
    header = {"alg": ALGORITHM, "typ": "JWT", "kid": keys.key_id}
    return jwt.encode(header, claims, private, algorithms=[ALGORITHM])


def token_audience(token: str) -> str:
    """Read `aud` from the claims (unverified) so the caller can rebuild the bound URL
    before the body arrives; `verify_request_token` then checks it with the signature."""
    return _unverified_claim(token, "aud", "token names no audience")


def token_issuer(token: str) -> str:
    """Read `iss` from the claims (unverified): which peer a token signed by an unknown
    key claims to come from, so the receiver can fetch that peer's published bundle."""
    return _unverified_claim(token, "iss", "token names no issuer")


def _unverified_claim(token: str, name: str, missing: str) -> str:
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > MAX_TOKEN_CHARS:
        raise BadToken("not a compact JWS")
    try:
        claims = parse_json(b64url_decode(token.split(".")[1]), TOKEN_LIMITS)
    except (Malformed, ValueError) as exc:
        raise BadToken("token claims are not base64url JSON") from exc
    value = claims.get(name) if isinstance(claims, dict) else None
    if not isinstance(value, str) or not value:
        raise BadToken(missing)
    return value


def check_body(claims: RequestClaims, body: bytes) -> None:
    """The body read after the token was verified must be the one it was bound to."""
    if not claims.bsh or claims.bsh != body_hash(body):
        raise BadToken("token bsh does not match this request")


def token_key_id(token: str) -> str:
    """Read `kid` from the protected header (unverified) so the caller can pick the key."""
    header = _unverified_header(token)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise BadToken("token names no key")
    return kid


def verify_request_token(
    token: str,
    key: PublicAreaKey,
    *,
    audience: str,
    method: str,
    url: str,
    body: bytes | None,
    now: int | None = None,
) -> RequestClaims:
    """Verify the token for this request. With `body=None` the body is not read yet: the
    claims carry its bound hash and the caller must `check_body` once it has it."""
    header = _unverified_header(token)
    if header.get("kid") != key.key_id:
        raise BadToken("token key id does not match the chosen key")
    public = OKPKey.import_key(
        {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(key.signing_public)}
    )
    try:
        decoded = jwt.decode(token, public, algorithms=[ALGORITHM])
    except JoseError as exc:
        raise BadSignature("request token signature does not verify") from exc
    return _check_claims(decoded.claims, key, audience, method, url, body, now)


def _check_claims(
    claims: dict[str, Any],
    key: PublicAreaKey,
    audience: str,
    method: str,
    url: str,
    body: bytes | None,
    now: int | None,
) -> RequestClaims:
    if any(name not in claims for name in _REQUIRED):
        raise BadToken("token lacks a required claim")
    current = int(time.time()) if now is None else now
    iat, exp = claims["iat"], claims["exp"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
        raise BadToken("iat and exp must be integers")
    if exp - iat > MAX_LIFETIME or exp <= iat:
        raise BadToken("token lifetime exceeds 120 seconds")
    if iat > current + CLOCK_LEEWAY:
        raise ClockSkew("token issued in the future")
    if exp <= current:
        raise ClockSkew("token expired")
    checks = {
        "iss": key.area,
        "aud": audience,
        "htm": method.upper(),
        "htu": url,
    }
    if body is not None:
        checks["bsh"] = body_hash(body)
    for name, expected in checks.items():
        if claims[name] != expected:
            raise BadToken(f"token {name} does not match this request")
    jti = claims["jti"]
    if not isinstance(jti, str) or not 8 <= len(jti) <= 128:
        raise BadToken("token jti is invalid")
    bsh = claims["bsh"]
    if not isinstance(bsh, str):
        raise BadToken("token bsh is invalid")
    return RequestClaims(iss=key.area, aud=audience, jti=jti, iat=iat, exp=exp, bsh=bsh)


def checked_header(token: str) -> dict[str, Any]:
    """The unverified protected header, already refused unless it names Ed25519 and
    carries no key-bearing member; shared with the API access tokens."""
    return _unverified_header(token)


def _unverified_header(token: str) -> dict[str, Any]:
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > MAX_TOKEN_CHARS:
        raise BadToken("not a compact JWS")
    try:
        header = parse_json(b64url_decode(token.split(".", 1)[0]), TOKEN_LIMITS)
    except (Malformed, ValueError) as exc:
        raise BadToken("token header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise BadToken("token header is not an object")
    if header.get("alg") != ALGORITHM:
        raise BadToken("token algorithm is not allowed")
    if _FORBIDDEN_HEADERS & set(header):
        raise BadToken("token header carries a forbidden member")
    return header

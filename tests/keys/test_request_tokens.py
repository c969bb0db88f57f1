"""Federation request tokens: Ed25519 compact JWS bound to one HTTP request.

Forged tokens are built by hand (or with joserfc) so that each one differs from a valid
token in exactly the respect under test. Times are passed with `now=`; nothing sleeps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import warnings
from datetime import UTC, datetime
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey

from keys import (
    AreaSecretKeys,
    BadSignature,
    BadToken,
    PublicAreaKey,
    RequestClaims,
    b64url_decode,
    b64url_encode,
    canonical_json,
    issue_request_token,
    token_key_id,
    verify_request_token,
)
from keys.encoding import sha256

NOW = 1_750_000_000
AUDIENCE = "bravo"
METHOD = "POST"
URL = "https://bravo.example/federation/v1/envelopes"
BODY = b'{"id":"0b7d4c1e-5f0a-4c53-9a51-3f2f0c6d7e11"}'
REQUIRED = ("iss", "aud", "iat", "exp", "jti", "htm", "htu", "bsh")


@pytest.fixture(scope="module")
def alpha() -> AreaSecretKeys:
    return AreaSecretKeys.generate("alpha")


@pytest.fixture(scope="module")
def alpha_pub(alpha: AreaSecretKeys) -> PublicAreaKey:
    return alpha.public(datetime(2025, 1, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def mallory() -> AreaSecretKeys:
    return AreaSecretKeys.generate("mallory")


def verify(token: str, key: PublicAreaKey, **overrides: Any) -> RequestClaims:
    request: dict[str, Any] = {
        "audience": AUDIENCE,
        "method": METHOD,
        "url": URL,
        "body": BODY,
        "now": NOW,
    }
    request.update(overrides)
    return verify_request_token(token, key, **request)


def issue(keys: AreaSecretKeys, **overrides: Any) -> str:
    request: dict[str, Any] = {
        "audience": AUDIENCE,
        "method": METHOD,
        "url": URL,
        "body": BODY,
        "now": NOW,
    }
    request.update(overrides)
    return issue_request_token(keys, **request)


def good_header(keys: AreaSecretKeys) -> dict[str, Any]:
    return {"alg": "Ed25519", "typ": "JWT", "kid": keys.key_id}


def good_claims(keys: AreaSecretKeys, **overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": keys.area,
        "aud": AUDIENCE,
        "iat": NOW,
        "exp": NOW + 60,
        "jti": "3f0c9a52-7a4e-4f1e-9b8b-2f6f1a0d4c77",
        "htm": METHOD,
        "htu": URL,
        "bsh": b64url_encode(sha256(BODY)),
    }
    claims.update(overrides)
    return claims


def segments(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64url_encode(json.dumps(header).encode())}.{b64url_encode(canonical_json(claims))}"


def hand_token(header: dict[str, Any], claims: dict[str, Any], signer: AreaSecretKeys) -> str:
    """A compact JWS signed with Ed25519 over `<b64 header>.<b64 claims>`, as RFC 7515 says."""
    signing_input = segments(header, claims)
    return f"{signing_input}.{b64url_encode(signer.sign(signing_input.encode('ascii')))}"


# --- valid tokens ---------------------------------------------------------------------------


def test_valid_token_verifies(alpha: AreaSecretKeys, alpha_pub: PublicAreaKey) -> None:
    token = issue(alpha)
    claims = verify(token, alpha_pub, now=NOW + 10)
    assert claims.iss == "alpha"
    assert claims.aud == AUDIENCE
    assert claims.iat == NOW
    assert claims.exp == NOW + 60
    assert 8 <= len(claims.jti) <= 128


def test_method_is_case_insensitive(alpha: AreaSecretKeys, alpha_pub: PublicAreaKey) -> None:
    verify(issue(alpha, method="post"), alpha_pub, method="Post")


def test_each_token_has_a_fresh_jti(alpha: AreaSecretKeys, alpha_pub: PublicAreaKey) -> None:
    first, second = verify(issue(alpha), alpha_pub), verify(issue(alpha), alpha_pub)
    assert first.jti != second.jti


def test_hand_built_token_verifies(alpha: AreaSecretKeys, alpha_pub: PublicAreaKey) -> None:
    """Control for the forgeries below: the hand-built path itself is correct."""
    claims = verify(hand_token(good_header(alpha), good_claims(alpha), alpha), alpha_pub)
    assert claims.jti == good_claims(alpha)["jti"]


def test_token_header_names_the_algorithm_and_key(alpha: AreaSecretKeys) -> None:
    token = issue(alpha)
    assert token_key_id(token) == alpha.key_id
    header_part = token.split(".")[0]
    header = json.loads(b64url_decode(header_part))
    assert header["alg"] == "Ed25519"
    assert header["kid"] == alpha.key_id


# --- lifetime -------------------------------------------------------------------------------


def test_expired(alpha: AreaSecretKeys, alpha_pub: PublicAreaKey) -> None:
    token = issue(alpha, lifetime=60)
    verify(token, alpha_pub, now=NOW + 59)
    with pytest.raises(BadToken):
        verify(token, alpha_pub, now=NOW + 60)
    with pytest.raises(BadToken):
        verify(token, alpha_pub, now=NOW + 3600)


@pytest.mark.parametrize("lifetime", [121, 600, 0, -1])
def test_issue_refuses_bad_lifetime(alpha: AreaSecretKeys, lifetime: int) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        issue(alpha, lifetime=lifetime)


def test_max_lifetime_is_accepted(alpha: AreaSecretKeys, alpha_pub: PublicAreaKey) -> None:
    verify(issue(alpha, lifetime=120), alpha_pub, now=NOW + 119)
    token = hand_token(good_header(alpha), good_claims(alpha, exp=NOW + 120), alpha)
    verify(token, alpha_pub)


@pytest.mark.parametrize("exp", [NOW + 121, NOW + 86_400, NOW, NOW - 1])
def test_lifetime_over_120_or_not_positive(
    exp: int, alpha: AreaSecretKeys, alpha_pub: PublicAreaKey
) -> None:
    token = hand_token(good_header(alpha), good_claims(alpha, exp=exp), alpha)
    with pytest.raises(BadToken):
        verify(token, alpha_pub, now=NOW)


def test_issued_in_the_future(alpha: AreaSecretKeys, alpha_pub: PublicAreaKey) -> None:
    verify(issue(alpha, now=NOW + 30), alpha_pub, now=NOW)  # within the leeway
    with pytest.raises(BadToken):
        verify(issue(alpha, now=NOW + 31), alpha_pub, now=NOW)  # ClockSkew, a BadToken
    with pytest.raises(BadToken):
        verify(issue(alpha, now=NOW + 3600), alpha_pub, now=NOW)


@pytest.mark.parametrize(
    "claim_values",
    [
        {"iat": float(NOW)},
        {"exp": float(NOW + 60)},
        {"iat": str(NOW)},
        {"exp": None},
        {"iat": True, "exp": 60},
    ],
)
def test_times_must_be_integers(
    claim_values: dict[str, Any], alpha: AreaSecretKeys, alpha_pub: PublicAreaKey
) -> None:
    token = hand_token(good_header(alpha), good_claims(alpha, **claim_values), alpha)
    with pytest.raises(BadToken):
        verify(token, alpha_pub)


# --- binding to the request -----------------------------------------------------------------


@pytest.mark.parametrize(
    "request_change",
    [
        {"audience": "charlie"},
        {"audience": "Bravo"},
        {"method": "PUT"},
        {"method": "GET"},
        {"url": URL + "/other"},
        {"url": URL.replace("https", "http")},
        {"url": URL + "?x=1"},
        {"body": BODY + b" "},
        {"body": b""},
    ],
)
def test_wrong_request_binding(
    request_change: dict[str, Any], alpha: AreaSecretKeys, alpha_pub: PublicAreaKey
) -> None:
    token = issue(alpha)
    with pytest.raises(BadToken):
        verify(token, alpha_pub, **request_change)


@pytest.mark.parametrize(
    "claim_values",
    [
        {"iss": "mallory"},
        {"aud": [AUDIENCE]},
        {"htm": "post"},
        {"bsh": b64url_encode(hashlib.sha256(b"other").digest())},
        {"jti": "short"},
        {"jti": 12345678},
        {"jti": "x" * 129},
    ],
)
def test_bad_claim_values(
    claim_values: dict[str, Any], alpha: AreaSecretKeys, alpha_pub: PublicAreaKey
) -> None:
    token = hand_token(good_header(alpha), good_claims(alpha, **claim_values), alpha)
    with pytest.raises(BadToken):
        verify(token, alpha_pub)


@pytest.mark.parametrize("claim", REQUIRED)
def test_missing_claim(claim: str, alpha: AreaSecretKeys, alpha_pub: PublicAreaKey) -> None:
    claims = good_claims(alpha)
    del claims[claim]
    token = hand_token(good_header(alpha), claims, alpha)
    with pytest.raises(BadToken):
        verify(token, alpha_pub)


# --- signatures and keys --------------------------------------------------------------------


def test_signed_by_another_key(
    alpha: AreaSecretKeys, alpha_pub: PublicAreaKey, mallory: AreaSecretKeys
) -> None:
    # Claiming alpha's kid but signed with mallory's key: the signature fails.
    forged = hand_token(good_header(alpha), good_claims(alpha), mallory)
    with pytest.raises(BadSignature):
        verify(forged, alpha_pub)
    # Mallory's honest token names mallory's key, not the key chosen for alpha.
    with pytest.raises(BadToken):
        verify(issue(mallory), alpha_pub)


def test_rotated_key_of_same_area(alpha: AreaSecretKeys, alpha_pub: PublicAreaKey) -> None:
    rotated = AreaSecretKeys.generate("alpha")
    forged = hand_token(good_header(alpha), good_claims(alpha), rotated)
    with pytest.raises(BadSignature):
        verify(forged, alpha_pub)


def test_tampered_claims_or_signature(alpha: AreaSecretKeys, alpha_pub: PublicAreaKey) -> None:
    header, _claims, sig = issue(alpha).split(".")
    other_claims = b64url_encode(canonical_json(good_claims(alpha, jti="replayed-jti-0001")))
    with pytest.raises(BadSignature):
        verify(f"{header}.{other_claims}.{sig}", alpha_pub)
    signature = bytearray(b64url_decode(sig))
    signature[0] ^= 1
    with pytest.raises(BadSignature):
        verify(f"{header}.{_claims}.{b64url_encode(bytes(signature))}", alpha_pub)
    with pytest.raises(BadSignature):
        verify(f"{header}.{_claims}.", alpha_pub)


def test_alg_none(alpha: AreaSecretKeys, alpha_pub: PublicAreaKey) -> None:
    for alg in ("none", "None", "NONE"):
        header = {"alg": alg, "typ": "JWT", "kid": alpha.key_id}
        token = segments(header, good_claims(alpha)) + "."
        with pytest.raises(BadToken):
            verify(token, alpha_pub)


def test_alg_hs256_with_public_key_as_secret(
    alpha: AreaSecretKeys, alpha_pub: PublicAreaKey
) -> None:
    header = {"alg": "HS256", "typ": "JWT", "kid": alpha.key_id}
    signing_input = segments(header, good_claims(alpha)).encode("ascii")
    secrets = (alpha.signing_public, b64url_encode(alpha.signing_public).encode("ascii"))
    for secret in secrets:
        mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
        token = f"{signing_input.decode('ascii')}.{b64url_encode(mac)}"
        with pytest.raises(BadToken):
            verify(token, alpha_pub)


def test_alg_eddsa_is_not_accepted(alpha: AreaSecretKeys, alpha_pub: PublicAreaKey) -> None:
    """The same key and signature scheme under the deprecated name is still refused."""
    private = OKPKey.import_key(
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "d": b64url_encode(alpha.signing_seed),
            "x": b64url_encode(alpha.signing_public),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc warns that EdDSA is deprecated
        token = jwt.encode(
            {"alg": "EdDSA", "kid": alpha.key_id}, good_claims(alpha), private, algorithms=["EdDSA"]
        )
    with pytest.raises(BadToken):
        verify(token, alpha_pub)
    with pytest.raises(BadToken):
        token_key_id(token)


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit"])
def test_forbidden_header_members(
    member: str, alpha: AreaSecretKeys, alpha_pub: PublicAreaKey, mallory: AreaSecretKeys
) -> None:
    values: dict[str, Any] = {
        "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(mallory.signing_public)},
        "jku": "https://mallory.example/jwks.json",
        "x5u": "https://mallory.example/cert.pem",
        "x5c": ["MIIB"],
        "x5t": "AAAA",
        "x5t#S256": "AAAA",
        "crit": ["exp"],
    }
    header = good_header(alpha) | {member: values[member]}
    # Correctly signed by alpha: the header member alone is the reason for refusal.
    with pytest.raises(BadToken):
        verify(hand_token(header, good_claims(alpha), alpha), alpha_pub)
    # The attack itself: bring your own key and sign with it.
    with pytest.raises(BadToken):
        verify(hand_token(header, good_claims(alpha), mallory), alpha_pub)


@pytest.mark.parametrize("kid", ["someone-else", "", None, 7])
def test_kid_mismatch(kid: Any, alpha: AreaSecretKeys, alpha_pub: PublicAreaKey) -> None:
    header = good_header(alpha) | {"kid": kid}
    with pytest.raises(BadToken):
        verify(hand_token(header, good_claims(alpha), alpha), alpha_pub)


def test_kid_absent(alpha: AreaSecretKeys, alpha_pub: PublicAreaKey) -> None:
    header = {"alg": "Ed25519", "typ": "JWT"}
    token = hand_token(header, good_claims(alpha), alpha)
    with pytest.raises(BadToken):
        verify(token, alpha_pub)
    with pytest.raises(BadToken):
        token_key_id(token)


# --- token_key_id and shape -----------------------------------------------------------------


def _header_only(header: Any) -> str:
    return f"{b64url_encode(json.dumps(header).encode())}.e30.AAAA"


GARBAGE = {
    "empty": "",
    "one part": "garbage",
    "two parts": "a.b",
    "four parts": "a.b.c.d",
    "JWE compact": "a.b.c.d.e",
    "header not base64url": "!!!.e30.AAAA",
    "header padded": b64url_encode(b'{"alg":"Ed25519","kid":"k"}') + "=.e30.AAAA",
    "header not JSON": f"{b64url_encode(b'not json')}.e30.AAAA",
    "header not UTF-8": f"{b64url_encode(bytes([0xFF, 0xFE]))}.e30.AAAA",
    "header is a list": _header_only(["alg", "Ed25519"]),
    "header is a string": _header_only("Ed25519"),
    "no alg": _header_only({"kid": "k"}),
    "alg none": _header_only({"alg": "none", "kid": "k"}),
    "no kid": _header_only({"alg": "Ed25519"}),
    "empty kid": _header_only({"alg": "Ed25519", "kid": ""}),
    "kid not a string": _header_only({"alg": "Ed25519", "kid": ["k"]}),
    "jwk header": _header_only({"alg": "Ed25519", "kid": "k", "jwk": {}}),
    "too long": _header_only({"alg": "Ed25519", "kid": "k" * 9000}),
}


@pytest.mark.parametrize("name", list(GARBAGE))
def test_token_key_id_refuses_garbage(name: str, alpha_pub: PublicAreaKey) -> None:
    with pytest.raises(BadToken):
        token_key_id(GARBAGE[name])
    with pytest.raises(BadToken):
        verify(GARBAGE[name], alpha_pub)


@pytest.mark.parametrize("value", [None, b"a.b.c", 123])
def test_non_string_token(value: Any, alpha_pub: PublicAreaKey) -> None:
    with pytest.raises(BadToken):
        token_key_id(value)
    with pytest.raises(BadToken):
        verify(value, alpha_pub)


def test_token_key_id_reads_kid_without_verifying() -> None:
    assert token_key_id(_header_only({"alg": "Ed25519", "kid": "some-key-id"})) == "some-key-id"

"""Bearer-token attacks against the API: each is refused with 401 and a problem document.

Forged tokens are built the way an attacker would (alg none, HS256 keyed with the node's
PUBLIC key, a key carried in the header, another algorithm name); expired and
wrong-audience tokens are signed with the node's REAL token key, so only the claim check
can refuse them."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, OKPKey
from sqlalchemy import select
from support.site import A, Site, make_site

from adapters.db.models import TokenKey
from gateway.domain.identity.clients import TOKEN_KEY_CONTEXT
from keys import TokenSigningKey, b64url_encode, issue_access_token

LIST = "/api/v1/transfers"


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def segment(value: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(value).encode())


def node_key(site: Site) -> TokenSigningKey:
    with site.north.node.sessions() as session, session.begin():
        row = session.scalars(select(TokenKey)).one()
        seed = site.north.node.master.open(
            row.secret_sealed, TOKEN_KEY_CONTEXT.format(key_id=row.key_id)
        )
    return TokenSigningKey(seed)


def claims_of(token: str) -> dict[str, Any]:
    from keys import b64url_decode

    return dict(json.loads(b64url_decode(token.split(".")[1])))


@pytest.fixture
def real(site: Site) -> tuple[str, TokenSigningKey, dict[str, Any]]:
    token = site.token(*site.new_client(A, "transfers:read"))
    return token, node_key(site), claims_of(token)


def assert_refused(site: Site, token: str) -> None:
    answer = site.app.test_client().get(LIST, headers={"Authorization": "Bearer " + token})
    assert answer.status_code == 401, answer.text
    assert answer.mimetype == "application/problem+json"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_real_token_works(site: Site, real: Any) -> None:
    token, _, _ = real
    answer = site.app.test_client().get(LIST, headers={"Authorization": "Bearer " + token})
    assert answer.status_code == 200


def test_alg_none_is_refused(site: Site, real: Any) -> None:
    _token, key, claims = real
    header = {"alg": "none", "typ": "at+jwt", "kid": key.key_id}
    assert_refused(site, f"{segment(header)}.{segment(claims)}.")


def test_hs256_keyed_with_the_public_key_is_refused(site: Site, real: Any) -> None:
    _, key, claims = real
    secret = OctKey.import_key(key.public)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": key.key_id}
    assert_refused(site, jwt.encode(header, claims, secret, algorithms=["HS256"]))
    b64_secret = OctKey.import_key(b64url_encode(key.public).encode())
    assert_refused(site, jwt.encode(header, claims, b64_secret, algorithms=["HS256"]))


# joserfc warns that EdDSA is deprecated: here it is the attacker who signs with it.
@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
def test_another_algorithm_name_is_refused_even_with_the_real_key(site: Site, real: Any) -> None:
    _, key, claims = real
    private = OKPKey.import_key(
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "d": b64url_encode(key.seed),
            "x": b64url_encode(key.public),
        }
    )
    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": key.key_id}
    assert_refused(site, jwt.encode(header, claims, private, algorithms=["EdDSA"]))


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c"])
def test_a_token_that_brings_its_own_key_is_refused(site: Site, real: Any, member: str) -> None:
    _, key, claims = real
    attacker = TokenSigningKey.generate()
    private = OKPKey.import_key(
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "d": b64url_encode(attacker.seed),
            "x": b64url_encode(attacker.public),
        }
    )
    values = {
        "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(attacker.public)},
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "x5c": ["MIIB"],
    }
    for kid in (key.key_id, attacker.key_id):
        header = {"alg": "Ed25519", "typ": "at+jwt", "kid": kid, member: values[member]}
        assert_refused(site, jwt.encode(header, claims, private, algorithms=["Ed25519"]))


def forged(key: TokenSigningKey, claims: dict[str, Any], **changes: Any) -> str:
    fields = {
        "issuer": claims["iss"],
        "audience": claims["aud"],
        "client_id": claims["sub"],
        "area": claims["area"],
        "scopes": frozenset(claims["scope"].split()),
        "lifetime": 600,
        **changes,
    }
    return issue_access_token(key, **fields)


def test_an_expired_token_is_refused(site: Site, real: Any) -> None:
    _, key, claims = real
    fresh = forged(key, claims)
    site.app.test_client()
    ok = site.app.test_client().get(LIST, headers={"Authorization": "Bearer " + fresh})
    assert ok.status_code == 200  # the forging itself is sound: only expiry differs below
    assert_refused(site, forged(key, claims, now=int(time.time()) - 700))


def test_a_wrong_audience_or_issuer_is_refused(site: Site, real: Any) -> None:
    _, key, claims = real
    assert_refused(site, forged(key, claims, audience="https://other-node.example/api/v1"))
    assert_refused(site, forged(key, claims, audience=claims["iss"]))
    assert_refused(site, forged(key, claims, issuer="https://other-node.example"))


def test_a_tampered_or_foreign_signature_is_refused(site: Site, real: Any) -> None:
    token, _, claims = real
    head, _body, sig = token.split(".")
    assert_refused(site, f"{head}.{segment({**claims, 'area': 'eastmoor'})}.{sig}")
    other = TokenSigningKey.generate()
    assert_refused(site, forged(other, claims))


def test_a_disabled_client_loses_access_at_once(site: Site) -> None:
    client_id, secret = site.new_client(A, "transfers:read")
    token = site.token(client_id, secret)
    site.sql("UPDATE api_clients SET disabled = :d WHERE id = :i", d=True, i=client_id)
    assert_refused(site, token)


def test_not_bearer_or_garbage_is_refused(site: Site) -> None:
    for header in ("Basic Zm9vOmJhcg==", "Bearer", "Bearer a.b.c", "Bearer " + "x" * 9000):
        answer = site.app.test_client().get(LIST, headers={"Authorization": header})
        assert answer.status_code == 401


def test_token_endpoint_refuses_bad_credentials_and_scopes(site: Site) -> None:
    client_id, secret = site.new_client(A, "transfers:read")
    browser = site.app.test_client()
    grant = {"grant_type": "client_credentials"}
    assert (
        browser.post("/api/v1/oauth/token", data=grant, auth=(client_id, "wrong")).status_code
        == 401
    )
    assert (
        browser.post(
            "/api/v1/oauth/token", data=grant, auth=("gwc-" + "x" * 24, secret)
        ).status_code
        == 401
    )
    escalate = browser.post(
        "/api/v1/oauth/token", data={**grant, "scope": "transfers:write"}, auth=(client_id, secret)
    )
    assert escalate.status_code == 400 and escalate.json["error"] == "invalid_scope"
    unknown = browser.post(
        "/api/v1/oauth/token", data={**grant, "scope": "admin"}, auth=(client_id, secret)
    )
    assert unknown.status_code == 400
    posted = browser.post(
        "/api/v1/oauth/token", data={**grant, "client_id": client_id, "client_secret": secret}
    )
    assert posted.status_code == 200
    body = posted.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    assert body["scope"] == "transfers:read"
    claims = claims_of(body["access_token"])
    assert claims["sub"] == client_id and claims["area"] == A
    assert claims["aud"] == site.north.settings.base_url + "/api/v1"
    assert claims["exp"] - claims["iat"] == 600 and claims["jti"]
    assert posted.headers["Cache-Control"] == "no-store"


def test_a_token_only_reaches_what_its_scopes_allow(site: Site) -> None:
    headers = site.bearer(A, "transfers:read")
    browser = site.app.test_client()
    assert browser.get(LIST, headers=headers).status_code == 200
    refused = browser.post(LIST, json={}, headers=headers)
    assert refused.status_code == 403

"""Single sign-on against a real OpenID Connect provider on loopback (tests/oidc_provider.py):
a good login, and refusals (bad state, bad nonce, unknown user, wrong audience, a domain
not allowed, a role the provider withdrew) that each leave no signed-in session."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from support.oidc_provider import OidcProvider
from support.site import A, B, Site, make_site

from gateway.domain.clock import utcnow
from gateway.domain.identity import users

CLIENT_ID, CLIENT_SECRET = "marac-gateway", "provider-shared-secret-0123456789"


@pytest.fixture
def provider() -> Iterator[OidcProvider]:
    # Our node's base URL (the settings default in the tests) is where the provider sends
    # the browser back; the test client plays the browser on both sides.
    found = OidcProvider(CLIENT_ID, CLIENT_SECRET, f"http://127.0.0.1:5000/login/oidc/{A}/callback")
    yield found
    found.stop()


@pytest.fixture
def site(node_factory: Any, provider: OidcProvider, tmp_path: Path) -> Site:
    config = tmp_path / "oidc.json"
    config.write_text(
        json.dumps(
            {
                A: {
                    "issuer": provider.issuer,
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "allowed_domains": [f"{A}.example"],
                    "role_claim": "groups",
                    "role_mapping": {"marac-coordinators": "coordinator", "marac-chairs": "chair"},
                }
            }
        )
    )
    return make_site(node_factory, GATEWAY_OIDC_CONFIG=str(config))


def sign_in(site: Site, provider: OidcProvider, *, state: str | None = None) -> Any:
    """Browser: our start page -> the provider (real HTTP) -> back to our callback."""
    browser = site.app.test_client()
    start = browser.get(f"/login/oidc/{A}")
    assert start.status_code == 302, start.text
    assert start.headers["Location"].startswith(provider.issuer + "/authorize?")
    at_provider = httpx.get(start.headers["Location"], follow_redirects=False)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    params = dict(parse_qsl(back.query))
    assert "code" in params, params
    if state is not None:
        params["state"] = state
    answer = browser.get(back.path + "?" + urlencode(params))
    return browser, answer


def signed_in_sessions(site: Site) -> int:
    return int(site.north.scalar("SELECT count(*) FROM web_sessions WHERE stage = 'full'"))


def user(site: Site, email: str, roles: list[tuple[str, str]]) -> None:
    for area, role in roles:
        with site.north.node.sessions() as session:
            users.add_user_role(
                session,
                site.north.node.master,
                email=email,
                area=area,
                role=role,
                password="Correct horse battery 42",
                now=utcnow(),
            )


def test_good_login_gets_the_roles_both_sides_grant_in_that_area(
    site: Site, provider: OidcProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    email = f"Ann.Sso@{A}.example"
    user(site, email.lower(), [(A, "coordinator"), (A, "chair"), (B, "coordinator")])
    provider.user = {
        "sub": "idp-1",
        "email": email,
        "email_verified": True,
        "groups": ["marac-coordinators"],
    }
    browser, answer = sign_in(site, provider)
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    home = browser.get("/")
    assert home.status_code == 200
    # The home page lists the roles this session holds (its "Your roles").
    held = home.text.split('id="your-roles"', 1)[1].split("</ul>", 1)[0]
    assert "coordinator in northshire" in held
    assert "chair" not in held and B not in held  # withdrawn / other area
    assert browser.get("/api/v1/transfers").status_code == 200
    assert signed_in_sessions(site) == 1
    assert email.lower() not in caplog.text.lower()


def refused(site: Site, browser: Any, answer: Any) -> None:
    assert answer.status_code == 401, answer.text
    assert browser.get("/").status_code == 401
    assert browser.get("/api/v1/transfers").status_code == 401
    assert signed_in_sessions(site) == 0


def test_a_bad_state_is_refused(
    site: Site, provider: OidcProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.login")
    user(site, f"ann@{A}.example", [(A, "coordinator")])
    provider.user = {
        "sub": "idp-1",
        "email": f"ann@{A}.example",
        "email_verified": True,
        "groups": ["marac-coordinators"],
    }
    refused(site, *sign_in(site, provider, state="forged-state-value"))
    assert "kind=MismatchingStateError" in caplog.text


def test_a_bad_nonce_is_refused(
    site: Site, provider: OidcProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.login")
    user(site, f"ann@{A}.example", [(A, "coordinator")])
    provider.user = {
        "sub": "idp-1",
        "email": f"ann@{A}.example",
        "email_verified": True,
        "groups": ["marac-coordinators"],
    }
    provider.tamper = "nonce"
    refused(site, *sign_in(site, provider))
    assert "kind=InvalidClaimError" in caplog.text


@pytest.mark.parametrize("tamper", ["aud", "aud-azp"])
def test_a_wrong_audience_is_refused(
    site: Site, provider: OidcProvider, tamper: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.login")
    user(site, f"ann@{A}.example", [(A, "coordinator")])
    provider.user = {
        "sub": "idp-1",
        "email": f"ann@{A}.example",
        "email_verified": True,
        "groups": ["marac-coordinators"],
    }
    provider.tamper = tamper
    refused(site, *sign_in(site, provider))
    # Refused by the ID-token checks, not by anything later.
    assert "kind=InvalidClaimError" in caplog.text or "kind=MissingClaimError" in caplog.text


def test_an_unknown_user_is_refused(site: Site, provider: OidcProvider) -> None:
    user(site, f"ann@{A}.example", [(A, "coordinator")])
    provider.user = {
        "sub": "idp-2",
        "email": f"stranger@{A}.example",
        "email_verified": True,
        "groups": ["marac-coordinators"],
    }
    browser, answer = sign_in(site, provider)
    refused(site, browser, answer)
    assert "stranger" not in answer.text


@pytest.mark.parametrize(
    "claims",
    [
        {
            "email": "ann@elsewhere.example",
            "email_verified": True,
            "groups": ["marac-coordinators"],
        },
        {"email": f"ann@{A}.example", "email_verified": False, "groups": ["marac-coordinators"]},
        {"email": f"ann@{A}.example", "email_verified": True, "groups": ["marac-chairs"]},
        {"email": f"ann@{A}.example", "email_verified": True},
    ],
    ids=["domain-not-allowed", "email-not-verified", "role-not-held", "no-role-claim"],
)
def test_other_refusals(site: Site, provider: OidcProvider, claims: dict[str, Any]) -> None:
    user(site, f"ann@{A}.example", [(A, "coordinator")])
    user(site, "ann@other.example", [(A, "coordinator")])
    provider.user = {"sub": "idp-3", **claims}
    refused(site, *sign_in(site, provider))


def test_an_area_without_a_provider_has_no_sign_on(site: Site) -> None:
    assert site.app.test_client().get(f"/login/oidc/{B}").status_code == 404

"""Sessions, CSRF, lockout, rate limiting and the second factor, through the real pages
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from support.clock import pin_clock
from support.site import PASSWORD, PEER, A, Site, csrf_from, fresh_code, make_site

from gateway.devtools.samples import sample_transfer
from gateway.domain.clock import utcnow

COOKIE = "__Host-gw-session"


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def cookie(browser: Any) -> str | None:
    found = browser.get_cookie(COOKIE)
    return None if found is None else found.value


def test_cookie_is_host_prefixed_secure_httponly_lax(site: Site) -> None:
    answer = site.app.test_client().get("/login")
    header = answer.headers["Set-Cookie"]
    assert header.startswith(COOKIE + "=")
    for attribute in ("Secure", "HttpOnly", "Path=/", "SameSite=Lax"):
        assert attribute in header
    assert "Domain" not in header
    assert answer.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    assert "Strict-Transport-Security" in answer.headers


def test_session_id_rotates_at_each_login_step(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    browser = site.app.test_client()
    page = browser.get("/login")
    before = cookie(browser)
    browser.post(
        "/login",
        data={"email": person.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    after_password = cookie(browser)
    page = browser.get("/login/enrol")
    browser.post(
        "/login/enrol", data={"code": fresh_code(person.secret), "csrf_token": csrf_from(page.text)}
    )
    after_code = cookie(browser)
    assert len({before, after_password, after_code}) == 3
    assert browser.get("/").status_code == 200
    # The ids seen before login are dead: replaying them gets nowhere.
    for old in (before, after_password):
        replay = site.app.test_client()
        replay.set_cookie(COOKIE, old or "")
        assert replay.get("/").status_code == 401
    assert site.north.count("web_sessions") == 1


def test_a_planted_session_id_is_not_adopted(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    browser = site.app.test_client()
    browser.set_cookie(COOKIE, "planted-by-an-attacker-0123456789abcdef")
    site.login(person, browser)
    assert cookie(browser) != "planted-by-an-attacker-0123456789abcdef"


def test_logout_ends_the_session_and_a_replayed_cookie_gets_401(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    browser = site.login(person)
    stolen = cookie(browser)
    assert browser.get("/api/v1/transfers").status_code == 200
    site.logout(browser)
    assert site.north.count("web_sessions") == 0
    replay = site.app.test_client()
    replay.set_cookie(COOKIE, stolen or "")
    # The same 401 to each audience: a problem document for the API, a page for people.
    for path, kind in (("/api/v1/transfers", "application/problem+json"), ("/", "text/html")):
        answer = replay.get(path)
        assert answer.status_code == 401
        assert answer.mimetype == kind


def test_idle_timeout_ends_a_session(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    browser = site.login(person)
    assert browser.get("/").status_code == 200
    site.sql(
        "UPDATE web_sessions SET last_seen_at = :t WHERE user_id = :u",
        t=utcnow() - timedelta(minutes=31),
        u=person.user_id,
    )
    assert browser.get("/").status_code == 401
    assert site.north.count("web_sessions") == 0


def test_activity_keeps_a_session_alive_within_the_idle_timeout(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    browser = site.login(person)
    site.sql(
        "UPDATE web_sessions SET last_seen_at = :t WHERE user_id = :u",
        t=utcnow() - timedelta(minutes=29),
        u=person.user_id,
    )
    assert browser.get("/").status_code == 200  # touched: a fresh idle period starts
    site.sql(
        "UPDATE web_sessions SET created_at = :c WHERE user_id = :u",
        c=utcnow() - timedelta(hours=1),
        u=person.user_id,
    )
    assert browser.get("/").status_code == 200


def test_absolute_timeout_ends_even_an_active_session(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    browser = site.login(person)
    site.sql(
        "UPDATE web_sessions SET expires_at = :t, last_seen_at = :now WHERE user_id = :u",
        t=utcnow() - timedelta(seconds=1),
        now=utcnow(),
        u=person.user_id,
    )
    assert browser.get("/").status_code == 401


def test_absolute_timeout_is_twelve_hours_from_login(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    site.login(person)
    with site.north.node.engine.connect() as connection:
        from sqlalchemy import text

        created, expires = connection.execute(
            text("SELECT created_at, expires_at FROM web_sessions WHERE user_id = :u"),
            {"u": person.user_id},
        ).one()
    if isinstance(created, str):  # SQLite returns text through a raw connection
        from datetime import datetime

        created, expires = datetime.fromisoformat(created), datetime.fromisoformat(expires)
    assert expires - created == timedelta(hours=12)


def test_state_changes_need_the_sessions_csrf_token(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    browser = site.login(person)
    token = site.csrf(browser)
    body = json.dumps(sample_transfer(A, PEER))
    post = lambda **headers: browser.post(  # noqa: E731
        "/api/v1/transfers", data=body, content_type="application/json", headers=headers
    )
    assert post().status_code == 403
    assert post(**{"X-CSRF-Token": "x" * 43}).status_code == 403
    assert post(**{"X-CSRF-Token": token + "x"}).status_code == 403
    assert site.north.count("transfers") == 0
    assert post(**{"X-CSRF-Token": token}).status_code == 201
    # Logout is a state change too: without the token the session survives.
    assert browser.post("/logout").status_code == 403
    assert browser.get("/").status_code == 200
    # Another user's token does not fit this session.
    other = site.login(site.add_user("coord2", A, "coordinator"))
    assert post(**{"X-CSRF-Token": site.csrf(other)}).status_code == 403


def test_login_form_needs_a_csrf_token(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    browser = site.app.test_client()
    browser.get("/login")
    refused = browser.post("/login", data={"email": person.email, "password": PASSWORD})
    assert refused.status_code == 403
    assert site.north.count("web_sessions") == 1  # only the anonymous one


def test_bearer_calls_need_no_csrf_token(site: Site) -> None:
    answer = site.app.test_client().post(
        "/api/v1/transfers",
        data=json.dumps(sample_transfer(A, PEER)),
        content_type="application/json",
        headers=site.bearer(A, "transfers:write"),
    )
    assert answer.status_code == 201


def wrong_password(site: Site, email: str, browser: Any = None) -> Any:
    browser = browser or site.app.test_client()
    page = browser.get("/login")
    return browser.post(
        "/login",
        data={"email": email, "password": "not the password", "csrf_token": csrf_from(page.text)},
    )


def test_account_locks_after_five_failures_then_unlocks(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    for _ in range(5):
        assert wrong_password(site, person.email).status_code == 401
    browser = site.app.test_client()
    page = browser.get("/login")
    locked = browser.post(
        "/login",
        data={"email": person.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert locked.status_code == 401  # the right password, but locked
    site.sql(
        "UPDATE users SET locked_until = :t WHERE id = :u",
        t=utcnow() - timedelta(seconds=1),
        u=person.user_id,
    )
    site.login(person)


def test_failed_logins_are_rate_limited_per_source(
    node_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = make_site(node_factory, GATEWAY_LOGIN_RATE_LIMIT="3/hour")
    pin_clock(monkeypatch)  # every attempt in one hour's window
    person = site.add_user("coord", A, "coordinator")
    for n in range(3):
        assert wrong_password(site, f"nobody{n}@{A}.example").status_code == 401
    limited = wrong_password(site, "someone.else@example.org")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    # The limiter is in the database, so it holds for every process; even the right
    # password from this source waits.
    browser = site.app.test_client()
    page = browser.get("/login")
    again = browser.post(
        "/login",
        data={"email": person.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert again.status_code == 429


def test_a_totp_code_cannot_be_used_twice(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    browser = site.login(person)
    site.logout(browser)
    code = fresh_code(person.secret)
    first = site.submit_code(site.password_step(person), code)
    assert first.status_code == 303
    replay = site.submit_code(site.password_step(person), code)
    assert replay.status_code == 401
    assert "wrong" in replay.text


def test_a_wrong_code_is_refused(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    site.login(person)
    browser = site.password_step(person)
    assert site.submit_code(browser, "000000").status_code in (401,)
    assert browser.get("/").status_code == 401


def test_a_recovery_code_works_once(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    site.login(person)  # enrol first
    first, second = person.recovery[0], person.recovery[1]
    browser = site.password_step(person)
    assert site.submit_code(browser, first.upper()).status_code == 303
    assert browser.get("/").status_code == 200
    assert site.submit_code(site.password_step(person), first).status_code == 401
    assert site.submit_code(site.password_step(person), second).status_code == 303


def test_recovery_codes_cannot_enrol(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    browser = site.app.test_client()
    page = browser.get("/login")
    browser.post(
        "/login",
        data={"email": person.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    page = browser.get("/login/enrol")
    assert "<svg" in page.text and person.secret in page.text
    refused = browser.post(
        "/login/enrol", data={"code": person.recovery[0], "csrf_token": csrf_from(page.text)}
    )
    assert refused.status_code == 401
    assert browser.get("/").status_code == 401

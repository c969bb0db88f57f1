"""The pages' layout through the real pages (the browser tests drive the same pages in
chromium): nothing inline for the CSP, the area switcher accepts only the person's own
areas, the keep-alive restarts the idle clock, and the error helpers."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from support.site import PASSWORD, A, B, Site, csrf_from, make_site

from gateway.domain.clock import utcnow
from gateway.domain.identity import users
from gateway.web.ui.layout import error_list, field_error, field_id


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def assert_nothing_inline(html: str) -> None:
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts, "no script at all"
    assert all(re.search(r'\bsrc="/static/', tag) for tag in scripts), scripts
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html)


def test_pages_have_nothing_inline_and_name_the_service(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    browser = site.app.test_client()
    login = browser.get("/login")
    policy = login.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe" not in policy
    pages = [login.text]
    browser = site.login(person)
    pages += [browser.get("/").text, browser.get("/area").text]
    for html in pages:
        assert_nothing_inline(html)
        assert re.search(r"<title>[^<]+ \N{EN DASH} MARAC Exchange</title>", html)
        assert "GDS Transport" not in html and "govuk-logo" not in html
    assert "Northshire MARAC" in pages[1]


def test_area_switcher_accepts_only_the_persons_own_areas(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    browser = site.login(person)
    csrf = site.csrf(browser)
    refused = browser.post("/area", data={"area": B, "csrf_token": csrf})
    assert refused.status_code == 400
    assert "<title>Error: Choose the area" in refused.text
    assert 'href="#area"' in refused.text  # the summary links to the first radio
    assert "Change area" not in browser.get("/").text  # one area: no switcher
    # Given a second area, the person can switch to it and the header follows.
    with site.north.node.sessions() as db:
        users.add_user_role(
            db, site.north.node.master, email=person.email, area=B, role="chair",
            password=PASSWORD, now=utcnow(),
        )  # fmt: skip
    home = browser.get("/").text
    assert "Change area" in home and "Eastmoor MARAC" in home
    chosen = browser.post("/area", data={"area": A, "csrf_token": csrf})
    assert chosen.status_code == 303 and chosen.headers["Location"] == "/"
    assert "Northshire MARAC" in browser.get("/").text
    assert browser.post("/area", data={"area": B}).status_code == 403  # no CSRF token


def seconds_left(html: str) -> int:
    found = re.search(r'data-seconds-left="(\d+)"', html)
    assert found, "the page does not say when the session ends"
    return int(found[1])


def test_keep_alive_restarts_the_idle_clock(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    browser = site.login(person)
    site.sql(
        "UPDATE web_sessions SET last_seen_at = :t WHERE user_id = :u",
        t=utcnow() - timedelta(minutes=20),
        u=person.user_id,
    )
    page = browser.get("/").text  # touched: a fresh idle period starts
    assert 1700 < seconds_left(page) <= 1800
    site.sql(
        "UPDATE web_sessions SET last_seen_at = :t WHERE user_id = :u",
        t=utcnow() - timedelta(seconds=50),  # within a minute: a page view does not touch
        u=person.user_id,
    )
    assert 1700 < seconds_left(browser.get("/").text) <= 1750
    token = csrf_from(page)
    answer = browser.post("/session/keep-alive", headers={"X-CSRF-Token": token})
    assert answer.status_code == 200
    assert answer.json["seconds_left"] >= 1799
    assert re.fullmatch(r"\d{1,2}:\d\d[ap]m", answer.json["ends_at"])
    assert browser.post("/session/keep-alive").status_code == 403  # no CSRF token
    site.logout(browser)
    assert browser.post("/session/keep-alive", headers={"X-CSRF-Token": token}).status_code == 401


def test_error_helpers_map_field_paths_to_ids_and_messages() -> None:
    errors = {"": "Try again later", "victim.name": "Enter a name", "dob": "Enter a date"}
    assert field_id("perpetrators.0.name") == "perpetrators-0-name"
    assert field_error(errors, "victim.name") == {"text": "Enter a name"}
    assert field_error(errors, "victim.address") is None and field_error(None, "x") is None
    assert error_list(errors, anchors={"dob": "dob-day"}) == [
        {"text": "Try again later"},
        {"text": "Enter a name", "href": "#victim-name"},
        {"text": "Enter a date", "href": "#dob-day"},
    ]

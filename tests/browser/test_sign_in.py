"""Signing in, enrolling, a refused sign-in, the area switcher and signing out, in
chromium with JavaScript on and off, and by keyboard alone; axe-core checks every page."""

from __future__ import annotations

import re
from typing import Any

from support.browser import SUFFIX, Visitor, code_for, sign_in
from support.site import PASSWORD, A, B, Site

from gateway.domain.clock import utcnow
from gateway.domain.identity import users

TITLE = SUFFIX


def two_area_person(site: Site) -> Any:
    person = site.add_user("both", A, "coordinator")
    with site.north.node.sessions() as db:
        users.add_user_role(
            db,
            site.north.node.master,
            email=person.email,
            area=B,
            role="chair",
            password=PASSWORD,
            now=utcnow(),
        )
    return person


def header(visitor: Visitor) -> str:
    return str(visitor.page.locator("header").inner_text())


def sign_out(visitor: Visitor) -> None:
    visitor.page.locator("header").get_by_role("button", name="Sign out").click()
    visitor.check()
    assert visitor.title() == "Sign in" + TITLE
    # Signed out for real: the home page needs a session again.
    assert visitor.page.goto(visitor.url("/")).status == 401


def test_first_sign_in_enrols_then_signs_out(
    site: Site, browser_page: Any, java_script: bool, canaries: list[str]
) -> None:
    person = site.add_user("coord", A, "coordinator")
    canaries += [person.email, PASSWORD, person.secret]
    visitor = browser_page(java_script=java_script)
    sign_in(visitor, person)
    assert "Northshire MARAC" in header(visitor)
    assert "Change area" not in header(visitor)  # one area: nothing to switch
    assert "signed out at" in visitor.page.locator("#session-end").inner_text()
    sign_out(visitor)


def test_sign_in_with_password_and_code(
    site: Site, browser_page: Any, java_script: bool, canaries: list[str]
) -> None:
    person = site.add_user("coord", A, "coordinator")
    site.login(person)  # enrolled through the pages already
    canaries += [person.email, PASSWORD]
    visitor = browser_page(java_script=java_script)
    sign_in(visitor, person)
    assert visitor.heading() == "Your work"
    sign_out(visitor)


def test_refused_sign_in_shows_the_error_summary(
    site: Site, browser_page: Any, java_script: bool, canaries: list[str]
) -> None:
    person = site.add_user("coord", A, "coordinator")
    wrong = "not the password 93"
    canaries += [person.email, wrong]
    visitor = browser_page(java_script=java_script)
    visitor.visit("/login")
    page = visitor.page
    page.get_by_label("Email address").fill(person.email)
    page.get_by_label("Password", exact=True).fill(wrong)
    page.get_by_role("button", name="Continue").click()
    visitor.check()  # axe-clean in its error state
    assert visitor.title() == "Error: Sign in" + TITLE
    summary = page.locator(".govuk-error-summary")
    assert "There is a problem" in summary.inner_text()
    assert "wrong" in summary.inner_text()
    # Nothing typed comes back: not in the fields, not anywhere in the page.
    html = page.content()
    assert person.email not in html and wrong not in html
    assert page.get_by_label("Email address").input_value() == ""
    # The summary's link goes to the field it is about.
    summary.get_by_role("link").first.click()
    if java_script:  # GOV.UK Frontend moves the focus to the field itself
        assert page.evaluate("document.activeElement.id") == "email"
    else:
        assert page.url.endswith("#email")
    # And the person can still sign in.
    sign_in(visitor, person)


def test_area_switcher(
    site: Site, browser_page: Any, java_script: bool, canaries: list[str]
) -> None:
    person = two_area_person(site)
    canaries += [person.email]
    visitor = browser_page(java_script=java_script)
    sign_in(visitor, person)
    assert "Eastmoor MARAC" in header(visitor)  # the first of the areas, by code
    visitor.page.get_by_role("link", name="Change area").click()
    visitor.check()
    assert visitor.title() == "Choose the area you are working in" + TITLE
    visitor.page.get_by_label("Northshire MARAC").check()
    visitor.page.get_by_role("button", name="Continue").click()
    visitor.check()
    assert visitor.title() == "Your work" + TITLE
    assert "Northshire MARAC" in header(visitor)
    # The choice is kept in the session: it holds on the next page.
    visitor.visit("/area")
    assert visitor.page.get_by_label("Northshire MARAC").is_checked()
    sign_out(visitor)


def tab_to(visitor: Visitor, selector: str, limit: int = 40) -> None:
    """Press Tab until `selector` has the focus."""
    page = visitor.page
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def enter(visitor: Visitor) -> None:
    """Press Enter on what has the focus, wait for the page it leads to, check it."""
    with visitor.page.expect_navigation():
        visitor.page.keyboard.press("Enter")
    visitor.check()


def test_keyboard_only(site: Site, browser_page: Any, canaries: list[str]) -> None:
    person = two_area_person(site)
    canaries += [person.email]
    visitor = browser_page()
    visitor.visit("/login")
    page = visitor.page
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"
    page.keyboard.press("Enter")  # the skip link: the next Tab is inside the main content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "email"
    page.keyboard.type(person.email)
    tab_to(visitor, "#password")
    page.keyboard.type(PASSWORD)
    enter(visitor)
    tab_to(visitor, "#code")
    page.keyboard.type(code_for(person))
    enter(visitor)
    assert visitor.title() == "Your work" + TITLE
    person.enrolled = True
    tab_to(visitor, "a[href='/area']")
    enter(visitor)
    tab_to(visitor, "input[name='area']:checked")
    page.keyboard.press("ArrowDown")  # radios move with the arrow keys
    tab_to(visitor, "main button[type='submit']")
    enter(visitor)
    assert "Northshire MARAC" in header(visitor)
    tab_to(visitor, "header button")
    assert re.fullmatch(r"\s*Sign out\s*", page.evaluate("document.activeElement.textContent"))
    enter(visitor)
    assert visitor.title() == "Sign in" + TITLE


def test_idle_timeout_warns_and_stay_signed_in_extends(
    site: Site, browser_page: Any, canaries: list[str]
) -> None:
    """WCAG 2.2.1: before the idle timeout the page warns in a modal dialog; "Stay signed
    in" asks the node to restart the idle clock. The browser's clock is driven forward."""
    person = site.add_user("coord", A, "coordinator")
    canaries += [person.email]
    visitor = browser_page()
    page = visitor.page
    page.clock.install()
    sign_in(visitor, person)
    dialog = page.locator("#idle-warning")
    assert not dialog.is_visible()
    left = int(page.locator("#session-end").get_attribute("data-seconds-left") or "0")
    assert 1700 < left <= 1800  # the default idle timeout: 30 minutes
    page.clock.fast_forward((left - 100) * 1000)
    dialog.wait_for(state="visible")
    assert page.get_by_role("dialog", name="You will be signed out soon").is_visible()
    visitor.check()  # axe-clean with the dialog open
    with page.expect_response("**/session/keep-alive") as answer:
        page.get_by_role("button", name="Stay signed in").click()
    assert answer.value.status == 200
    assert answer.value.json()["seconds_left"] > 1700
    dialog.wait_for(state="hidden")
    # Warned again only when the new time nears its end.
    page.clock.fast_forward(1000 * 1000)
    assert not dialog.is_visible()
    page.clock.fast_forward(700 * 1000)
    dialog.wait_for(state="visible")

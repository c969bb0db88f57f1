"""Shared flags in chromium, every page and error state checked by axe-core: a flag set
through the pages on the peer node (JavaScript off, "add another person" included) is a
strong match for a coordinator on the shared node, which plays the linkage authority and
the flag index for both; a possible match is sent to its holder to check, the holder
reads the request and answers it, and the asker reads the answer. No name or case
reference in any URL, page title or log line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from support.browser import SUFFIX, Visitor, sign_in
from support.site import PEER, A, B, Site, make_site

from gateway.domain.clock import utcnow
from gateway.domain.flags import lifecycle
from gateway.domain.identity.principals import Principal

GIVEN, FAMILY, OTHER_FAMILY = "Zenobiacanary", "Quillcanary", "Harrowcanary"
CASE_REF, HOLDER_REF = "SV-CANARY-901", "EM-CANARY-902"
BORN = date(1987, 3, 14)


@pytest.fixture
def site(node_factory: Callable[..., Any]) -> Site:
    return make_site(node_factory, flag_roles_on_north=True)


@pytest.fixture
def quiet_logs(caplog: pytest.LogCaptureFixture, canaries: list[str]) -> Iterator[None]:
    """Every log line of both nodes (in this process): no canary in any of them."""
    caplog.set_level(logging.DEBUG)
    yield
    for canary in canaries:
        assert canary.lower() not in caplog.text.lower(), f"{canary!r} in the logs"


def fill_date(page: Any, prefix: str, day: date) -> None:
    page.fill(f"#{prefix}-day", str(day.day))
    page.fill(f"#{prefix}-month", str(day.month))
    page.fill(f"#{prefix}-year", str(day.year))


def fill_person(page: Any, prefix: str, given: str, family: str, born: date) -> None:
    at = f"{prefix}-" if prefix else ""
    page.fill(f"#{at}given_names", given)
    page.fill(f"#{at}family_name", family)
    fill_date(page, f"{at}date_of_birth", born)


def test_a_flag_set_on_one_node_is_a_strong_match_from_the_other(
    site: Site, browser_page: Any, canaries: list[str], quiet_logs: None
) -> None:
    canaries += [GIVEN, FAMILY, CASE_REF, BORN.isoformat()]
    setter: Visitor = browser_page(java_script=False, base_url=site.south.url)
    sign_in(setter, site.add_user("sv-coord", PEER, "coordinator", on=site.south))
    page = setter.page
    page.get_by_role("link", name="Shared flags").first.click()
    setter.check()
    page.get_by_role("button", name="Set a flag").click()
    setter.check()
    assert setter.title() == "Set a flag" + SUFFIX

    # Sent with nothing filled in: the error summary, then "add another person".
    page.get_by_role("button", name="Set the flag").click()
    setter.check()
    assert setter.title() == "Error: Set a flag" + SUFFIX
    page.fill("#case_ref", CASE_REF)
    fill_date(page, "reviewed_at", utcnow().date() - timedelta(days=7))
    page.check("#source")
    page.check("#subjects-0-role")
    fill_person(page, "subjects-0", GIVEN, FAMILY, BORN)
    page.get_by_role("button", name="Add another person").click()
    setter.check()
    assert page.locator("#person-2").count() == 1
    page.check("#subjects-1-role-2")  # a child
    fill_person(page, "subjects-1", "Tinycanary", FAMILY, date(2019, 5, 1))
    page.get_by_role("button", name="Set the flag").click()
    setter.check()
    assert setter.title() == "Flag set" + SUFFIX
    expiry = page.locator("#new-expiry").inner_text()
    setter.visit("/flags")
    assert CASE_REF in page.locator("tbody").inner_text()
    assert "victim, child" in page.locator("tbody").inner_text()
    setter.visit("/flags?show=lapsed")  # the filter's error state
    assert setter.title() == "Error: Shared flags" + SUFFIX
    setter.visit("/flags/print")
    assert CASE_REF in page.locator("tbody").inner_text()

    # A review: refused without an outcome, then kept from today.
    setter.visit("/flags")
    page.get_by_role("link", name="Review").first.click()
    setter.check()
    page.get_by_role("button", name="Record the review").click()
    setter.check()
    assert setter.title() == "Error: Review the flag" + SUFFIX
    fill_date(page, "reviewed_at", utcnow().date())
    page.check("#outcome")
    page.get_by_role("button", name="Record the review").click()
    setter.check()
    assert setter.title() == "Flag reviewed" + SUFFIX
    expiry = page.locator("#new-expiry").inner_text()

    finder: Visitor = browser_page()
    sign_in(finder, site.add_user("ns-coord", A, "coordinator"))
    finder.visit("/flags/lookup")
    fill_person(finder.page, "", GIVEN, FAMILY, BORN)
    finder.page.get_by_role("button", name="Look them up").click()
    finder.check()
    assert finder.title() == "What the lookup found" + SUFFIX
    found = finder.page.locator("#main-content").inner_text()
    assert "Flagged by another MARAC" in found and "South-Vale MARAC" in found
    assert expiry in found and CASE_REF not in found
    assert finder.page.url.endswith("/flags/lookup")  # the answer is the POST's own page


def test_a_possible_match_is_sent_to_its_holder_to_check(
    site: Site, browser_page: Any, canaries: list[str], quiet_logs: None
) -> None:
    canaries += [GIVEN, FAMILY, OTHER_FAMILY, HOLDER_REF, "Nobodycanary"]
    holder = site.add_user("em-coord", B, "coordinator")
    with site.north.node.sessions() as session:
        lifecycle.set_flag(
            session,
            site.north.node.flag_roles,
            Principal.operator(),
            B,
            {
                "case_ref": HOLDER_REF,
                "reviewed_at": (utcnow().date() - timedelta(days=3)).isoformat(),
                "source": "local",
                "subjects": [
                    {
                        "role": "victim",
                        "given_names": GIVEN,
                        "family_name": FAMILY,
                        "date_of_birth": BORN.isoformat(),
                    }
                ],
            },
            utcnow(),
        )

    asker: Visitor = browser_page()
    sign_in(asker, site.add_user("ns-coord", A, "coordinator"))
    asker.visit("/flags/lookup")
    page = asker.page
    page.get_by_role("button", name="Look them up").click()
    asker.check()
    assert asker.title() == "Error: Look a person up" + SUFFIX
    fill_person(page, "", GIVEN, OTHER_FAMILY, BORN)
    page.get_by_role("button", name="Look them up").click()
    asker.check()
    found = page.locator("#main-content").inner_text()
    assert "Possibly flagged in another area" in found and "Eastmoor" not in found
    page.fill("#note-1", "Moved here in the spring")
    page.get_by_role("button", name="Ask them to check").click()
    asker.check()
    assert asker.title() == "Request sent" + SUFFIX

    asker.visit("/flags/verifications")  # none about this area's flags
    asker.visit("/flags/lookup")
    fill_person(page, "", "Nobodycanary", OTHER_FAMILY, BORN)
    page.fill("#date_of_birth-year", "")
    page.fill("#date_of_birth-month", "")
    page.fill("#date_of_birth-day", "")
    page.get_by_role("button", name="Look them up").click()
    asker.check()
    assert "nothing was checked" in page.locator("#main-content").inner_text()

    admin: Visitor = browser_page()
    sign_in(admin, site.add_user("ns-admin", A, "admin"))
    admin.page.get_by_role("link", name="choose what the area").click()
    admin.check()
    admin.page.check("#perpetrators")
    admin.page.get_by_role("button", name="Save the policy").click()
    admin.check()
    assert admin.title() == "Sharing policy saved" + SUFFIX

    reader: Visitor = browser_page()
    sign_in(reader, holder)
    reader.visit("/flags")
    reader.page.get_by_role("link", name="Verification requests").click()
    reader.check()
    request = reader.page.locator("#request-1").inner_text()
    assert OTHER_FAMILY in request and HOLDER_REF in request and "Northshire" in request

    # The holder answers: one question (its error first), then the confirmation.
    reader.page.locator("#request-1").get_by_role("link", name="Answer").click()
    reader.check()
    assert reader.title() == "Is this your case?" + SUFFIX
    reader.page.get_by_role("button", name="Send the answer").click()
    reader.check()
    assert reader.title() == "Error: Is this your case?" + SUFFIX
    reader.page.get_by_label("This is our case").check()
    reader.page.get_by_role("button", name="Send the answer").click()
    reader.check()
    assert reader.title() == "Answer sent" + SUFFIX

    # The asker reads it: which MARAC to contact, and how.
    asker.visit("/flags/verifications")
    asker.page.get_by_role("link", name="Requests you sent").click()
    asker.check()
    assert asker.title() == "Requests you sent" + SUFFIX
    told = asker.page.locator("#sent-1").inner_text()
    assert "Their case" in told and "Contact Eastmoor MARAC" in told

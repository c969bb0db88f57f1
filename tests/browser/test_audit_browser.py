"""The auditor's pages in chromium, every page and error state checked by axe-core: the
disclosure log with a filter and a download, the report with its SVG charts, the log and
a peer verified, and a subject access search that finds a perpetrator, then its decision
recorded; the public accessibility and cookies pages. No name, reference or case
reference in any URL or title.

With GATEWAY_SCREENSHOT_DIR set, the report page is saved there as audit-report.png (how
docs/images/audit-report.png was made)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from support.browser import SUFFIX, Visitor, sign_in
from support.pages_world import CASE_REF, VICTIM, delivered, inbound, payload, send_as
from support.site import A, Site

from gateway.domain.identity.principals import Principal

PERPETRATOR = {
    "given_names": "Quentin",
    "family_name": "Perpcanary",
    "aliases": [],
    "date_of_birth": "1980-02-03",
    "address": "2 Imaginary Lane",
    "relationship_to_victim": "ex-partner",
}
REFERENCE = "SAR-2026-0417"


def world(site: Site) -> None:
    made = payload(A, "south-vale")
    made["perpetrators"] = [PERPETRATOR]
    send_as(site, Principal.operator(), made)
    assert site.north.deliver() >= 1
    delivered(site)
    inbound(site)


def test_an_auditors_journey(site: Site, browser_page: Any, canaries: list[str]) -> None:
    canaries += [VICTIM, CASE_REF, "Perpcanary", "Quentin", "1980", REFERENCE]
    world(site)
    visitor: Visitor = browser_page(java_script=True)
    sign_in(visitor, site.add_user("aud", A, "auditor"))
    page = visitor.page
    page.get_by_role("link", name="Audit", exact=True).click()
    visitor.check()
    assert visitor.title() == "Disclosure log" + SUFFIX
    page.get_by_label("Action").select_option("transfer.sent")
    page.get_by_role("button", name="Show events").click()
    visitor.check()
    assert page.locator("tbody tr").count() == 2
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the log").click()
    assert download.value.suggested_filename.endswith(".csv")
    visitor.visit("/audit?period=decade")
    assert visitor.title() == "Error: Disclosure log" + SUFFIX

    page.get_by_role("link", name="Reports").click()
    visitor.check()
    assert visitor.title() == "Disclosure reports" + SUFFIX
    chart = page.get_by_role("img", name="Disclosures sent, by peer area")
    assert chart.count() == 1 and "South-Vale MARAC" in (chart.text_content() or "")
    shots = os.environ.get("GATEWAY_SCREENSHOT_DIR")
    if shots:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=str(Path(shots) / "audit-report.png"), full_page=True)
    visitor.visit("/audit/reports?period=forever")
    assert visitor.title() == "Error: Disclosure reports" + SUFFIX

    page.get_by_role("link", name="Check the log").click()
    visitor.check()
    assert "The log is intact" in page.locator("main").inner_text()
    page.get_by_role("button", name="Check South-Vale MARAC").click()
    visitor.check()
    assert "South-Vale MARAC kept to its log" in page.locator("main").inner_text()

    page.get_by_role("link", name="Subject access").click()
    visitor.check()
    page.get_by_role("button", name="Search").click()
    visitor.check()
    assert visitor.title() == "Error: Search for disclosures about a person" + SUFFIX
    page.get_by_label("Given names").fill("Quentin")
    page.get_by_label("Family name").fill("Perpcanary")
    page.get_by_label("Day").fill("3")
    page.get_by_label("Month").fill("2")
    page.get_by_label("Year").fill("1980")
    page.get_by_label("The request's reference").fill(REFERENCE)
    page.get_by_role("button", name="Search").click()
    visitor.check()
    assert visitor.title() == "Disclosures about the person" + SUFFIX
    main = page.locator("main").inner_text()
    assert "must not be disclosed to a perpetrator" in main and "Perpetrator" in main
    page.get_by_role("button", name="Record the decision").click()
    visitor.check()
    assert visitor.title() == "Error: What was decided about the request?" + SUFFIX
    page.get_by_label("Withheld").check()
    page.get_by_role("button", name="Record the decision").click()
    visitor.check()
    assert visitor.title() == "Decision recorded" + SUFFIX


def test_the_public_pages(site: Site, browser_page: Any, canaries: list[str]) -> None:
    visitor = browser_page(java_script=False)
    visitor.visit("/login")
    visitor.page.get_by_role("link", name="Accessibility statement").click()
    visitor.check()
    assert visitor.title() == "Accessibility statement" + SUFFIX
    visitor.page.get_by_role("link", name="Cookies").click()
    visitor.check()
    assert "__Host-gw-session" in visitor.page.locator("main").inner_text()


def test_the_report_and_subject_access_without_javascript(
    site: Site, browser_page: Any, canaries: list[str]
) -> None:
    canaries += ["Perpcanary"]
    delivered(site)
    visitor = browser_page(java_script=False)
    sign_in(visitor, site.add_user("aud", A, "auditor"))
    visitor.visit("/audit/reports")
    assert visitor.page.get_by_role("img", name="Disclosures sent, by peer area").count() == 1
    visitor.visit("/audit/subject-access")
    visitor.page.get_by_label("Given names").fill("Quentin")
    visitor.page.get_by_label("Family name").fill("Perpcanary")
    visitor.page.get_by_role("button", name="Search").click()
    visitor.check()
    assert visitor.title() == "Error: Search for disclosures about a person" + SUFFIX
    assert "Enter date of birth" in visitor.page.locator(".govuk-error-summary").inner_text()

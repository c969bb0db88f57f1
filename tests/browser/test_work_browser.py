"""The coordinator's work pages in chromium, JavaScript on and off, every page (error
states included) checked by axe-core: "Your work", the transfers table with its filters,
the chair approval journey, and a withdrawal. No victim name, case reference or signer's
name in any URL or title."""

from __future__ import annotations

from typing import Any

from support.browser import SUFFIX, Visitor, sign_in
from support.pages_world import (
    CASE_REF,
    SIGNER,
    VICTIM,
    delivered,
    grant,
    held,
    inbound,
    make_overdue,
    user_principal,
)
from support.site import A, Site

CANARIES = [VICTIM, CASE_REF, SIGNER["name"]]


def test_your_work_and_the_transfers_table(
    site: Site, browser_page: Any, java_script: bool, canaries: list[str]
) -> None:
    canaries += CANARIES
    old_id, _ = inbound(site)
    make_overdue(site, old_id)
    new_id, _ = inbound(site)
    sent_id, _ = delivered(site)
    visitor: Visitor = browser_page(java_script=java_script)
    sign_in(visitor, site.add_user("coord", A, "coordinator"))
    page = visitor.page
    assert visitor.heading() == "Your work"
    assert page.locator("#overdue").inner_text().count("1") >= 1
    page.locator("#overdue").get_by_role("link").first.click()
    visitor.check()
    assert visitor.title() == "Transfers" + SUFFIX
    assert page.locator("tbody tr").count() == 1

    visitor.visit("/transfers")
    assert page.locator("tbody tr").count() == 3
    page.get_by_label("Direction").select_option("inbound")
    page.get_by_role("button", name="Show transfers").click()
    visitor.check()
    assert "direction=inbound" in page.url and "status=" not in page.url
    assert page.locator("tbody tr").count() == 2
    page.get_by_label("Only overdue").check()
    page.get_by_role("button", name="Show transfers").click()
    visitor.check()
    assert page.locator("tbody tr").count() == 1
    assert old_id[:8].upper() in page.locator("tbody").inner_text()

    # An error state: a status the list does not know (a hand-edited address).
    visitor.visit("/transfers?status=lost")
    assert visitor.title() == "Error: Transfers" + SUFFIX
    assert "Select a status from the list" in page.locator(".govuk-error-summary").inner_text()
    assert sent_id and new_id


def test_the_chair_approval_journey(
    site: Site, browser_page: Any, java_script: bool, canaries: list[str]
) -> None:
    canaries += CANARIES
    maker = site.add_user("maker", A, "coordinator")
    grant(site, maker, A, "chair")
    transfer_id = held(site, user_principal(maker, (A, "coordinator"), (A, "chair")))

    as_maker = browser_page(java_script=java_script)
    sign_in(as_maker, maker)
    as_maker.visit(f"/approvals/{transfer_id}")
    as_maker.page.get_by_role("button", name="Approve and send").click()
    as_maker.check()
    assert as_maker.title() == "Error: Check the transfer before approving it" + SUFFIX
    summary = as_maker.page.locator(".govuk-error-summary").inner_text()
    assert "Whoever created a transfer may not approve it" in summary

    chair = browser_page(java_script=java_script)
    sign_in(chair, site.add_user("chair", A, "chair"))
    chair.page.locator("#held-for-chair").get_by_role("link").first.click()
    chair.check()
    assert chair.title() == "Transfers waiting for approval" + SUFFIX
    chair.page.get_by_role("link", name="Check and approve").click()
    chair.check()
    assert VICTIM in chair.page.locator("main").inner_text()
    chair.page.get_by_role("button", name="Approve and send").click()
    chair.check()
    assert chair.title() == "Transfer approved" + SUFFIX
    assert "What happens next" in chair.page.locator("main").inner_text()


def test_a_withdrawal(
    site: Site, browser_page: Any, java_script: bool, canaries: list[str]
) -> None:
    canaries += CANARIES
    north_id, _ = delivered(site)
    visitor = browser_page(java_script=java_script)
    sign_in(visitor, site.add_user("coord", A, "coordinator"))
    visitor.visit(f"/cases/{north_id}/withdraw")
    page = visitor.page
    assert visitor.title() == "Withdraw the transfer" + SUFFIX
    page.get_by_role("button", name="Withdraw the transfer").click()
    visitor.check()
    assert visitor.title() == "Error: Withdraw the transfer" + SUFFIX
    assert "Select why you are withdrawing" in page.locator(".govuk-error-summary").inner_text()
    page.get_by_label("It went to the wrong area").check()
    page.get_by_label("Your name").fill(SIGNER["name"])
    page.get_by_label("Your role").fill(SIGNER["role"])
    page.get_by_role("button", name="Withdraw the transfer").click()
    visitor.check()
    assert visitor.title() == "Transfer withdrawn" + SUFFIX
    assert page.url.endswith(f"/cases/{north_id}/withdrawn")

"""The send journey in chromium: with the mouse and JavaScript on, with JavaScript off, and
by keyboard alone. axe-core checks every page, error states included; no canary reaches a
URL or a title; the transfer arrives at the other node with its minutes."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.browser import SUFFIX, Visitor, sign_in
from support.site import PEER, A, Site

VICTIM = ("Marigold", "Featherstonehaugh")
CASE_REF = "NS-CANARY-7731"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Mouse:
    """Fills and clicks as most people do."""

    def __init__(self, visitor: Visitor) -> None:
        self.visitor, self.page = visitor, visitor.page

    def fill(self, field: str, value: str) -> None:
        self.page.fill(f"#{field}", value)

    def choose(self, name: str, value: str) -> None:
        self.page.check(f"input[name='{name}'][value='{value}']")

    def press(self, button: str) -> None:
        self.page.get_by_role("button", name=button, exact=True).click()
        self.visitor.check()

    def follow(self, link: str) -> None:
        # A link, or a link styled as a button ("Add a perpetrator").
        self.page.locator(f"main a:text-is('{link}')").first.click()
        self.visitor.check()


class Keyboard(Mouse):
    """Tab to each control, type, Space to choose, Enter to press: no pointer at all."""

    def _tab_to(self, selector: str) -> None:
        target = self.page.locator(selector).first
        for _ in range(150):
            if target.evaluate("element => element === document.activeElement"):
                return
            self.page.keyboard.press("Tab")
        raise AssertionError(f"Tab never reached {selector}")

    def fill(self, field: str, value: str) -> None:
        self._tab_to(f"#{field}")
        self.page.keyboard.press("Control+A")
        self.page.keyboard.type(value)

    def choose(self, name: str, value: str) -> None:
        selector = f"input[name='{name}'][value='{value}']"
        # Radios: Tab reaches the group, arrows move within it; checkboxes: Tab to each.
        kind = self.page.get_attribute(selector, "type")
        if kind == "radio":
            self._tab_to(f"input[name='{name}']")
            self.page.keyboard.press("Space")  # Tab focuses a radio; Space chooses it
            for _ in range(12):
                if self.page.is_checked(selector):
                    return
                self.page.keyboard.press("ArrowDown")
            raise AssertionError(f"the arrows never reached {selector}")
        self._tab_to(selector)
        self.page.keyboard.press("Space")

    def press(self, button: str) -> None:
        self._tab_to(f"main button:text-is('{button}'), main a.govuk-button:text-is('{button}')")
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")
        self.visitor.check()

    def follow(self, link: str) -> None:
        self._tab_to(f"main a:text-is('{link}')")
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")
        self.visitor.check()


def _date(hand: Mouse, name: str, day: date) -> None:
    hand.fill(f"{name}-day", str(day.day))
    hand.fill(f"{name}-month", str(day.month))
    hand.fill(f"{name}-year", str(day.year))


def _section(hand: Mouse, title: str) -> None:
    """From the task list, open a section."""
    assert hand.visitor.heading() == "Send a transfer", hand.page.inner_text("main")[:2000]
    hand.follow(title)


def send_a_transfer(
    visitor: Visitor,
    hand: Mouse,
    upload: Path,
    to_area: str = PEER,
    forum: str = "at_meeting",
) -> None:
    """The whole journey from "Send a transfer" to its confirmation: a move to a refuge,
    consent refused, two lawful grounds, the minutes attached."""
    page = visitor.page
    today = date.today()
    visitor.visit("/transfers/new")
    # An empty answer first: the error summary (axe-checked) names both questions.
    hand.press("Save and continue")
    assert visitor.title() == "Error: Send a transfer" + SUFFIX
    assert "Select the MARAC you are sending the case to" in page.inner_text(".govuk-error-summary")
    hand.choose("to_area", to_area)
    hand.choose("reason", "relocation_refuge")
    hand.press("Save and continue")
    assert visitor.heading() == "Send a transfer"

    _section(hand, "Your details")
    hand.fill("sender-name", "Bea Sample")
    hand.fill("sender-role", "MARAC coordinator")
    hand.fill("sender-mailbox", "marac@northshire.example")
    hand.press("Save and continue")

    _section(hand, "The case")
    hand.fill("originating_case_ref", CASE_REF)
    hand.choose("heard_at_originating_marac", "yes")
    _date(hand, "last_marac_date", today - timedelta(days=14))
    hand.fill("marac_count_last_12_months", "2")
    hand.press("Save and continue")

    _section(hand, "Urgency")
    hand.choose("urgent", "no")
    hand.press("Save and continue")

    _section(hand, "The move")
    _date(hand, "move-date", today + timedelta(days=3))
    hand.press("Save and continue")

    _section(hand, "The victim")
    hand.fill("victim-family_name", VICTIM[1])
    _date(hand, "victim-date_of_birth", date(1990, 4, 2))
    hand.press("Save and continue")  # the given names are missing: an error state
    assert visitor.title().startswith("Error: The victim")
    assert "Enter given names" in page.inner_text(".govuk-error-summary")
    assert page.get_attribute("#victim-given_names", "autocomplete") == "off"
    hand.fill("victim-given_names", VICTIM[0])
    hand.press("Save and continue")
    assert visitor.heading() == "Equality monitoring (optional)"
    hand.press("Save and continue")

    _section(hand, "Contacting the victim safely")  # one thing a page
    hand.choose("contact-do_not_contact", "no")
    hand.press("Save and continue")
    hand.press("Save and continue")  # no phone number
    hand.fill("contact-other_safe_ways", "Only through the refuge key worker")
    hand.press("Save and continue")

    _section(hand, "Perpetrators")
    hand.follow("Add a perpetrator")
    hand.fill("given_names", "Rex")
    hand.fill("family_name", "Stone")
    hand.press("Save and continue")
    hand.press("Continue")
    _section(hand, "Children")
    hand.press("Continue")

    _section(hand, "Reason for the referral")
    hand.choose("referral_criteria", "visible_high_risk")
    hand.fill("dash_score", "17")
    hand.press("Save and continue")
    hand.fill("referral-incident", "Assault at the former home")
    hand.press("Save and continue")
    _section(hand, "Risks")
    hand.press("Continue")
    _section(hand, "Outstanding actions")
    hand.press("Continue")
    _section(hand, "Documents to follow")  # seed 000 4.24.2: which follow, and by when
    hand.follow("Add a document to follow")
    hand.press("Save and continue")  # nothing chosen: an error state
    assert visitor.title().startswith("Error: Documents to follow")
    hand.choose("document", "original_referral")
    _date(hand, "by", today + timedelta(days=7))
    hand.press("Save and continue")
    assert "The original referral" in page.inner_text("main")
    hand.press("Continue")
    _section(hand, "Documents not shared")
    hand.press("Continue")
    _section(hand, "Restricted case")
    hand.choose("restricted", "no")
    hand.press("Save and continue")

    _section(hand, "Consent and lawful grounds")  # one question a page
    hand.choose("consent-victim_informed", "yes")
    hand.press("Save and continue")
    hand.choose("consent-consent", "refused")
    hand.press("Save and continue")
    hand.press("Save and continue")  # consent was sought: no reasons for not seeking it
    hand.choose("consent-grounds", "dpa_2018_sch1_para18_safeguarding")
    hand.choose("consent-grounds", "crime_and_disorder_act_1998_s115")
    hand.press("Save and continue")
    hand.fill("consent-rationale", "Risk of serious harm at the new address")
    hand.fill("consent-disclosed", "The case, its risks and the minutes")
    hand.fill("consent-restrictions", "Only for the receiving MARAC")
    hand.press("Save and continue")
    hand.fill("consent-decided_by-name", "Cal Chair")
    hand.fill("consent-decided_by-role", "MARAC chair")
    _date(hand, "consent-decided_at", today)
    hand.fill("consent-decided_at-time", "00:05")
    hand.choose("consent-decision_forum", forum)
    hand.press("Save and continue")
    _section(hand, "IDVA handover")
    hand.press("Save and continue")  # optional: no IDVA
    assert "You have completed 16 of 16 sections" in page.inner_text("main")

    _section(hand, "Documents")
    hand.choose("kind", "minutes")
    page.set_input_files("#file", str(upload))  # a file chooser is the system's own
    hand.press("Add the document")
    assert "Minutes of the MARAC meeting" in page.inner_text("main")
    hand.follow("Continue")

    hand.follow("Check your answers")
    assert visitor.heading() == "Check your answers before sending"
    assert VICTIM[0] in page.inner_text("main")
    hand.press("Send the transfer")
    held = forum == "chair_after_meeting"
    wanted = "Waiting for a chair's approval" if held else "Transfer sent"
    assert visitor.title() == wanted + SUFFIX


@pytest.mark.parametrize("how", ["mouse-js-on", "mouse-js-off", "keyboard"])
def test_a_coordinator_sends_a_transfer(
    site: Site, browser_page: Any, canaries: list[str], tmp_path: Path, how: str
) -> None:
    person = site.add_user("coord", A, "coordinator")
    canaries += [*VICTIM, CASE_REF, person.email]
    visitor = browser_page(java_script=how != "mouse-js-off")
    sign_in(visitor, person)
    upload = tmp_path / "minutes.pdf"
    upload.write_bytes(PDF)
    hand = Keyboard(visitor) if how == "keyboard" else Mouse(visitor)
    send_a_transfer(visitor, hand, upload)
    assert visitor.checked >= 30
    # Delivered over real HTTP by the worker; the minutes follow it.
    assert site.north.deliver() >= 1
    site.north.deliver()
    assert site.south.count("transfers") == 1 and site.south.count("documents") == 1

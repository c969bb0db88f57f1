"""The case page and the acknowledge journey in chromium, JavaScript on and off: every page
and error state checked by axe-core (WCAG 2.2 A and AA); the canary victim name and case
reference never in a URL or a title."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from support.browser import SUFFIX, Visitor, sign_in
from support.site import PEER, A, Site

from gateway.devtools.samples import sample_transfer
from gateway.domain.casework import acknowledgements, withdrawal
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import Principal
from gateway.domain.schedule import meetings

CANARY_NAME = "Quillonbright"
CANARY_REF = "CANARY-REF-7781"


def canary(site: Site, **changes: Any) -> str:
    payload = sample_transfer(PEER, A, victim=CANARY_NAME)
    payload["originating_case_ref"] = CANARY_REF
    payload.update(changes)
    site.south.send(payload, PEER, A)
    assert site.south.deliver() == 1
    return next(t for t in site.north.transfers(A) if t.direction == "inbound").id


def signed_in(
    site: Site, browser_page: Any, java_script: bool, role: str = "coordinator"
) -> Visitor:
    person = site.add_user(role, A, role)
    visitor = browser_page(java_script=java_script)
    sign_in(visitor, person)
    return visitor


def test_the_case_page(
    site: Site, browser_page: Any, java_script: bool, canaries: list[str]
) -> None:
    canaries += [CANARY_NAME, CANARY_REF]
    transfer_id = canary(site)
    visitor = signed_in(site, browser_page, java_script)
    response = visitor.visit(f"/cases/{transfer_id}")
    assert response.status == 200
    assert visitor.title() == "Inbound transfer" + SUFFIX
    main = visitor.page.locator("main").inner_text()
    assert main.index("Before you contact anyone") < main.index(CANARY_NAME)
    # The auditor's view of the same case: metadata and the timeline only.
    auditor = signed_in(site, browser_page, java_script, role="auditor")
    auditor.visit(f"/cases/{transfer_id}")
    assert CANARY_NAME not in auditor.page.content()


def test_the_acknowledge_journey(
    site: Site, browser_page: Any, java_script: bool, canaries: list[str]
) -> None:
    canaries += [CANARY_NAME, CANARY_REF]
    transfer_id = canary(site)
    meeting = (utcnow() + timedelta(days=9)).date()
    with site.north.node.sessions() as db:
        meetings.set_meetings(db, Principal.operator(), A, now=utcnow(), replace=[meeting])
    visitor = signed_in(site, browser_page, java_script)
    visitor.visit(f"/cases/{transfer_id}")
    page = visitor.page
    page.get_by_role("link", name="Acknowledge or redirect").click()
    visitor.check()
    assert visitor.title() == "Acknowledge the transfer" + SUFFIX
    page.get_by_role("button", name="Send the acknowledgement").click()
    visitor.check()  # the error state, axe-clean too
    assert visitor.title() == "Error: Acknowledge the transfer" + SUFFIX
    page.get_by_label("Accept the case and list it for a meeting").check()
    page.get_by_label(meeting.strftime("%-d %B %Y")).check()
    page.get_by_label("Yes", exact=True).check()
    page.get_by_label("Your name").fill("Cora Ordinator")
    page.get_by_role("button", name="Send the acknowledgement").click()
    visitor.check()
    assert visitor.title() == "Case accepted" + SUFFIX
    assert meeting.strftime("%-d %B %Y") in page.locator("main").inner_text()
    page.get_by_role("link", name="Back to the case").click()
    visitor.check()
    assert "Acknowledged" in page.locator("main").inner_text()


def test_the_emergency_meeting_of_an_urgent_case(
    site: Site, browser_page: Any, java_script: bool, canaries: list[str]
) -> None:
    """Seed 000 4.22: an urgent case may be listed for an emergency meeting on a day off
    the area's dates; the date's error state and the timeline, axe-clean."""
    canaries += [CANARY_NAME, CANARY_REF]
    transfer_id = canary(site, urgent=True, urgent_reason="Threats to kill this weekend")
    meeting = (utcnow() + timedelta(days=9)).date()
    with site.north.node.sessions() as db:
        meetings.set_meetings(db, Principal.operator(), A, now=utcnow(), replace=[meeting])
    visitor = signed_in(site, browser_page, java_script)
    visitor.visit(f"/cases/{transfer_id}/acknowledge")
    visitor.check()
    page = visitor.page
    page.get_by_label("Accept the case and list it for a meeting").check()
    page.get_by_label("An emergency meeting on another date").check()
    page.get_by_label("Yes", exact=True).check()
    page.get_by_label("Your name").fill("Cora Ordinator")
    page.get_by_role("button", name="Send the acknowledgement").click()
    visitor.check()  # no date given: the error summary links to the date's first box
    assert visitor.title() == "Error: Acknowledge the transfer" + SUFFIX
    link = page.get_by_role("link", name="Enter the date of the emergency meeting")
    assert link.get_attribute("href") == "#emergency_date-day"
    tomorrow = (utcnow() + timedelta(days=1)).date()
    page.locator("#emergency_date-day").fill(str(tomorrow.day))
    page.locator("#emergency_date-month").fill(str(tomorrow.month))
    page.locator("#emergency_date-year").fill(str(tomorrow.year))
    page.get_by_role("button", name="Send the acknowledgement").click()
    visitor.check()
    assert visitor.title() == "Case accepted" + SUFFIX
    page.get_by_role("link", name="Back to the case").click()
    visitor.check()
    assert "(an emergency meeting)" in page.locator("main").inner_text()


def test_the_idva_referral_reported_after_the_acknowledgement(
    site: Site, browser_page: Any, java_script: bool, canaries: list[str]
) -> None:
    """From the accepted case: the form, its error state and the confirmation, axe-clean."""
    canaries += [CANARY_NAME, CANARY_REF]
    transfer_id = canary(site)
    with site.north.node.sessions() as db:
        acknowledgements.acknowledge(
            db,
            site.north.node.master,
            Principal.operator(),
            transfer_id,
            {
                "status": "accepted",
                "listed_for": (utcnow() + timedelta(days=9)).date().isoformat(),
                "idva_referred": False,
                "acknowledged_by": {"name": "Sam", "role": "MARAC coordinator"},
            },
            utcnow(),
        )
    visitor = signed_in(site, browser_page, java_script)
    visitor.visit(f"/cases/{transfer_id}")
    page = visitor.page
    page.get_by_role("link", name="Report the referral to the IDVA service").click()
    visitor.check()
    assert visitor.title() == "Report the referral to the IDVA service" + SUFFIX
    page.get_by_role("button", name="Send the report").click()
    visitor.check()  # the error state, axe-clean too
    assert visitor.title() == "Error: Report the referral to the IDVA service" + SUFFIX
    yesterday = (utcnow() - timedelta(days=1)).date()
    page.locator("#referred_on-day").fill(str(yesterday.day))
    page.locator("#referred_on-month").fill(str(yesterday.month))
    page.locator("#referred_on-year").fill(str(yesterday.year))
    page.get_by_label("Which IDVA service?").fill("Northshire IDVA Service")
    page.get_by_label("The IDVA service took the case").check()
    page.get_by_label("Your name").fill("Cora Ordinator")
    page.get_by_role("button", name="Send the report").click()
    visitor.check()
    assert visitor.title() == "Referral reported" + SUFFIX


def test_the_restricted_and_the_withdrawn_pages(
    site: Site, browser_page: Any, java_script: bool, canaries: list[str]
) -> None:
    canaries += [CANARY_NAME, CANARY_REF]
    restricted = canary(site, restricted=True, restricted_reason="position_of_trust")
    visitor = signed_in(site, browser_page, java_script)
    assert visitor.visit(f"/cases/{restricted}").status == 403
    assert visitor.heading() == "Inbound transfer"
    assert "You cannot open this case" in visitor.page.locator("main").inner_text()
    gone = canary(site)
    sent = next(t for t in site.south.transfers(PEER) if t.status != "withdrawn")
    with site.south.node.sessions() as db:
        withdrawal.withdraw(
            db,
            site.south.node.master,
            Principal.operator(),
            sent.id,
            {"reason": "sent_in_error", "withdrawn_by": {"name": "Sam", "role": "Coordinator"}},
            utcnow(),
        )
    assert site.south.deliver() == 1
    assert visitor.visit(f"/cases/{gone}").status == 410
    assert visitor.heading() == "This case was withdrawn"


def tab_to(visitor: Visitor, wanted: str, limit: int = 80) -> None:
    """Press Tab until the focus is on the element with this id or link text."""
    page = visitor.page
    for _ in range(limit):
        page.keyboard.press("Tab")
        found = page.evaluate(
            "[document.activeElement.id, (document.activeElement.innerText || '').trim()]"
        )
        if wanted in found:
            return
    raise AssertionError(f"Tab never reached {wanted!r}")


def test_the_acknowledge_journey_by_keyboard_alone(
    site: Site, browser_page: Any, canaries: list[str]
) -> None:
    canaries += [CANARY_NAME, CANARY_REF]
    transfer_id = canary(site)
    meeting = (utcnow() + timedelta(days=9)).date()
    with site.north.node.sessions() as db:
        meetings.set_meetings(db, Principal.operator(), A, now=utcnow(), replace=[meeting])
    visitor = signed_in(site, browser_page, True)
    visitor.visit(f"/cases/{transfer_id}")
    page = visitor.page
    tab_to(visitor, "Acknowledge or redirect")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    visitor.check()
    tab_to(visitor, "status")
    page.keyboard.press("Space")  # accept
    tab_to(visitor, "listed_for")
    page.keyboard.press("Space")
    tab_to(visitor, "idva_referred")
    page.keyboard.press("Space")  # yes
    tab_to(visitor, "acknowledged_by-name")
    page.keyboard.type("Cora Ordinator")
    tab_to(visitor, "Send the acknowledgement")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    visitor.check()
    assert visitor.title() == "Case accepted" + SUFFIX


def test_every_other_case_page_and_its_error_state(
    site: Site, browser_page: Any, java_script: bool, canaries: list[str]
) -> None:
    canaries += [CANARY_NAME, CANARY_REF]
    transfer_id = canary(site, restricted=True, restricted_reason="honour_based_violence")
    person = site.add_user("coordinator", A, "coordinator")
    chair = site.add_user("chair", A, "chair")
    # Naming who may open the restricted case is the chair's (seed 001 4.5.3): a
    # coordinator's page says so and has no form.
    visitor = browser_page(java_script=java_script)
    sign_in(visitor, person)
    page = visitor.page
    visitor.visit(f"/cases/{transfer_id}/access")
    visitor.check()
    assert visitor.title() == "Who may open this restricted case" + SUFFIX
    assert page.get_by_role("button", name="Save who may open it").count() == 0
    assert "MARAC chair decides" in page.content()
    # The chair names: the refusal, then the list and its confirmation.
    chairing = browser_page(java_script=java_script)
    sign_in(chairing, chair)
    chairing.visit(f"/cases/{transfer_id}/access")
    assert chairing.title() == "Who may open this restricted case" + SUFFIX
    chairing.page.get_by_role("button", name="Save who may open it").click()
    chairing.check()
    assert chairing.title().startswith("Error: ")
    chairing.page.get_by_label(person.email, exact=False).check()
    chairing.page.get_by_role("button", name="Save who may open it").click()
    chairing.check()
    assert chairing.title() == "Access saved" + SUFFIX
    # Asking for more information: the refusal, then the request.
    visitor.visit(f"/cases/{transfer_id}/request-information")
    page.get_by_role("button", name="Send the request").click()
    visitor.check()
    assert visitor.title() == "Error: Ask the sending area for more information" + SUFFIX
    page.get_by_label("Minutes of the MARAC meeting").check()
    page.get_by_label("Your name").fill("Cora Ordinator")
    page.get_by_role("button", name="Send the request").click()
    visitor.check()
    assert visitor.title() == "Request sent" + SUFFIX
    # Forwarding: nothing granted yet; asking for permission, its refusal and its answer.
    visitor.visit(f"/cases/{transfer_id}/forward")
    assert "has not given permission" in page.locator("main").inner_text()
    visitor.visit(f"/cases/{transfer_id}/ask-forward")
    page.get_by_role("button", name="Ask for permission").click()
    visitor.check()
    assert visitor.title() == "Error: Ask permission to forward this case" + SUFFIX
    page.get_by_label("Eastmoor MARAC").check()
    page.get_by_label("The victim has moved permanently").check()
    page.get_by_label("Your name").fill("Cora Ordinator")
    page.get_by_role("button", name="Ask for permission").click()
    visitor.check()
    assert visitor.title() == "Permission asked for" + SUFFIX
    # The case with its documents, requests, permissions, timeline and messages; a message.
    assert site.north.deliver() == 2
    visitor.visit(f"/cases/{transfer_id}")
    page.get_by_role("link", name="View message 1").click()
    visitor.check()
    assert visitor.title() == "Request for information" + SUFFIX

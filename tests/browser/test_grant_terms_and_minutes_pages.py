"""The grant page with its terms (restrictions, the case's documents as GOV.UK checkboxes)
and the received minutes page, in chromium with JavaScript on and off: every page and
error state checked by axe-core; the canary never in a URL or a title."""

from __future__ import annotations

from typing import Any

from support.browser import SUFFIX, sign_in
from support.pages_world import delivered, peer_asks_to_forward
from support.site import PEER, A, Site

from gateway.devtools.samples import sample_transfer
from gateway.domain.casework import documents
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import Principal

CANARY_AGENCY = "Quillonbright Housing"


def test_the_grant_page_sets_restrictions_and_ticks_documents(
    site: Site, browser_page: Any, java_script: bool
) -> None:
    north_id, south_id = delivered(site)
    with site.north.node.sessions() as db:
        documents.send_document(
            db,
            site.north.node.master,
            Principal.operator(),
            north_id,
            documents.Outgoing("dash_ric", b"checklist\n", "text/plain"),
            utcnow(),
        )
    assert site.north.deliver() >= 1
    peer_asks_to_forward(site, south_id)
    request_id = site.north.scalar("SELECT request_id FROM forward_permissions")
    visitor = browser_page(java_script=java_script)
    sign_in(visitor, site.add_user("coordinator", A, "coordinator"))
    page = visitor.page
    visitor.visit(f"/cases/{north_id}/forward-requests/{request_id}")
    assert visitor.title() == "Answer a request to forward the case" + SUFFIX
    # A restricted case without its reason: the error state.
    page.get_by_label("Yes, they may forward it to that area").check()
    page.locator("#restricted").check()
    page.get_by_label("Your name").fill("Cora Ordinator")
    page.get_by_label("Your role").fill("MARAC coordinator")
    page.get_by_role("button", name="Send your answer").click()
    visitor.check()
    assert visitor.title().startswith("Error: ")
    page.get_by_label("Yes, they may forward it to that area").check()
    page.locator("#restricted").check()
    page.get_by_label("Forced marriage").check()
    page.get_by_label("Your name").fill("Cora Ordinator")
    page.get_by_label("Your role").fill("MARAC coordinator")
    page.get_by_label("Restrictions on how that area may use the case").fill("No onward sharing.")
    page.get_by_label("The DASH risk checklist", exact=False).check()
    page.get_by_role("button", name="Send your answer").click()
    visitor.check()
    assert "Permission given" in page.locator("main").inner_text()


def test_received_minutes_are_read_on_a_page(
    site: Site, browser_page: Any, java_script: bool, canaries: list[str]
) -> None:
    canaries.append(CANARY_AGENCY)
    sent = site.south.send(sample_transfer(PEER, A), PEER, A)
    assert site.south.deliver() == 1
    arrived = next(t for t in site.north.transfers(A) if t.direction == "inbound").id
    minutes = {
        "meeting_date": utcnow().date().isoformat(),
        "attendees": [{"agency": "Police", "area": PEER}],
        "confidentiality_statement_confirmed": True,
        "entries": [
            {"kind": "professional_judgement", "source_agency": CANARY_AGENCY, "text": "Rising."}
        ],
        "sharing_agreed_by": [CANARY_AGENCY],
    }
    with site.south.node.sessions() as db:
        documents.send_document(
            db,
            site.south.node.master,
            Principal.operator(),
            sent.id,
            documents.minutes_upload({"kind": "minutes", "minutes": minutes}, 10**6),
            utcnow(),
        )
    assert site.south.deliver() == 1
    visitor = browser_page(java_script=java_script)
    sign_in(visitor, site.add_user("coordinator", A, "coordinator"))
    visitor.visit(f"/cases/{arrived}")
    visitor.page.get_by_role("link", name="View minutes (1)").click()
    visitor.check()
    assert visitor.title() == "Minutes" + SUFFIX
    main = visitor.page.locator("main").inner_text()
    assert main.index("Agencies that agreed to share these minutes") < main.index("Rising.")

"""The whole MARAC-to-MARAC conversation in chromium, across two real nodes with their
workers: South Vale sends a relocation (consent refused, two lawful grounds, the minutes
attached) decided by the chair after the meeting, so it is held; a second chair approves
it; Northshire opens it, downloads the minutes, asks for the referral form; South Vale
answers with a document; Northshire accepts it for a meeting date; South Vale sees it
acknowledged. axe-core checks every page; no canary reaches a URL or a title."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.browser import SUFFIX, Visitor, sign_in
from support.site import PEER, A, Site
from test_send_journey import CASE_REF, PDF, VICTIM, Mouse, send_a_transfer

from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import Principal
from gateway.domain.schedule import meetings


def open_case(visitor: Visitor) -> str:
    """From "Your work", the newest case in the transfers table; its id."""
    visitor.visit("/transfers")
    visitor.page.locator("main table a[href^='/cases/']").first.click()
    visitor.check()
    return visitor.page.url.rsplit("/", 1)[-1]


def test_the_whole_conversation_in_the_browser(
    site: Site,
    browser_page: Any,
    canaries: list[str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    canaries += [*VICTIM, CASE_REF]
    meeting = (utcnow() + timedelta(days=9)).date()
    with site.north.node.sessions() as db:
        meetings.set_meetings(db, Principal.operator(), A, now=utcnow(), replace=[meeting])
    maker = site.add_user("maker", PEER, "coordinator", on=site.south)
    chair = site.add_user("chair", PEER, "chair", on=site.south)
    receiver = site.add_user("receiver", A, "coordinator")
    canaries += [maker.email, chair.email, receiver.email]
    upload = tmp_path / "minutes.pdf"
    upload.write_bytes(PDF)

    # 1. South Vale's coordinator sends it; the chair decided after the meeting: held.
    south = browser_page(base_url=site.south.url)
    sign_in(south, maker)
    send_a_transfer(south, Mouse(south), upload, to_area=A, forum="chair_after_meeting")
    assert site.south.deliver() == 0  # nothing leaves before a chair approves it

    # 2. A chair who did not draft it approves it; the worker delivers it, minutes after.
    chairing = browser_page(base_url=site.south.url)
    sign_in(chairing, chair)
    chairing.visit("/approvals")
    chairing.page.locator("main a[href^='/approvals/']").first.click()
    chairing.check()
    assert VICTIM[0] in chairing.page.locator("main").inner_text()
    chairing.page.get_by_role("button", name="Approve and send").click()
    chairing.check()
    assert chairing.title() == "Transfer approved" + SUFFIX
    assert site.south.deliver() == 2  # the transfer, then the minutes it released

    # 3. Northshire opens it (safe contact first), downloads the minutes, asks for more.
    north = browser_page()
    sign_in(north, receiver)
    case = open_case(north)
    page = north.page
    main = page.locator("main").inner_text()
    assert main.index("Before you contact anyone") < main.index(VICTIM[0])
    with page.expect_download() as download:
        page.locator("main a[href*='/documents/']").first.click()
    assert Path(download.value.path()).read_bytes() == PDF
    page.get_by_role("link", name="Ask for more information").click()
    north.check()
    page.get_by_label("A completed MARAC referral form").check()
    page.get_by_label("Your name").fill("Cora Ordinator")
    page.get_by_role("button", name="Send the request").click()
    north.check()
    assert site.north.deliver() == 1

    # 4. South Vale answers the request with the form.
    south.visit("/transfers")
    page = south.page
    page.locator("main table a[href^='/cases/']").first.click()
    south.check()
    page.locator("main a[href*='/requests/']").first.click()
    south.check()
    assert south.title() == "Send the documents asked for" + SUFFIX
    page.locator("main input[type='file']").first.set_input_files(str(upload))
    page.get_by_role("button", name="Send the documents").click()
    south.check()
    assert site.south.deliver() == 1

    # 5. Northshire accepts it for its next meeting; the answer travels back.
    north.visit(f"/cases/{case}")
    page = north.page
    page.get_by_role("link", name="Acknowledge or redirect").click()
    north.check()
    page.get_by_label("Accept the case and list it for a meeting").check()
    page.get_by_label(meeting.strftime("%-d %B %Y")).check()
    page.get_by_label("Yes", exact=True).check()
    page.get_by_label("Your name").fill("Cora Ordinator")
    page.get_by_role("button", name="Send the acknowledgement").click()
    north.check()
    assert north.title() == "Case accepted" + SUFFIX
    assert site.north.deliver() == 1

    # 6. South Vale sees it acknowledged and listed.
    south.visit("/transfers")
    south.page.locator("main table a[href^='/cases/']").first.click()
    south.check()
    shown = south.page.locator("main").inner_text()
    assert "Acknowledged" in shown and meeting.strftime("%-d %B %Y") in shown

    # Nothing personal in any log line or in either node's files (databases included).
    for secret in (*VICTIM, CASE_REF):
        assert secret not in caplog.text
        for node in (site.north, site.south):
            for path in node.home.rglob("*"):
                if path.is_file():
                    assert secret.encode() not in path.read_bytes(), path

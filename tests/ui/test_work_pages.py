"""The home page "Your work" and the transfers table, on two real nodes: counts and links
for each role, the filters and the cursor paging, refusals as an error summary, and no
name or case reference in any URL or title."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from support.pages_world import (
    CASE_REF,
    VICTIM,
    Browser,
    delivered,
    draft,
    fail_next_delivery,
    held,
    inbound,
    make_overdue,
    peer_asks_for,
    peer_asks_to_forward,
    peer_reports_repeat,
)
from support.site import A, B, Site, make_site

from gateway.domain.casework import acknowledgements
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import Principal
from gateway.web.ui import work
from gateway.web.ui.transfer_words import short_reference


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def count_in(html: str, row_id: str) -> int:
    """The count shown in the home page's row with this id."""
    row = html.split(f'id="{row_id}"', 1)[1].split("</dd>", 1)[0]
    found = re.search(r'govuk-summary-list__value">\s*<p[^>]*>\s*(?:<a[^>]*>)?(\d+)', row)
    assert found, row
    return int(found[1])


def test_your_work_counts_what_the_area_has_to_do(site: Site) -> None:
    overdue_id, _ = inbound(site)
    make_overdue(site, overdue_id)
    fresh_id, south_inbound = inbound(site)
    peer_reports_repeat(site, south_inbound)
    asked_id, south_id = delivered(site)
    peer_asks_for(site, south_id, ["minutes"])
    peer_asks_to_forward(site, south_id)
    held(site)
    draft(site)
    # An acknowledgement of the fresh case that cannot reach the peer: a failed reply.
    coordinator = Browser(site, site.add_user("coord", A, "coordinator"))
    with site.north.node.sessions() as session:
        acknowledgements.acknowledge(
            session,
            site.north.node.master,
            Principal.operator(),
            fresh_id,
            {
                "status": "accepted",
                "listed_for": (utcnow().date() + timedelta(days=7)).isoformat(),
                "idva_referred": False,
                "acknowledged_by": {"name": "C", "role": "MARAC coordinator"},
            },
            utcnow(),
        )
    fail_next_delivery(site)

    home = coordinator.get("/")
    assert home.status_code == 200
    html = home.text
    assert count_in(html, "overdue") == 1
    assert count_in(html, "awaiting-acknowledgement") == 1
    assert count_in(html, "repeat-incidents") == 1
    assert count_in(html, "information-requests") == 1
    assert count_in(html, "forward-requests") == 1
    assert count_in(html, "failed-deliveries") == 0
    assert count_in(html, "failed-replies") == 1
    assert count_in(html, "held-for-chair") == 1
    assert count_in(html, "drafts") == 1
    # Overdue comes first, and links to the filtered list; cases are linked by short id.
    assert html.index('id="overdue"') < html.index('id="awaiting-acknowledgement"')
    assert "/transfers?direction=inbound&amp;status=received&amp;overdue=yes" in html
    assert f'href="/cases/{asked_id}"' in html
    assert f"Transfer {short_reference(asked_id)}" in html
    assert f'href="/cases/{overdue_id}"' in html
    assert "Send a transfer" in html
    assert VICTIM not in html and CASE_REF not in html
    coordinator.no_canaries()


def test_each_role_sees_a_home_page_that_fits_it(site: Site) -> None:
    received, _ = inbound(site)
    held(site)
    chair = Browser(site, site.add_user("chair", A, "chair"))
    page = chair.get("/").text
    assert count_in(page, "held-for-chair") == 1
    assert 'href="/approvals"' in page
    assert "Send a transfer" not in page

    auditor = Browser(site, site.add_user("auditor", A, "auditor"))
    page = auditor.get("/").text
    assert count_in(page, "awaiting-acknowledgement") == 1
    assert "never the cases themselves" in page
    assert f"/cases/{received}" not in page  # metadata counts only, no case links
    assert "Send a transfer" not in page

    admin = Browser(site, site.add_user("admin", A, "admin"))
    page = admin.get("/").text
    assert "Admins never see cases" in page
    assert "awaiting-acknowledgement" not in page and received not in page
    assert admin.get("/transfers").status_code == 403

    # Another area's coordinator sees their own area's (empty) work.
    other = Browser(site, site.add_user("other", B, "coordinator"))
    page = other.get("/").text
    assert count_in(page, "awaiting-acknowledgement") == 0
    assert received not in page
    for browser in (chair, auditor, admin, other):
        browser.no_canaries()


def rows_of(html: str) -> list[str]:
    return re.findall(r'href="/(?:cases|drafts)/([0-9a-f-]{36})"', html)


def test_the_transfers_table_filters_and_pages(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    old_id, _ = inbound(site)
    make_overdue(site, old_id)
    new_id, _ = inbound(site)
    sent_id, _ = delivered(site)
    draft_id = draft(site)
    coordinator = Browser(site, site.add_user("coord", A, "coordinator"))

    everything = coordinator.get("/transfers")
    assert everything.status_code == 200
    html = everything.text
    assert set(rows_of(html)) == {old_id, new_id, sent_id, draft_id}
    assert f'href="/drafts/{draft_id}"' in html and f'href="/cases/{sent_id}"' in html
    assert "To acknowledge" in html and "Delivered" in html and "Draft" in html
    assert "Overdue" in html and "Northshire MARAC" not in html.split("<table", 1)[1]
    assert "South-Vale MARAC" in html
    assert VICTIM not in html and CASE_REF not in html

    inbound_only = coordinator.get("/transfers?direction=inbound")
    assert set(rows_of(inbound_only.text)) == {old_id, new_id}
    overdue = coordinator.get("/transfers?direction=inbound&overdue=yes")
    assert rows_of(overdue.text) == [old_id]
    drafts_only = coordinator.get("/transfers?status=draft")
    assert rows_of(drafts_only.text) == [draft_id]

    # The GET form sends every field: empty ones are dropped from the address.
    tidy = coordinator.get("/transfers?direction=&status=received&overdue=")
    assert tidy.status_code == 303 and tidy.headers["Location"] == "/transfers?status=received"

    # Refusals: an unknown status, an overdue value, a cursor from nowhere.
    bad = coordinator.get("/transfers?status=lost")
    assert bad.status_code == 400 and "There is a problem" in bad.text
    assert "Select a status from the list" in bad.text and 'href="#status"' in bad.text
    assert coordinator.get("/transfers?overdue=maybe").status_code == 400
    gone = coordinator.get("/transfers?cursor=bm90LWEtY3Vyc29y")
    assert gone.status_code == 400 and "Start again from the first page" in gone.text

    chair = Browser(site, site.add_user("chair", A, "chair"))
    assert chair.get("/transfers").status_code == 200
    auditor = Browser(site, site.add_user("auditor", A, "auditor"))
    assert set(rows_of(auditor.get("/transfers").text)) == {old_id, new_id, sent_id, draft_id}
    other = Browser(site, site.add_user("other", B, "coordinator"))
    assert rows_of(other.get("/transfers").text) == []

    # Paging: the API's opaque cursor, newest first, each transfer once.
    monkeypatch.setattr(work, "PAGE_SIZE", 3)
    first = coordinator.get("/transfers")
    next_link = re.search(r'href="(/transfers\?cursor=[^"]+)"', first.text)
    assert next_link and len(rows_of(first.text)) == 3
    second = coordinator.get(next_link[1].replace("&amp;", "&"))
    assert second.status_code == 200 and 'href="/transfers"' in second.text
    assert sorted(rows_of(first.text) + rows_of(second.text)) == sorted(
        {old_id, new_id, sent_id, draft_id}
    )
    coordinator.no_canaries()

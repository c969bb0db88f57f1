"""Chair approval in the browser, on two real nodes: the queue (no names), the read-only
check-answers view (audited as content opened), approval refused for whoever made the
transfer (the domain's reason on the page), approved by another chair, delivered."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.pages_world import (
    CASE_REF,
    VICTIM,
    Browser,
    delivered,
    grant,
    held,
    user_principal,
)
from support.site import PEER, A, B, Site, make_site


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def opened_count(site: Site, transfer_id: str) -> int:
    with site.north.node.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT leaf FROM audit_events WHERE action = 'content.opened'"
        ).all()
    return sum(1 for (leaf,) in rows if json.loads(leaf)["objects"]["transfer"] == transfer_id)


def test_a_chair_checks_and_approves_a_transfer_someone_else_made(site: Site) -> None:
    maker = site.add_user("maker", A, "coordinator")
    grant(site, maker, A, "chair")  # a coordinator who is also a chair
    transfer_id = held(site, user_principal(maker, (A, "coordinator"), (A, "chair")))
    as_maker = Browser(site, maker)

    queue = as_maker.get("/approvals")
    assert queue.status_code == 200
    assert f"/approvals/{transfer_id}" in queue.text
    assert VICTIM not in queue.text and CASE_REF not in queue.text

    review = as_maker.get(f"/approvals/{transfer_id}")
    assert review.status_code == 200
    assert VICTIM in review.text  # the content, read-only, in the page's body
    assert "Approve and send" in review.text
    assert f"/cases/{transfer_id}/withdraw" in review.text  # a coordinator may withdraw
    assert opened_count(site, transfer_id) == 1

    refused = as_maker.post(f"/approvals/{transfer_id}/approve")
    assert refused.status_code == 403
    assert "There is a problem" in refused.text
    assert "Whoever created a transfer may not approve it; ask another chair." in refused.text
    assert "<title>Error: " in refused.text

    other = Browser(site, site.add_user("other-chair", A, "chair"))
    page = other.get(f"/approvals/{transfer_id}")
    assert "ask a coordinator of your area to withdraw it" in page.text
    done = other.post(f"/approvals/{transfer_id}/approve")
    assert done.status_code == 303
    assert done.headers["Location"] == f"/approvals/{transfer_id}/approved"
    confirmation = other.follow(done)
    assert confirmation.status_code == 200 and "Transfer approved" in confirmation.text
    assert "What happens next" in confirmation.text and "South-Vale MARAC" in confirmation.text
    assert site.north.deliver() >= 1
    assert any(t.direction == "inbound" for t in site.south.transfers(PEER))

    # No longer waiting: gone from the queue; approving again is refused with the reason.
    assert transfer_id not in other.get("/approvals").text
    again = other.post(f"/approvals/{transfer_id}/approve")
    assert again.status_code == 409 and "There is a problem" in again.text
    assert "no longer waiting for approval" in again.text
    for browser in (as_maker, other):
        browser.no_canaries()


def test_who_may_use_the_chair_pages(site: Site) -> None:
    transfer_id = held(site)
    sent_id, _ = delivered(site)
    coordinator = Browser(site, site.add_user("coord", A, "coordinator"))
    assert coordinator.get("/approvals").status_code == 403
    assert coordinator.get(f"/approvals/{transfer_id}").status_code == 403
    assert coordinator.post(f"/approvals/{transfer_id}/approve").status_code == 403
    auditor = Browser(site, site.add_user("auditor", A, "auditor"))
    assert auditor.get("/approvals").status_code == 403
    # A chair of another area: no such transfer, exactly as for one that does not exist.
    outsider = Browser(site, site.add_user("outsider", B, "chair"))
    assert outsider.get(f"/approvals/{transfer_id}").status_code == 404
    assert outsider.post(f"/approvals/{transfer_id}/approve").status_code == 404
    assert transfer_id not in outsider.get("/approvals").text
    # A transfer that was never held has no approval to confirm.
    chair = Browser(site, site.add_user("chair", A, "chair"))
    assert chair.get(f"/approvals/{sent_id}/approved").status_code == 404
    assert chair.get("/approvals?cursor=bm9wZQ").status_code == 400

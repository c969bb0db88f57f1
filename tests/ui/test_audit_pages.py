"""The auditor's pages on two real nodes: the disclosure log (filters, keyset paging, the
export download), reports with their SVG charts and tables, verification of the log and of
a peer, subject access (POST only, audited with its reference, perpetrators marked, the
decision recorded), the public accessibility and cookies pages; who may use each."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import text
from support.audit_world import edit_leaf, insider
from support.pages_world import (
    CASE_REF,
    VICTIM,
    Browser,
    delivered,
    inbound,
    payload,
    send_as,
)
from support.site import PEER, A, B, Site, make_site

from gateway.domain.identity.principals import Principal

PERPETRATOR = {
    "given_names": "Quentin",
    "family_name": "Perpcanary",
    "aliases": [],
    "date_of_birth": "1980-02-03",
    "address": "2 Imaginary Lane",
    "relationship_to_victim": "ex-partner",
}
REFERENCE = "SAR/2026-041"


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def leaves(site: Site, action: str) -> list[dict[str, Any]]:
    with site.north.node.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT leaf FROM audit_events WHERE action = :a ORDER BY seq"), {"a": action}
        ).all()
    return [json.loads(leaf) for (leaf,) in rows]


def auditor(site: Site, name: str = "aud", area: str = A) -> Browser:
    return Browser(site, site.add_user(name, area, "auditor"))


def test_the_disclosure_log_filters_pages_and_downloads(site: Site) -> None:
    delivered(site)
    inbound(site)
    browser = auditor(site)
    home = browser.get("/")
    assert 'href="/audit"' in home.text  # the navigation and the home page link
    page = browser.get("/audit")
    assert page.status_code == 200 and "<title>Disclosure log" in page.text
    assert "Transfer sent (disclosure)</td>" in page.text and "South-Vale MARAC" in page.text
    assert "Coordinator" in page.text or "Operator (command line)" in page.text
    assert VICTIM not in page.text and CASE_REF not in page.text  # metadata only

    sent = browser.get("/audit?action=transfer.sent&period=week")
    assert sent.text.count("Transfer sent (disclosure)</td>") >= 1
    assert "Received from a peer area</td>" not in sent.text
    by_peer = browser.get(f"/audit?peer={PEER}")
    assert by_peer.status_code == 200 and "Signed in</td>" not in by_peer.text

    # Keyset paging with an opaque cursor: more than a page of events.
    for _ in range(3):
        browser.get("/audit/verify")  # harmless reads; the sign-ins below add events
    for number in range(25):
        Browser(site, site.add_user(f"extra{number}", A, "auditor"))
    first = browser.get("/audit")
    cursor = re.search(r'href="/audit\?cursor=([^"&]+)"', first.text)
    assert cursor, "no next page"
    assert not cursor[1].isdigit()  # opaque, not a bare sequence number
    second = browser.get(f"/audit?cursor={cursor[1]}")
    assert second.status_code == 200 and "First page" in second.text

    for bad, where in (
        ("period=decade", "Select a period from the list"),
        ("action=made.up", "Select an action from the list"),
        ("peer=nowhere", "Select a peer area from the list"),
        ("cursor=bm9wZQ", "This page of results no longer exists"),
    ):
        refused = browser.get(f"/audit?{bad}")
        assert refused.status_code == 400 and "<title>Error: Disclosure log" in refused.text
        assert where in refused.text

    csv = browser.post("/audit/export", {"period": "week", "format": "csv"})
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "attachment" in csv.headers["Content-Disposition"]
    assert csv.text.splitlines()[0].startswith("seq,at,action")
    lines = browser.post("/audit/export", {"period": "year", "format": "jsonl"})
    assert lines.mimetype == "application/x-ndjson"
    assert "checkpoint" in json.loads(lines.text.strip().splitlines()[-1])
    assert len(leaves(site, "audit.exported")) == 2
    refused = browser.post("/audit/export", {"period": "", "format": "pdf"})
    assert refused.status_code == 400
    assert "Select the period to download" in refused.text and "Select a format" in refused.text
    browser.no_canaries()


def test_reports_draw_accessible_charts_beside_their_tables(site: Site) -> None:
    delivered(site)
    delivered(site)
    inbound(site)
    browser = auditor(site)
    page = browser.get("/audit/reports")
    assert page.status_code == 200 and "<title>Disclosure reports" in page.text
    svgs = re.findall(r"<svg .*?</svg>", page.text, re.S)
    assert len(svgs) >= 5
    for svg in svgs:
        assert 'role="img"' in svg and "<title id=" in svg and "<desc id=" in svg
        assert "<script" not in svg and "style=" not in svg
    assert "Disclosures sent, by peer area. South-Vale MARAC: 2." in page.text
    assert re.search(
        r'<th scope="row" class="govuk-table__header">South-Vale MARAC</th>\s*'
        r'<td class="govuk-table__cell govuk-table__cell--numeric">2</td>',
        page.text,
    )
    assert "Delivery, median" in page.text and "Acknowledgements overdue" in page.text
    assert browser.get("/audit/reports?period=week").status_code == 200
    refused = browser.get("/audit/reports?period=forever")
    assert refused.status_code == 400 and "<title>Error: Disclosure reports" in refused.text


def test_verify_the_log_and_hold_a_peer_to_its_checkpoints(site: Site) -> None:
    inbound(site)  # the peer's transfer carries its signed checkpoint
    browser = auditor(site)
    page = browser.get("/audit/verify")
    assert page.status_code == 200 and "The log is intact" in page.text
    assert "South-Vale MARAC" in page.text
    checked = browser.post(f"/audit/verify/peers/{PEER}")
    assert checked.status_code == 200
    assert "South-Vale MARAC kept to its log" in checked.text
    [event] = leaves(site, "audit.peer_verified")
    assert event["actor"]["role"] == "auditor" and event["area"] == A
    assert browser.post("/audit/verify/peers/nowhere").status_code == 404

    # An insider edits an entry: the page names the first bad one.
    with insider(site.north) as connection:
        [(leaf,)] = connection.execute(
            text("SELECT leaf FROM audit_events WHERE area_code = :a AND seq = 1"), {"a": A}
        ).all()
        connection.execute(
            text("UPDATE audit_events SET leaf = :l WHERE area_code = :a AND seq = 1"),
            {"l": edit_leaf(leaf, peer_area="elsewhere"), "a": A},
        )
    broken = browser.get("/audit/verify")
    assert "The log has been changed" in broken.text
    assert "The first bad entry is entry 1" in broken.text


def test_subject_access_marks_a_perpetrator_and_records_the_decision(site: Site) -> None:
    made = payload(A, PEER)
    made["perpetrators"] = [PERPETRATOR]
    send_as(site, Principal.operator(), made)
    browser = auditor(site)
    form = browser.get("/audit/subject-access")
    assert form.status_code == 200 and 'autocomplete="off"' in form.text
    person = {
        "given_names": "Quentin",
        "family_name": "Perpcanary",
        "date_of_birth-day": "3",
        "date_of_birth-month": "2",
        "date_of_birth-year": "1980",
        "reference": REFERENCE,
    }
    found = browser.post("/audit/subject-access", person)
    assert found.status_code == 200 and found.headers["Cache-Control"] == "no-store"
    assert "<title>Disclosures about the person" in found.text
    assert "must not be disclosed to a perpetrator" in found.text
    assert re.search(r"govuk-tag--red\">\s*Perpetrator", found.text)
    assert "Consult Northshire MARAC" in found.text
    assert 'name="csrf_token" value=""' not in found.text  # the decision form can be sent
    [search] = leaves(site, "audit.subject_access")
    assert search["details"] == {"matches": 1, "as_perpetrator": 1, "reference": REFERENCE}
    assert search["actor"]["role"] == "auditor"
    assert "Perpcanary" not in json.dumps(search)

    seq = str(search["seq"])
    missing = browser.post(
        "/audit/subject-access/decision", {"search": seq, "reference": REFERENCE}
    )
    assert missing.status_code == 422 and "Select what was decided" in missing.text
    assert "<title>Error: What was decided about the request?" in missing.text
    wrong = browser.post(
        "/audit/subject-access/decision",
        {"search": seq, "reference": "OTHER-1", "decision": "withheld"},
    )
    assert wrong.status_code == 404
    done = browser.post(
        "/audit/subject-access/decision",
        {"search": seq, "reference": REFERENCE, "decision": "withheld"},
    )
    assert done.status_code == 303
    decided = browser.follow(done)
    assert decided.status_code == 200 and "Decision recorded" in decided.text
    assert "Withheld" in decided.text
    [decision] = leaves(site, "audit.subject_access_decided")
    assert decision["details"] == {
        "search": search["seq"],
        "reference": REFERENCE,
        "decision": "withheld",
    }
    again = browser.post(
        "/audit/subject-access/decision",
        {"search": seq, "reference": REFERENCE, "decision": "disclosed"},
    )
    assert again.status_code == 409 and "already recorded" in again.text
    assert browser.get(f"/audit/subject-access/decisions/{search['seq']}").status_code == 404
    browser.no_canaries()
    for seen in (*browser.urls, *browser.titles):
        assert "Perpcanary" not in seen and REFERENCE not in seen


def test_subject_access_form_errors(site: Site) -> None:
    browser = auditor(site)
    empty = browser.post("/audit/subject-access", {})
    assert empty.status_code == 422
    assert "<title>Error: Search for disclosures about a person" in empty.text
    assert "Enter given names" in empty.text and "Enter date of birth" in empty.text
    assert 'href="#date_of_birth-day"' in empty.text
    no_ref = browser.post(
        "/audit/subject-access",
        {
            "given_names": "Ada",
            "date_of_birth-day": "1",
            "date_of_birth-month": "4",
            "date_of_birth-year": "1990",
        },
    )
    assert no_ref.status_code == 422 and "Enter the request" in no_ref.text
    bad_ref = browser.post(
        "/audit/subject-access",
        {
            "given_names": "Ada",
            "date_of_birth-day": "31",
            "date_of_birth-month": "2",
            "date_of_birth-year": "1990",
            "reference": "has spaces",
        },
    )
    assert bad_ref.status_code == 422
    assert "Date of birth must be a real date" in bad_ref.text
    assert "Use up to 40 letters" in bad_ref.text
    assert leaves(site, "audit.subject_access") == []  # nothing searched, nothing recorded


def test_who_may_use_the_audit_pages(site: Site) -> None:
    coordinator = Browser(site, site.add_user("coord", A, "coordinator"))
    assert 'href="/audit"' not in coordinator.get("/").text
    for path in ("/audit", "/audit/reports", "/audit/verify", "/audit/subject-access"):
        assert coordinator.get(path).status_code == 403, path
    assert coordinator.post("/audit/export", {"period": "week", "format": "csv"}).status_code == 403
    assert coordinator.post("/audit/subject-access", {}).status_code == 403
    anonymous = site.app.test_client()
    assert anonymous.get("/audit").status_code == 401
    # An auditor of the other area sees its own area's log only.
    other = auditor(site, "aud-b", B)
    delivered(site)
    assert "Transfer sent (disclosure)</td>" not in other.get("/audit").text


def test_the_accessibility_and_cookies_pages_are_public(site: Site) -> None:
    client = site.app.test_client()
    statement = client.get("/accessibility")
    assert statement.status_code == 200 and "<title>Accessibility statement" in statement.text
    cookies = client.get("/cookies")
    assert cookies.status_code == 200 and "__Host-gw-session" in cookies.text
    assert "30 minutes" in cookies.text and "12 hours" in cookies.text
    login = client.get("/login")
    assert 'href="/accessibility"' in login.text and 'href="/cookies"' in login.text

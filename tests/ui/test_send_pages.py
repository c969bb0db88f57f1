"""The send journey in the browser's terms (Flask test client against real nodes): start a
draft, answer every section, add documents, check, send, and see what happens next."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from support.site import PEER, A, Site, csrf_from, make_site

from gateway.domain.areas import local_areas
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import drafts

VICTIM = "Marigold Featherstonehaugh"
CASE_REF = "NS-CANARY-7731"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def _boxes(name: str, day: date) -> dict[str, str]:
    return {
        f"{name}-day": str(day.day),
        f"{name}-month": str(day.month),
        f"{name}-year": str(day.year),
    }


class Journey:
    """A coordinator's browser: every page fetched, every form posted with its CSRF token,
    every URL and title kept for the canary check."""

    def __init__(self, browser: FlaskClient) -> None:
        self.browser = browser
        self.seen: list[str] = []

    def get(self, url: str, status: int = 200) -> str:
        page = self.browser.get(url)
        assert page.status_code == status, (url, page.status_code)
        self.seen.append(url)
        title = re.search(r"<title>(.*?)</title>", page.text, re.S)
        if title:
            self.seen.append(title[1])
        return page.text

    def post(self, url: str, data: dict[str, Any], status: int = 303, **kw: Any) -> Any:
        token = data.pop("csrf_token", None) or csrf_from(self.get(url))
        answer = self.browser.post(url, data={"csrf_token": token, **data}, **kw)
        assert answer.status_code == status, (url, answer.status_code, answer.text[:3000])
        if answer.status_code == 303:
            self.seen.append(answer.headers["Location"])
        return answer


def _fill(j: Journey, draft: str) -> None:
    today = date.today()
    j.post(
        f"/drafts/{draft}/sender",
        {
            "sender-name": "Bea Sample",
            "sender-role": "MARAC coordinator",
            "sender-mailbox": "marac@northshire.example",
        },
    )
    j.post(
        f"/drafts/{draft}/case",
        {
            "originating_case_ref": CASE_REF,
            "heard_at_originating_marac": "yes",
            "marac_count_last_12_months": "2",
            **_boxes("last_marac_date", today - timedelta(days=14)),
        },
    )
    j.post(f"/drafts/{draft}/urgency", {"urgent": "no"})
    j.post(f"/drafts/{draft}/move", {**_boxes("move-date", today + timedelta(days=3))})
    # Safe contact asks one thing a page, each leading to the next.
    answer = j.post(f"/drafts/{draft}/contact-allowed", {"contact-do_not_contact": "no"})
    assert answer.headers["Location"].endswith("/contact-phone")
    j.post(f"/drafts/{draft}/contact-phone", {})
    j.post(
        f"/drafts/{draft}/contact-other",
        {"contact-other_safe_ways": "Via the refuge key worker only"},
    )
    j.post(f"/drafts/{draft}/referral", {"referral-incident": "Assault at the former home"})
    j.post(f"/drafts/{draft}/idva", {})
    given, family = VICTIM.split()
    j.post(
        f"/drafts/{draft}/victim",
        {
            "victim-given_names": given,
            "victim-family_name": family,
            **_boxes("victim-date_of_birth", date(1990, 4, 2)),
            "victim-interpreter_needed": "no",
        },
    )
    j.post(f"/drafts/{draft}/list/perpetrators/new", {"given_names": "Rex", "family_name": "Stone"})
    j.post(f"/drafts/{draft}/list/perpetrators", {})
    j.post(f"/drafts/{draft}/list/children", {})
    j.post(
        f"/drafts/{draft}/risk", {"referral_criteria": ["visible_high_risk"], "dash_score": "17"}
    )
    j.post(
        f"/drafts/{draft}/list/risks/new",
        {"risk": "Stalking at the new address", "to_whom": "victim"},
    )
    j.post(f"/drafts/{draft}/list/risks", {})
    j.post(f"/drafts/{draft}/list/outstanding_actions", {})
    j.post(f"/drafts/{draft}/restriction", {"restricted": "no"})
    j.post(f"/drafts/{draft}/consent-informed", {"consent-victim_informed": "yes"})
    j.post(f"/drafts/{draft}/consent-given", {"consent-consent": "refused"})
    j.post(
        f"/drafts/{draft}/consent-grounds",
        {
            "consent-grounds": [
                "dpa_2018_sch1_para18_safeguarding",
                "crime_and_disorder_act_1998_s115",
            ]
        },
    )
    j.post(
        f"/drafts/{draft}/consent-disclosure",
        {
            "consent-rationale": "Risk of serious harm",
            "consent-disclosed": "The case and the minutes",
            "consent-restrictions": "Only for the receiving MARAC",
        },
    )
    j.post(
        f"/drafts/{draft}/consent-decision",
        {
            "consent-decided_by-name": "Cal Chair",
            "consent-decided_by-role": "MARAC chair",
            **_boxes("consent-decided_at", today),
            "consent-decided_at-time": "00:05",
            "consent-decision_forum": "at_meeting",
        },
    )


def test_a_coordinator_sends_a_transfer_page_by_page(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    j = Journey(site.login(person))
    started = j.post("/transfers/new", {"to_area": PEER, "reason": "relocation_refuge"})
    draft = started.headers["Location"].rsplit("/", 1)[-1]
    assert "Not yet started" in j.get(f"/drafts/{draft}")
    _fill(j, draft)
    # A box left empty is saved as no answer (never the text "None").
    with site.north.node.sessions() as db:
        _, content = drafts.draft_content(db, site.north.node.master, Principal.operator(), draft)
    assert content["victim"]["address"] is None and content["move"]["new_address"] is None
    assert content["idva"] is None  # an optional page left empty records no IDVA
    task_list = j.get(f"/drafts/{draft}")
    assert task_list.count("Completed") >= 11, task_list
    j.post(
        f"/drafts/{draft}/documents",
        {"kind": "minutes", "file": (__import__("io").BytesIO(PDF), "x.pdf")},
        content_type="multipart/form-data",
    )
    check = j.get(f"/drafts/{draft}/check")
    assert "Send the transfer" in check and VICTIM.split()[0] in check
    sent = j.post(f"/drafts/{draft}/send", {"csrf_token": csrf_from(check)})
    assert j.get(sent.headers["Location"]).count("Transfer sent") >= 1
    # Delivered by the worker; the minutes follow it.
    assert site.north.deliver() >= 1
    site.north.deliver()
    assert site.south.count("documents") == 1
    for seen in j.seen:
        assert VICTIM.split()[0] not in seen and CASE_REF not in seen, seen


def test_refusals_are_worded_at_their_fields_and_nothing_is_kept(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    j = Journey(site.login(person))
    page = j.get("/transfers/new")
    refused = j.browser.post("/transfers/new", data={"csrf_token": csrf_from(page)})
    assert refused.status_code == 422
    assert "Error: Send a transfer" in refused.text
    assert (
        'href="#to_area"' in refused.text
        and "Select the MARAC you are sending the case to" in refused.text
    )
    started = j.post("/transfers/new", {"to_area": PEER, "reason": "risk_in_other_area"})
    draft = started.headers["Location"].rsplit("/", 1)[-1]
    page = j.get(f"/drafts/{draft}/victim")
    refused = j.browser.post(
        f"/drafts/{draft}/victim",
        data={
            "csrf_token": csrf_from(page),
            "victim-family_name": "Zzyzx-Canary",
            "victim-date_of_birth-day": "31",
            "victim-date_of_birth-month": "2",
            "victim-date_of_birth-year": "1990",
        },
    )
    assert refused.status_code == 422
    assert "Enter given names" in refused.text
    assert "Date of birth must be a real date" in refused.text
    assert 'href="#victim-date_of_birth-day"' in refused.text
    # What was typed is shown again in its box, never in a message.
    assert refused.text.count("Zzyzx-Canary") == 1
    # The move section does not apply to a risk in another area.
    assert "The move" not in j.get(f"/drafts/{draft}")
    check = j.get(f"/drafts/{draft}/check")
    assert "The transfer cannot be sent yet" in check and "Send the transfer" not in check
    assert f'href="/drafts/{draft}/victim"' in check


def test_a_draft_can_be_deleted_and_others_cannot_open_it(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    other = site.add_user("other", "eastmoor", "coordinator")
    chair = site.add_user("chair", A, "chair")
    j = Journey(site.login(person))
    draft = (
        j.post("/transfers/new", {"to_area": PEER, "reason": "relocation_refuge"})
        .headers["Location"]
        .rsplit("/", 1)[-1]
    )
    assert site.login(other).get(f"/drafts/{draft}").status_code == 404
    assert site.login(chair).get(f"/drafts/{draft}").status_code == 403
    done = j.post(f"/drafts/{draft}/delete", {})
    assert done.headers["Location"] == "/drafts/deleted"
    assert j.browser.get(f"/drafts/{draft}").status_code == 404
    assert site.north.count("transfers") == 0


def test_a_peer_on_version_1_refuses_what_it_cannot_carry_on_the_check_page(site: Site) -> None:
    # The peer's bundle as a node accepting only transfer_request version 1 publishes it.
    with site.south.node.sessions() as db, db.begin():
        bundle = local_areas.export_bundle(
            db, site.south.node.master, PEER, utcnow(), {"transfer_request": (1,)}
        )
    site.north.import_peer(bundle)
    person = site.add_user("coord", A, "coordinator")
    j = Journey(site.login(person))
    started = j.post("/transfers/new", {"to_area": PEER, "reason": "relocation_refuge"})
    draft = started.headers["Location"].rsplit("/", 1)[-1]
    _fill(j, draft)
    check = j.get(f"/drafts/{draft}/check")
    refused = j.post(f"/drafts/{draft}/send", {"csrf_token": csrf_from(check)}, status=409)
    assert "transfer_request version(s) 1 only" in refused.text
    assert f'href="/drafts/{draft}/referral"' in refused.text
    assert VICTIM.split()[0] not in refused.text.split("govuk-error-summary")[1][:2000]
    with site.north.node.sessions() as db:
        assert drafts.draft_content(db, site.north.node.master, Principal.operator(), draft)
    assert site.north.count("outbox") == 0


def test_documents_to_follow_and_not_shared_are_listed_checked_and_sent(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    j = Journey(site.login(person))
    started = j.post("/transfers/new", {"to_area": PEER, "reason": "relocation_refuge"})
    draft = started.headers["Location"].rsplit("/", 1)[-1]
    _fill(j, draft)
    follow, withheld = (
        f"/drafts/{draft}/list/documents.to_follow",
        (f"/drafts/{draft}/list/documents.not_shared"),
    )
    tasks = j.get(f"/drafts/{draft}")
    assert f'href="{follow}"' in tasks and f'href="{withheld}"' in tasks
    assert "You have not added any yet" in j.get(follow)
    # Each entry is asked on its own page; what is missing is worded at its field.
    page = j.get(f"{follow}/new")
    refused = j.browser.post(f"{follow}/new", data={"csrf_token": csrf_from(page)})
    assert refused.status_code == 422 and "Error: " in refused.text
    assert 'href="#document"' in refused.text and 'href="#by-day"' in refused.text
    by = date.today() + timedelta(days=10)
    j.post(f"{follow}/new", {"document": "minutes", **_boxes("by", by)})
    j.post(f"{follow}/new", {"document": "original_referral", **_boxes("by", by)})
    listed = j.get(follow)
    assert "Minutes of the MARAC meeting" in listed and "Add another document to follow" in listed
    j.post(f"{follow}/1/remove", {"csrf_token": csrf_from(listed)})
    j.post(follow, {})
    j.post(f"{withheld}/new", {"document": "dash_ric", "reason": "Held by the police only"})
    j.post(withheld, {})
    assert j.get(f"/drafts/{draft}").count("Completed") >= 13
    check = j.get(f"/drafts/{draft}/check")
    assert "Which document will follow?: Minutes of the MARAC meeting" in check
    assert by.strftime("%-d %B %Y") in check
    assert "The DASH risk checklist" in check and "Held by the police only" in check
    assert "The original referral" not in check  # removed from the list
    sent = j.post(f"/drafts/{draft}/send", {"csrf_token": csrf_from(check)})
    assert site.north.deliver() >= 1
    transfer_id = sent.headers["Location"].split("/")[2]
    assert site.north.scalar("SELECT kind FROM promised_documents") == "minutes"
    case = j.get(f"/cases/{transfer_id}")
    assert "Documents promised to follow" in case and "Still missing" in case
    for seen in j.seen:
        assert VICTIM.split()[0] not in seen and CASE_REF not in seen, seen

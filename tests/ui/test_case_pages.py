"""The case page and the receiving area's actions, through the Flask test client on real
nodes: the peer seals and delivers a real transfer over HTTP, people sign in through the
real login pages, every form posts with the session's CSRF token, and what the pages do is
checked on both nodes (the acknowledgement, request and permission arrive at the sender).
A canary victim name and case reference must never reach a URL or a page title."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from support.site import PASSWORD, PEER, A, B, Site, csrf_from, make_site

from gateway.devtools.samples import sample_transfer
from gateway.domain.casework import (
    acknowledgements,
    documents,
    forwarding,
    information_requests,
    withdrawal,
)
from gateway.domain.clock import utcnow
from gateway.domain.identity import users
from gateway.domain.identity.principals import Principal
from gateway.domain.schedule import meetings
from gateway.domain.transfers import drafts

WEST = "west-fen"
CANARY_NAME = "Quillonbright"
CANARY_REF = "CANARY-REF-7781"
TITLE = re.compile(r"<title>(.*?)</title>", re.S)
PERSON = {"acknowledged_by-name": "Cora Ordinator", "acknowledged_by-role": "MARAC coordinator"}


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def canary(site: Site, area: str = A, **changes: Any) -> str:
    """A transfer from the peer carrying the canary, delivered over HTTP; its id here."""
    payload = sample_transfer(PEER, area, victim=CANARY_NAME)
    payload["originating_case_ref"] = CANARY_REF
    payload.update(changes)
    site.south.send(payload, PEER, area)
    assert site.south.deliver() == 1
    return next(t for t in site.north.transfers(area) if t.direction == "inbound").id


def card(body: str, title: str) -> int:
    """Where the summary card with this title starts on the page."""
    found = re.search(rf'summary-card__title">\s*{re.escape(title)}\s*<', body)
    assert found, title
    return found.start()


def sender_status(site: Site) -> str:
    return str(site.south.scalar("SELECT status FROM transfers ORDER BY created_at DESC"))


def signed_in(site: Site, name: str, role: str, area: str = A) -> FlaskClient:
    return site.login(site.add_user(name, area, role))


class Visits:
    """Every URL asked for and every title seen, to check for the canary at the end."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.titles: list[str] = []

    def get(self, browser: FlaskClient, url: str) -> Any:
        answer = browser.get(url)
        self.saw(url, answer)
        return answer

    def post(self, browser: FlaskClient, url: str, data: dict[str, Any]) -> Any:
        page = self.get(browser, url)
        answer = browser.post(url, data={**data, "csrf_token": csrf_from(page.text)})
        self.saw(url, answer)
        return answer

    def saw(self, url: str, answer: Any) -> None:
        self.urls += [url, answer.headers.get("Location", "")]
        if answer.mimetype == "text/html":
            found = TITLE.search(answer.text)
            assert found, url
            self.titles.append(found[1])

    def check_no_canary(self) -> None:
        for seen in (*self.urls, *self.titles):
            assert CANARY_NAME not in seen and CANARY_REF not in seen, seen


def test_coordinator_and_chair_read_the_case_with_safe_contact_first(site: Site) -> None:
    transfer_id = canary(site)
    visits = Visits()
    for name, role in (("coord", "coordinator"), ("chair", "chair")):
        browser = signed_in(site, name, role)
        page = visits.get(browser, f"/cases/{transfer_id}")
        assert page.status_code == 200
        body = page.text
        assert "<title>Inbound transfer \u2013 MARAC Exchange</title>" in body
        assert CANARY_NAME in body and CANARY_REF in body
        safety = body.index("Before you contact anyone")
        # The safe number and the restrictions come before the case and the victim.
        assert safety < body.index("01632 960000") < body.index(CANARY_NAME)
        assert body.index("Not to be shared beyond the receiving MARAC.") < card(body, "Victim")
        # Referral-form order, lawful grounds by their labels, status as a tag with text.
        order = [card(body, h) for h in ("Sender", "Case", "Move", "Victim", "Perpetrator 1")]
        assert order == sorted(order)
        assert "Crime and Disorder Act 1998, section 115" in body
        assert "Waiting for acknowledgement" in body and "govuk-tag" in body
        assert "Received from the sending area" in body  # the timeline in words
    opened = site.north.scalar("SELECT count(*) FROM audit_events WHERE action = 'content.opened'")
    assert opened == 2
    visits.check_no_canary()


def test_the_auditor_sees_metadata_and_the_timeline_only(site: Site) -> None:
    transfer_id = canary(site)
    browser = signed_in(site, "audit", "auditor")
    page = browser.get(f"/cases/{transfer_id}")
    assert page.status_code == 200
    assert CANARY_NAME not in page.text and CANARY_REF not in page.text
    assert "01632 960000" not in page.text
    assert "Received from the sending area" in page.text
    assert "but not what it says about anyone" in page.text
    assert "Acknowledge or redirect" not in page.text
    opened = site.north.scalar("SELECT count(*) FROM audit_events WHERE action = 'content.opened'")
    assert opened == 0


def test_admins_and_other_areas_never_reach_the_case(site: Site) -> None:
    transfer_id = canary(site)
    admin = signed_in(site, "admin", "admin")
    assert admin.get(f"/cases/{transfer_id}").status_code == 403
    other = signed_in(site, "other", "coordinator", area=B)
    answer = other.get(f"/cases/{transfer_id}")
    assert answer.status_code == 404
    assert CANARY_NAME not in answer.text
    assert other.get(f"/cases/{transfer_id}/acknowledge").status_code == 404
    assert other.get("/cases/not-a-uuid").status_code == 404


def test_a_document_downloads_as_the_api_serves_it_and_is_audited(site: Site) -> None:
    transfer_id = canary(site)
    sent = site.south.transfers(PEER)[0]
    with site.south.node.sessions() as db:
        documents.send_document(
            db,
            site.south.node.master,
            Principal.operator(),
            sent.id,
            documents.file_upload("minutes", b"Minutes of the meeting.\n", None, 10_000),
            utcnow(),
        )
    assert site.south.deliver() == 1
    coordinator = signed_in(site, "coord", "coordinator")
    page = coordinator.get(f"/cases/{transfer_id}")
    link = re.search(rf'href="(/cases/{transfer_id}/documents/[0-9a-f-]+)"', page.text)
    assert link, "no download link"
    download = coordinator.get(link[1])
    assert download.status_code == 200
    assert download.data == b"Minutes of the meeting.\n"
    assert re.fullmatch(
        r'attachment; filename="minutes-[0-9a-f]{8}\.txt"', download.headers["Content-Disposition"]
    )
    assert download.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    downloaded = site.north.scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'document.downloaded'"
    )
    assert downloaded == 1
    auditor = signed_in(site, "audit", "auditor")
    assert auditor.get(link[1]).status_code == 403


def test_received_minutes_show_who_agreed_to_share_them(site: Site) -> None:
    transfer_id = canary(site)
    sent = site.south.transfers(PEER)[0]
    today = utcnow().date().isoformat()
    posted = {
        "meeting_date": today,
        "attendees": [{"agency": "Police", "area": PEER}],
        "confidentiality_statement_confirmed": True,
        "entries": [
            {"kind": "professional_judgement", "source_agency": "Police", "text": "Rising."}
        ],
        "sharing_agreed_by": ["Police", "Housing"],
    }
    with site.south.node.sessions() as db:
        documents.send_document(
            db,
            site.south.node.master,
            Principal.operator(),
            sent.id,
            documents.minutes_upload({"kind": "minutes", "minutes": posted}, 10**6),
            utcnow(),
        )
    assert site.south.deliver() == 1
    coordinator = signed_in(site, "coord", "coordinator")
    page = coordinator.get(f"/cases/{transfer_id}")
    link = re.search(rf'href="(/cases/{transfer_id}/documents/[0-9a-f-]+/minutes)"', page.text)
    assert link, "no link to the minutes"
    minutes = coordinator.get(link[1])
    assert minutes.status_code == 200 and "<title>Minutes" in minutes.text
    shown = minutes.text
    assert shown.index("Agencies that agreed to share these minutes") < shown.index("Rising.")
    assert "Police<br>Housing" in shown and "Professional judgement from Police" in shown
    assert f"Police (covers {PEER})" in shown
    assert (
        site.north.scalar("SELECT count(*) FROM audit_events WHERE action = 'document.downloaded'")
        == 1
    )
    # A file is no structured minutes; an auditor never reads them.
    assert (
        coordinator.get(f"/cases/{transfer_id}/documents/{transfer_id}/minutes").status_code == 404
    )
    assert signed_in(site, "audit", "auditor").get(link[1]).status_code == 403


def test_accept_for_one_of_the_meeting_dates(site: Site) -> None:
    transfer_id = canary(site)
    meeting = (utcnow() + timedelta(days=9)).date()
    with site.north.node.sessions() as db:
        meetings.set_meetings(db, Principal.operator(), A, now=utcnow(), replace=[meeting])
    browser = signed_in(site, "coord", "coordinator")
    visits = Visits()
    url = f"/cases/{transfer_id}/acknowledge"
    form = visits.get(browser, url)
    assert form.status_code == 200
    assert f'value="{meeting.isoformat()}"' in form.text
    # The first meeting whose referral deadline has not passed is the default.
    assert f'value="{meeting.isoformat()}" checked' in form.text
    assert ">None<" not in form.text

    # Nothing acknowledged yet: no confirmation to show.
    assert visits.get(browser, f"/cases/{transfer_id}/done/acknowledged").status_code == 404
    refused = visits.post(browser, url, {"status": "accepted", **PERSON})
    assert refused.status_code == 422
    assert "<title>Error: Acknowledge the transfer" in refused.text
    assert "There is a problem" in refused.text
    assert 'href="#idva_referred"' in refused.text
    # What was typed is back in its box, and the answer chosen stays chosen.
    assert 'value="Cora Ordinator"' in refused.text
    assert re.search(r'value="accepted" checked|checked[^>]*value="accepted"', refused.text)
    refused = visits.post(browser, url, {"status": "accepted", "idva_referred": "no", **PERSON})
    assert refused.status_code == 422
    assert 'href="#listed_for"' in refused.text
    assert "Select the meeting the case is listed for" in refused.text

    done = visits.post(
        browser,
        url,
        {
            "status": "accepted",
            "listed_for": meeting.isoformat(),
            "idva_referred": "yes",
            "receiving_case_ref": "LOCAL-1",
            "redirect_to": B,  # the other branch: ignored
            **PERSON,
        },
    )
    assert done.status_code == 303
    assert done.headers["Location"] == f"/cases/{transfer_id}/done/acknowledged"
    confirmation = visits.get(browser, done.headers["Location"])
    assert "Case accepted" in confirmation.text
    assert meeting.strftime("%-d %B %Y") in confirmation.text
    assert site.north.deliver() == 1
    assert sender_status(site) == "acknowledged"
    case = visits.get(browser, f"/cases/{transfer_id}")
    assert "Acknowledged" in case.text and "Acknowledge or redirect" not in case.text
    visits.check_no_canary()


def test_an_urgent_case_is_listed_for_an_emergency_meeting_on_another_date(
    site: Site,
) -> None:
    """Seed 000 4.22, 001 4.3.1: only an urgent case's page offers an emergency meeting on
    a day off the area's dates; a bad or past date is the GOV.UK error summary at its boxes."""
    meeting = (utcnow() + timedelta(days=9)).date()
    with site.north.node.sessions() as db:
        meetings.set_meetings(db, Principal.operator(), A, now=utcnow(), replace=[meeting])
    browser = signed_in(site, "coord", "coordinator")
    visits = Visits()
    plain = canary(site)
    offer = "An emergency meeting on another date"
    assert offer not in visits.get(browser, f"/cases/{plain}/acknowledge").text
    urgent = canary(site, urgent=True, urgent_reason="Threats to kill this weekend")
    url = f"/cases/{urgent}/acknowledge"
    form = visits.get(browser, url)
    assert form.status_code == 200
    assert offer in form.text and 'id="emergency_date-day"' in form.text
    answer = {"status": "accepted", "idva_referred": "yes", "listed_for": "emergency", **PERSON}
    for boxes, message in (
        ({}, "Enter the date of the emergency meeting"),
        ({"day": "31", "month": "2", "year": "2030"}, "date"),
        (_boxes(utcnow().date() - timedelta(days=2)), "past"),
    ):
        refused = visits.post(
            browser, url, answer | {f"emergency_date-{k}": v for k, v in boxes.items()}
        )
        assert refused.status_code == 422, refused.text
        summary = refused.text.split("govuk-error-summary__list")[1].split("</ul>")[0]
        assert 'href="#emergency_date-day"' in summary and message in summary
    tomorrow = (utcnow() + timedelta(days=1)).date()
    done = visits.post(
        browser, url, answer | {f"emergency_date-{k}": v for k, v in _boxes(tomorrow).items()}
    )
    assert done.status_code == 303, done.text
    assert site.north.deliver() == 1
    assert sender_status(site) == "acknowledged"
    case = visits.get(browser, f"/cases/{urgent}")
    assert "(an emergency meeting)" in case.text
    assert tomorrow.strftime("%-d %B %Y") in case.text
    visits.check_no_canary()


def _boxes(day: Any) -> dict[str, str]:
    return {"day": str(day.day), "month": str(day.month), "year": str(day.year)}


def test_the_idva_referral_is_reported_from_the_accepted_case(site: Site) -> None:
    """After the acknowledgement: a link on the case page, the form with its GOV.UK error
    summary, the confirmation; the sending area's case shows the report."""
    transfer_id = canary(site)
    browser = signed_in(site, "coord", "coordinator")
    visits = Visits()
    label = "Report the referral to the IDVA service"
    assert label not in visits.get(browser, f"/cases/{transfer_id}").text
    acknowledged = visits.post(
        browser,
        f"/cases/{transfer_id}/acknowledge",
        {
            "status": "accepted",
            "listed_for-day": str((utcnow() + timedelta(days=9)).day),
            "listed_for-month": str((utcnow() + timedelta(days=9)).month),
            "listed_for-year": str((utcnow() + timedelta(days=9)).year),
            "idva_referred": "no",
            **PERSON,
        },
    )
    assert acknowledged.status_code == 303, acknowledged.text
    assert site.north.deliver() == 1
    case = visits.get(browser, f"/cases/{transfer_id}")
    url = f"/cases/{transfer_id}/idva-referral"
    assert label in case.text and f'href="{url}"' in case.text
    form = visits.get(browser, url)
    assert form.status_code == 200 and "Send the report" in form.text
    refused = visits.post(browser, url, {"reported_by-name": "Cora Ordinator"})
    assert refused.status_code == 422
    assert "<title>Error: " in refused.text and "There is a problem" in refused.text
    assert 'href="#referred_on-day"' in refused.text and 'href="#idva_service"' in refused.text
    yesterday = (utcnow() - timedelta(days=1)).date()
    done = visits.post(
        browser,
        url,
        {
            "referred_on-day": str(yesterday.day),
            "referred_on-month": str(yesterday.month),
            "referred_on-year": str(yesterday.year),
            "idva_service": "Northshire IDVA Service",
            "outcome": "accepted",
            "reported_by-name": "Cora Ordinator",
            "reported_by-role": "MARAC coordinator",
        },
    )
    assert done.status_code == 303, done.text
    assert done.headers["Location"] == f"/cases/{transfer_id}/done/idva-referred"
    assert "Referral reported" in visits.get(browser, done.headers["Location"]).text
    assert site.north.deliver() == 1
    south = Site(site.south, site.north, {})  # users added here live on the south node
    sender = south.login(south.add_user("sender", PEER, "coordinator"))
    sent = next(t for t in site.south.transfers(PEER) if t.direction == "outbound")
    page = visits.get(sender, f"/cases/{sent.id}").text
    assert "Referral to the IDVA service reported by the receiving area" in page
    visits.check_no_canary()


def test_redirect_to_another_area(site: Site) -> None:
    transfer_id = canary(site)
    browser = signed_in(site, "coord", "coordinator")
    visits = Visits()
    url = f"/cases/{transfer_id}/acknowledge"
    form = visits.get(browser, url)
    # No meeting dates set: a date is asked for; the peers offered exclude this case's two.
    assert 'name="listed_for-day"' in form.text
    assert f'value="{B}"' in form.text and f'value="{PEER}"' not in form.text
    done = visits.post(
        browser,
        url,
        {"status": "redirected", "redirect_to": B, "idva_referred": "no", **PERSON},
    )
    assert done.status_code == 422 and 'href="#redirect_reason"' in done.text
    done = visits.post(
        browser,
        url,
        {
            "status": "redirected",
            "redirect_to": B,
            "redirect_reason": "victim_not_resident",
            "idva_referred": "no",
            **PERSON,
        },
    )
    assert done.status_code == 303, done.text
    assert "Case redirected" in visits.get(browser, done.headers["Location"]).text
    assert site.north.deliver() == 1
    assert sender_status(site) == "redirected"
    visits.check_no_canary()


def test_ask_for_more_information(site: Site) -> None:
    transfer_id = canary(site)
    browser = signed_in(site, "coord", "coordinator")
    visits = Visits()
    url = f"/cases/{transfer_id}/request-information"
    refused = visits.post(
        browser, url, {"requested_by-name": "Cora", "requested_by-role": "Coordinator"}
    )
    assert refused.status_code == 422 and 'href="#what"' in refused.text
    done = browser.post(
        url,
        data={
            "what": ["minutes", "dash_ric"],
            "note": "The last two meetings, please.",
            "requested_by-name": "Cora",
            "requested_by-role": "Coordinator",
            "csrf_token": csrf_from(refused.text),
        },
    )
    assert done.status_code == 303
    assert "Request sent" in visits.get(browser, done.headers["Location"]).text
    assert site.north.deliver() == 1
    assert sender_status(site) == "information_requested"
    case = visits.get(browser, f"/cases/{transfer_id}")
    assert "Minutes of the MARAC meeting, The DASH risk checklist" in case.text
    visits.check_no_canary()


def test_ask_permission_then_forward_to_a_third_node_once_granted(
    site: Site, node_factory: Any
) -> None:
    west = node_factory("west")
    west.create_area(WEST)
    west.import_peer(site.north.bundle(A))
    site.north.import_peer(west.bundle(WEST))
    transfer_id = canary(site)
    browser = signed_in(site, "coord", "coordinator")
    visits = Visits()
    forward = visits.get(browser, f"/cases/{transfer_id}/forward")
    assert "has not given permission" in forward.text
    done = visits.post(
        browser,
        f"/cases/{transfer_id}/ask-forward",
        {
            "forward_to": WEST,
            "reason": "relocation_permanent",
            "requested_by-name": "Cora",
            "requested_by-role": "Coordinator",
        },
    )
    assert done.status_code == 303, done.text
    assert "Permission asked for" in visits.get(browser, done.headers["Location"]).text
    assert site.north.deliver() == 1
    # The originating area grants it on its own node; the grant travels back.
    sent = site.south.transfers(PEER)[0]
    request_id = site.south.scalar("SELECT request_id FROM forward_permissions")
    with site.south.node.sessions() as db:
        covered = documents.send_document(
            db,
            site.south.node.master,
            Principal.operator(),
            sent.id,
            documents.Outgoing("dash_ric", b"checklist\n", "text/plain"),
            utcnow(),
        )
    with site.south.node.sessions() as db:
        forwarding.decide(
            db,
            site.south.node.master,
            Principal.operator(),
            sent.id,
            {
                "request_id": request_id,
                "decision": "granted",
                "decided_by": {"name": "Sam", "role": "MARAC coordinator"},
                "restrictions": "No onward sharing.",
                "restricted": True,
                "restricted_reason": "honour_based_violence",
                "documents": [covered.id],
            },
            utcnow(),
        )
    assert site.south.deliver() == 2
    case = visits.get(browser, f"/cases/{transfer_id}")
    assert "Forward this case" in case.text
    # The forward page shows what the grant allows, and offers only its documents.
    page = visits.get(browser, f"/cases/{transfer_id}/forward")
    assert "Restrictions that go with the case" in page.text
    assert "No onward sharing." in page.text and "Yes: Honour-based violence" in page.text
    assert f'type="checkbox" value="{covered.id}"' in page.text
    # Forwarding is this area's own disclosure: its sender details and consent decision.
    missing = visits.post(browser, f"/cases/{transfer_id}/forward", {"to_area": WEST})
    assert missing.status_code == 422 and 'href="#consent-victim_informed"' in missing.text, (
        re.findall(r'href="#[^"]*"', missing.text)
    )
    yesterday = utcnow().date() - timedelta(days=1)
    own = {
        "to_area": WEST,
        "sender-name": "Cora",
        "sender-role": "Coordinator",
        "sender-mailbox": "marac@north.example",
        "consent-victim_informed": "yes",
        "consent-consent": "given",
        "consent-decided_by-name": "Chair",
        "consent-decided_by-role": "MARAC chair",
        "consent-decided_at-day": str(yesterday.day),
        "consent-decided_at-month": str(yesterday.month),
        "consent-decided_at-year": str(yesterday.year),
        "consent-decided_at-time": "10:00",
        "consent-decision_forum": "at_meeting",
    }
    done = visits.post(browser, f"/cases/{transfer_id}/forward", {**own, "documents": covered.id})
    assert done.status_code == 303, done.text
    confirmation = visits.get(browser, done.headers["Location"])
    assert "Case forwarded" in confirmation.text
    onward = re.search(r'href="/cases/([0-9a-f-]{36})"', confirmation.text)
    assert onward and onward[1] != transfer_id
    outbound = visits.get(browser, f"/cases/{onward[1]}")
    assert "<title>Outbound transfer \u2013 MARAC Exchange</title>" in outbound.text
    assert f"/cases/{onward[1]}/withdraw" in outbound.text
    # The case arrives at the third node, from this area, sealed again.
    assert site.north.deliver() == 2  # the case, then the covered document
    arrived = west.transfers(WEST)
    assert len(arrived) == 1 and arrived[0].from_area == A and arrived[0].restricted
    assert west.count("documents") == 1
    visits.check_no_canary()


def test_a_restricted_case_opens_only_for_the_named(site: Site) -> None:
    transfer_id = canary(site, restricted=True, restricted_reason="honour_based_violence")
    first = site.add_user("first", A, "coordinator")
    second = site.add_user("second", A, "coordinator")
    one, two = site.login(first), site.login(second)
    visits = Visits()
    chair_user = site.add_user("chair", A, "chair")
    chair = site.login(chair_user)
    # Nobody named yet: nobody opens it, and the page says so, and who decides.
    page = visits.get(one, f"/cases/{transfer_id}")
    assert page.status_code == 403
    assert "You cannot open this case" in page.text and CANARY_NAME not in page.text
    assert "Nobody has been named on it yet" in page.text
    assert "MARAC chair decides who may open it" in page.text
    assert f"/cases/{transfer_id}/access" not in page.text
    # A coordinator sees the naming page without its form: the chair decides.
    naming = visits.get(one, f"/cases/{transfer_id}/access")
    assert naming.status_code == 200
    assert "Only your area&#39;s MARAC chair decides" in naming.text
    assert "Save who may open it" not in naming.text
    refused = visits.post(one, f"/cases/{transfer_id}/access", {"users": [first.user_id]})
    assert refused.status_code == 403
    assert "govuk-error-summary" in refused.text and "Ask your chair" in refused.text
    # The chair's case page links to naming; the chair names.
    chair_page = visits.get(chair, f"/cases/{transfer_id}")
    assert chair_page.status_code == 403 and f"/cases/{transfer_id}/access" in chair_page.text
    naming = visits.get(chair, f"/cases/{transfer_id}/access")
    assert first.email in naming.text and second.email in naming.text
    assert "Save who may open it" in naming.text
    done = visits.post(chair, f"/cases/{transfer_id}/access", {"users": [first.user_id]})
    assert done.status_code == 303, done.text
    assert "Access saved" in visits.get(chair, done.headers["Location"]).text
    opened = visits.get(one, f"/cases/{transfer_id}")
    assert opened.status_code == 200 and CANARY_NAME in opened.text
    refused = visits.get(two, f"/cases/{transfer_id}")
    assert refused.status_code == 403
    assert first.email in refused.text and CANARY_NAME not in refused.text
    # A named coordinator does not change the list either.
    again = visits.post(one, f"/cases/{transfer_id}/access", {"users": [second.user_id]})
    assert again.status_code == 403
    assert "Only the area&#39;s MARAC chair decides" in again.text
    # The chair, not named, still cannot open it; an auditor sees the metadata.
    chair_page = visits.get(chair, f"/cases/{transfer_id}")
    assert chair_page.status_code == 403 and first.email in chair_page.text
    auditor = visits.get(signed_in(site, "audit", "auditor"), f"/cases/{transfer_id}")
    assert auditor.status_code == 200 and "This is a restricted case." in auditor.text
    assert CANARY_NAME not in auditor.text
    visits.check_no_canary()


def test_a_case_withdrawn_before_it_was_opened_is_gone(site: Site) -> None:
    transfer_id = canary(site)
    sent = site.south.transfers(PEER)[0]
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
    browser = signed_in(site, "coord", "coordinator")
    page = browser.get(f"/cases/{transfer_id}")
    assert page.status_code == 410
    assert "This case was withdrawn" in page.text and CANARY_NAME not in page.text
    auditor = signed_in(site, "audit", "auditor")
    metadata = auditor.get(f"/cases/{transfer_id}")
    assert metadata.status_code == 200 and "Withdrawn by the sending area" in metadata.text


def test_the_sender_sees_the_receipt_the_answer_and_open_requests(site: Site) -> None:
    transfer_id = site.outbound(A)
    assert site.north.deliver() == 1
    received = next(t for t in site.south.transfers(PEER) if t.direction == "inbound")
    listed = (utcnow() + timedelta(days=5)).date()
    asker = {"name": "Sam", "role": "MARAC coordinator"}
    with site.south.node.sessions() as db:
        information_requests.request_information(
            db,
            site.south.node.master,
            Principal.operator(),
            received.id,
            {"what": ["minutes"], "requested_by": asker},
            utcnow(),
        )
    with site.south.node.sessions() as db:
        acknowledgements.acknowledge(
            db,
            site.south.node.master,
            Principal.operator(),
            received.id,
            {
                "status": "accepted",
                "listed_for": listed.isoformat(),
                "idva_referred": True,
                "acknowledged_by": asker,
            },
            utcnow(),
        )
    assert site.south.deliver() == 2
    browser = signed_in(site, "coord", "coordinator")
    page = browser.get(f"/cases/{transfer_id}")
    assert page.status_code == 200
    assert "<title>Outbound transfer \u2013 MARAC Exchange</title>" in page.text
    assert "Delivery receipt" in page.text and "No receipt yet" not in page.text
    assert "Accepted and listed for a meeting" in page.text
    assert listed.strftime("%-d %B %Y") in page.text
    request_id = site.north.scalar("SELECT request_id FROM information_requests")
    assert f"/cases/{transfer_id}/requests/{request_id}/answer" in page.text
    assert f"/cases/{transfer_id}/withdraw" in page.text
    assert f"/cases/{transfer_id}/repeat-incident" in page.text
    # The sender's own case content is readable by its coordinator.
    assert "Before you contact anyone" in page.text
    # The acknowledgement opens on its own page, audited.
    views = re.findall(rf'href="(/cases/{transfer_id}/messages/[0-9a-f-]+)"', page.text)
    shown = [browser.get(url).text for url in views]
    answer = next(text for text in shown if '<h1 class="govuk-heading-l">Acknowledgement' in text)
    assert "Accepted and listed for a meeting" in answer and "Sam, MARAC coordinator" in answer
    opened = site.north.scalar("SELECT count(*) FROM audit_events WHERE action = 'message.opened'")
    assert opened == len(views) == 2
    auditor = signed_in(site, "audit", "auditor")
    assert auditor.get(views[0]).status_code == 403


def test_an_overdue_acknowledgement_is_bannered_with_its_due_day(site: Site) -> None:
    transfer_id = canary(site)
    browser = signed_in(site, "coord", "coordinator")
    assert "The acknowledgement is overdue." not in browser.get(f"/cases/{transfer_id}").text
    site.sql(
        "UPDATE transfers SET created_at = :at WHERE id = :id",
        at=utcnow() - timedelta(days=14),
        id=transfer_id,
    )
    page = browser.get(f"/cases/{transfer_id}")
    assert "The acknowledgement is overdue." in page.text
    assert "Acknowledgement due by" in page.text


def test_a_reply_whose_delivery_failed_can_be_sent_again(site: Site) -> None:
    transfer_id = canary(site)
    browser = signed_in(site, "coord", "coordinator")
    visits = Visits()
    done = visits.post(
        browser,
        f"/cases/{transfer_id}/request-information",
        {"what": ["minutes"], "requested_by-name": "Cora", "requested_by-role": "Coordinator"},
    )
    assert done.status_code == 303
    site.sql("UPDATE outbox SET status = 'failed'")
    page = visits.get(browser, f"/cases/{transfer_id}")
    resend = re.search(rf'action="(/cases/{transfer_id}/messages/[0-9a-f-]+/resend)"', page.text)
    assert resend and "Send again" in page.text
    assert "Not delivered" in page.text
    # A request this area made is not one it answers.
    assert "/answer" not in page.text
    visits.check_no_canary()


def test_a_case_of_another_of_the_persons_areas_says_so(site: Site) -> None:
    transfer_id = canary(site)
    person = site.add_user("both", A, "coordinator")
    with site.north.node.sessions() as db:
        users.add_user_role(
            db,
            site.north.node.master,
            email=person.email,
            area=B,
            role="coordinator",
            password=PASSWORD,
            now=utcnow(),
        )
    browser = site.login(person)
    # Working in Eastmoor (the first of the areas by code): the Northshire case says so.
    page = browser.get(f"/cases/{transfer_id}")
    assert page.status_code == 200
    assert "This case belongs to Northshire MARAC" in page.text
    home = browser.get("/area")
    browser.post("/area", data={"area": A, "csrf_token": csrf_from(home.text)})
    assert "This case belongs to" not in browser.get(f"/cases/{transfer_id}").text


def test_a_draft_reads_as_an_outbound_case_and_links_to_its_task_list(site: Site) -> None:
    with site.north.node.sessions() as db:
        draft = drafts.save_draft(
            db,
            site.north.node.master,
            Principal.operator(),
            sample_transfer(A, PEER, victim=CANARY_NAME),
            utcnow(),
        )
    browser = signed_in(site, "coord", "coordinator")
    page = browser.get(f"/cases/{draft.id}")
    assert page.status_code == 200
    assert "<title>Outbound transfer \u2013 MARAC Exchange</title>" in page.text
    assert f'href="/drafts/{draft.id}"' in page.text and "Draft" in page.text
    assert CANARY_NAME in page.text
    assert "Withdraw this transfer" not in page.text


def test_an_urgent_version_2_case_shows_urgency_and_do_not_contact_first(site: Site) -> None:
    transfer_id = canary(
        site,
        urgent=True,
        urgent_reason="Emergency MARAC on Friday",
        contact={"do_not_contact": True, "do_not_contact_reason": "He monitors her phone"},
    )
    body = signed_in(site, "coord", "coordinator").get(f"/cases/{transfer_id}").text
    safety = body.index("Before you contact anyone")
    assert safety < body.index("Emergency MARAC on Friday") < body.index("He monitors her phone")
    assert body.index("He monitors her phone") < card(body, "Victim")
    assert "Do not contact the victim" in body
    assert body.index("Assault at the former home") > card(body, "Victim")  # the narrative
    assert "Ida Sample" in body  # the IDVA handover


def _promises(due_past: str, due_later: str) -> dict[str, Any]:
    return {
        "to_follow": [
            {"document": "minutes", "by": due_past},
            {"document": "dash_ric", "by": due_later},
            {"document": "Police report", "by": due_later},
        ],
        "not_shared": [{"document": "original_referral", "reason": "Held by the police"}],
    }


def _promise_rows(body: str) -> list[tuple[str, str]]:
    """The table of documents promised: (document, status) per row."""
    table = body.split("Documents promised to follow</caption>")[1].split("</table>")[0]
    cells = re.findall(r'<td class="govuk-table__cell">\s*(.*?)\s*</td>', table, re.S)
    statuses = [re.sub(r"<[^>]+>", "", c).strip() for c in cells[2::3]]
    return list(zip(cells[0::3], statuses, strict=True))


def test_both_areas_see_which_promised_documents_arrived_and_which_are_overdue(
    site: Site,
) -> None:
    today = utcnow().date()
    past, later = (today - timedelta(days=1)).isoformat(), (today + timedelta(days=9)).isoformat()
    transfer_id = canary(site, documents=_promises(past, later))
    sent = site.south.transfers(PEER)[0]
    with site.south.node.sessions() as db:
        documents.send_document(
            db,
            site.south.node.master,
            Principal.operator(),
            sent.id,
            documents.file_upload("dash_ric", b"DASH answers.\n", None, 10_000),
            utcnow(),
        )
    assert site.south.deliver() == 1
    visits = Visits()
    body = visits.get(signed_in(site, "coord", "coordinator"), f"/cases/{transfer_id}").text
    assert _promise_rows(body) == [
        ("Minutes of the MARAC meeting", "Overdue"),
        ("The DASH risk checklist", "Received"),
        ("Police report", "Still missing"),
    ]
    assert re.search(r'govuk-tag--red">\s*Overdue\s*<', body)  # overdue in red
    assert "The original referral: Held by the police" in body
    visits.check_no_canary()
    # The auditor sees no content, so no promises either.
    auditor = signed_in(site, "audit", "auditor").get(f"/cases/{transfer_id}").text
    assert "Documents promised to follow" not in auditor


def test_the_sender_sees_its_promises_kept_by_what_it_sent(site: Site) -> None:
    today = utcnow().date()
    past, later = (today - timedelta(days=1)).isoformat(), (today + timedelta(days=9)).isoformat()
    payload = sample_transfer(A, PEER, victim=CANARY_NAME)
    payload["documents"] = _promises(past, later)
    transfer_id = site.north.send(payload, A, PEER).id
    with site.north.node.sessions() as db:
        documents.send_document(
            db,
            site.north.node.master,
            Principal.operator(),
            transfer_id,
            documents.file_upload("minutes", b"Minutes.\n", None, 10_000),
            utcnow(),
        )
    body = signed_in(site, "coord", "coordinator").get(f"/cases/{transfer_id}").text
    assert _promise_rows(body) == [
        ("Minutes of the MARAC meeting", "Sent"),
        ("The DASH risk checklist", "Still missing"),
        ("Police report", "Still missing"),
    ]

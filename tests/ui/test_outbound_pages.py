"""What the sending area does about a transfer it sent, in the browser, on two real nodes:
answer an information request with documents, withdraw, report a repeat incident, answer
a request to forward, send a failed reply again. Each refusal is an error summary; each
change ends with a 303 to a confirmation; another area's coordinator gets 404."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from support.pages_world import (
    SIGNER,
    Browser,
    delivered,
    fail_next_delivery,
    held,
    inbound,
    peer_asks_for,
    peer_asks_to_forward,
)
from support.site import PEER, A, B, Site, make_site

from gateway.domain.casework import documents, forwarding
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import Principal

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def coordinator(site: Site, name: str = "coord", area: str = A) -> Browser:
    return Browser(site, site.add_user(name, area, "coordinator"))


def signer(prefix: str) -> dict[str, str]:
    return {f"{prefix}-name": SIGNER["name"], f"{prefix}-role": SIGNER["role"]}


def status_on_north(site: Site, transfer_id: str) -> str:
    return next(t.status for t in site.north.transfers(A) if t.id == transfer_id)


def status_on_south(site: Site, transfer_id: str) -> str:
    return next(t.status for t in site.south.transfers(PEER) if t.id == transfer_id)


def request_id_of(site: Site, transfer_id: str) -> str:
    return str(
        site.north.scalar(
            "SELECT request_id FROM information_requests WHERE transfer_id = :t", t=transfer_id
        )
    )


def test_withdrawing_a_delivered_transfer_tells_the_receiving_area(site: Site) -> None:
    north_id, south_id = delivered(site)
    browser = coordinator(site)
    page = browser.get(f"/cases/{north_id}/withdraw")
    assert page.status_code == 200
    assert "If they have not opened the case yet" in page.text
    assert f'href="/cases/{north_id}"' in page.text  # back to the case

    refused = browser.post(f"/cases/{north_id}/withdraw", {})
    assert refused.status_code == 422 and "There is a problem" in refused.text
    assert "Select why you are withdrawing the transfer" in refused.text
    assert 'href="#reason"' in refused.text and 'href="#withdrawn_by-name"' in refused.text
    assert "Enter your name" in refused.text
    assert status_on_north(site, north_id) == "delivered"

    done = browser.post(
        f"/cases/{north_id}/withdraw",
        {"reason": "wrong_area", "note": "Sent to the wrong MARAC.", **signer("withdrawn_by")},
    )
    assert done.headers["Location"] == f"/cases/{north_id}/withdrawn"
    confirmation = browser.follow(done)
    assert "Transfer withdrawn" in confirmation.text
    assert "is being told" in confirmation.text
    assert status_on_north(site, north_id) == "withdrawn"
    assert site.north.deliver() >= 1
    assert status_on_south(site, south_id) == "withdrawn"
    # Withdrawn already: the page says so; the domain refuses a second one.
    assert "already been withdrawn" in browser.get(f"/cases/{north_id}/withdraw").text
    again = browser.post(
        f"/cases/{north_id}/withdraw", {"reason": "other", **signer("withdrawn_by")}
    )
    assert again.status_code == 409 and "There is a problem" in again.text
    browser.no_canaries()


def test_withdrawing_a_held_transfer_sends_nothing(site: Site) -> None:
    transfer_id = held(site)
    browser = coordinator(site)
    assert "Nothing has been sent" in browser.get(f"/cases/{transfer_id}/withdraw").text
    done = browser.post(
        f"/cases/{transfer_id}/withdraw", {"reason": "risk_changed", **signer("withdrawn_by")}
    )
    assert "they are not told" in browser.follow(done).text
    assert not site.south.transfers(PEER)


def test_a_repeat_incident_is_checked_then_sent(site: Site) -> None:
    north_id, south_id = delivered(site)
    browser = coordinator(site)
    path = f"/cases/{north_id}/repeat-incident"
    assert browser.get(path).status_code == 200
    # Before the last referral (14 days ago in the sample): not a repeat, said at the field.
    early = utcnow().date() - timedelta(days=60)
    refused = browser.post(
        path,
        {
            "incident_date-day": str(early.day),
            "incident_date-month": str(early.month),
            "incident_date-year": str(early.year),
            **signer("reported_by"),
        },
    )
    assert refused.status_code == 422 and 'href="#incident_date-day"' in refused.text
    assert "Must be between the last referral and" in refused.text
    not_a_date = browser.post(
        path, {"incident_date-day": "31", "incident_date-month": "2", **signer("reported_by")}
    )
    assert "must be a real date" in not_a_date.text
    today = utcnow().date()
    done = browser.post(
        path,
        {
            "incident_date-day": str(today.day),
            "incident_date-month": str(today.month),
            "incident_date-year": str(today.year),
            "summary": "Police called out again.",
            **signer("reported_by"),
        },
    )
    assert done.headers["Location"] == f"/cases/{north_id}/repeat-incident/sent"
    assert "Repeat incident reported" in browser.follow(done).text
    assert site.north.deliver() >= 1
    kinds = site.south.scalar(
        "SELECT count(*) FROM transfer_events WHERE transfer_id = :t AND kind = 'repeat_incident'",
        t=south_id,
    )
    assert kinds == 1
    browser.no_canaries()


def test_a_request_to_forward_is_granted(site: Site) -> None:
    north_id, south_id = delivered(site)
    peer_asks_to_forward(site, south_id)
    request_id = str(
        site.north.scalar(
            "SELECT request_id FROM forward_permissions WHERE transfer_id = :t", t=north_id
        )
    )
    # A document exchanged on the case, which the grant may let go with the forward.
    with site.north.node.sessions() as db:
        note = documents.send_document(
            db,
            site.north.node.master,
            Principal.operator(),
            north_id,
            documents.Outgoing("dash_ric", b"checklist\n", "text/plain"),
            utcnow(),
        )
    assert site.north.deliver() >= 1
    browser = coordinator(site)
    path = f"/cases/{north_id}/forward-requests/{request_id}"
    page = browser.get(path)
    assert page.status_code == 200 and "Eastmoor MARAC" in page.text
    assert "Restrictions on how that area may use the case" in page.text
    assert f'type="checkbox" value="{note.id}"' in page.text and "DASH" in page.text
    refused = browser.post(path, {**signer("decided_by")})
    assert refused.status_code == 422 and "Select whether they may forward the case" in refused.text
    # Terms go with a grant only; a restricted case needs its reason.
    terms = {"restrictions": "No onward sharing.", "documents": note.id}
    no = browser.post(path, {"decision": "refused", **terms, **signer("decided_by")})
    assert no.status_code == 422 and "Only a grant carries" in no.text
    unreasoned = {"decision": "granted", "restricted": "yes", **signer("decided_by")}
    assert browser.post(path, unreasoned).status_code == 422
    done = browser.post(path, {"decision": "granted", **terms, **signer("decided_by")})
    assert done.headers["Location"] == f"{path}/answered"
    assert "Permission given" in browser.follow(done).text
    assert site.north.deliver() >= 1
    status = site.south.scalar(
        "SELECT status FROM forward_permissions WHERE transfer_id = :t", t=south_id
    )
    assert status == "granted"
    # The grant's terms reached the area that asked.
    with site.south.node.sessions() as db:
        [allowed] = forwarding.granted_terms(
            db, site.south.node.master, Principal.operator(), south_id
        )
    assert allowed.restrictions == "No onward sharing."
    assert [(d.id, d.kind) for d in allowed.documents] == [(note.id, "dash_ric")]
    assert "already been answered" in browser.get(path).text
    assert browser.get(f"/cases/{north_id}/forward-requests/{north_id}").status_code == 404
    browser.no_canaries()


def test_an_information_request_is_answered_with_a_document_per_kind(site: Site) -> None:
    north_id, south_id = delivered(site)
    peer_asks_for(site, south_id, ["minutes", "dash_ric"])
    assert status_on_north(site, north_id) == "information_requested"
    request_id = request_id_of(site, north_id)
    browser = coordinator(site)
    path = f"/cases/{north_id}/requests/{request_id}/answer"
    page = browser.get(path)
    assert page.status_code == 200
    assert 'name="file-minutes"' in page.text and 'name="file-dash_ric"' in page.text

    nothing = browser.post(path, {})
    assert nothing.status_code == 422 and "Select a file to send" in nothing.text
    assert 'href="#file-minutes"' in nothing.text
    import io

    wrong = browser.post(
        path,
        {"file-minutes": (io.BytesIO(b"\x00\x01\x02binary"), "minutes.exe")},
        content_type="multipart/form-data",
    )
    assert wrong.status_code == 422 and "must be a PDF" in wrong.text
    assert status_on_north(site, north_id) == "information_requested"

    done = browser.post(
        path,
        {
            "file-minutes": (io.BytesIO(PDF), "minutes.pdf"),
            "file-dash_ric": (io.BytesIO(b"DASH answers\n"), "dash.txt"),
        },
        content_type="multipart/form-data",
    )
    assert done.headers["Location"] == f"/cases/{north_id}/requests/{request_id}/answered"
    assert "Documents sent" in browser.follow(done).text
    assert status_on_north(site, north_id) == "delivered"
    assert site.north.count("documents") == 2
    assert site.north.deliver() >= 2
    assert (
        site.south.scalar(
            "SELECT status FROM information_requests WHERE transfer_id = :t", t=south_id
        )
        == "answered"
    )
    browser.no_canaries()


def test_a_failed_reply_is_sent_again(site: Site) -> None:
    north_id, _ = inbound(site)
    browser = coordinator(site)
    from gateway.domain.casework import acknowledgements
    from gateway.domain.identity.principals import Principal

    with site.north.node.sessions() as session:
        acknowledgements.acknowledge(
            session,
            site.north.node.master,
            Principal.operator(),
            north_id,
            {
                "status": "accepted",
                "listed_for": (utcnow().date() + timedelta(days=7)).isoformat(),
                "idva_referred": False,
                "acknowledged_by": SIGNER,
            },
            utcnow(),
        )
    message_id = str(
        site.north.scalar(
            "SELECT envelope_id FROM envelopes WHERE type = 'acknowledgement' AND area_code = :a",
            a=A,
        )
    )
    path = f"/cases/{north_id}/messages/{message_id}/resend"
    early = browser.post(path)
    assert early.status_code == 409 and "There is a problem" in early.text
    assert "Only a message whose delivery failed can be sent again" in early.text
    fail_next_delivery(site)
    done = browser.post(path)
    assert done.headers["Location"] == f"/cases/{north_id}/messages/{message_id}/resent"
    confirmation = browser.follow(done)
    assert "Message queued again" in confirmation.text and "Acknowledgement" in confirmation.text
    assert site.north.deliver() >= 1
    browser.no_canaries()


def test_another_areas_coordinator_and_other_roles_are_kept_out(site: Site) -> None:
    north_id, south_id = delivered(site)
    peer_asks_for(site, south_id, ["minutes"])
    request_id = request_id_of(site, north_id)
    received_id, _ = inbound(site)
    pages = [
        f"/cases/{north_id}/withdraw",
        f"/cases/{north_id}/repeat-incident",
        f"/cases/{north_id}/requests/{request_id}/answer",
    ]
    outsider = coordinator(site, "outsider", B)
    for path in pages:
        assert outsider.get(path).status_code == 404, path
        assert outsider.post(path, {}).status_code == 404, path
    assert outsider.get(f"/cases/{north_id}/withdrawn").status_code == 404
    chair = Browser(site, site.add_user("chair", A, "chair"))
    auditor = Browser(site, site.add_user("auditor", A, "auditor"))
    for browser in (chair, auditor):
        for path in pages:
            assert browser.get(path).status_code == 403, path
    # These pages are for transfers the area sent: a received one is not one of them.
    mine = coordinator(site)
    assert mine.get(f"/cases/{received_id}/withdraw").status_code == 404
    assert mine.get(f"/cases/{north_id}/withdrawn").status_code == 404  # not withdrawn
    assert mine.get(f"/cases/{north_id}/repeat-incident/sent").status_code == 404
    assert mine.get(f"/cases/{north_id}/requests/{request_id}/answered").status_code == 404


def test_the_receiving_area_reports_a_repeat_incident_back_from_the_case_page(
    site: Site,
) -> None:
    north_id, south_id = inbound(site)
    browser = coordinator(site)
    path = f"/cases/{north_id}/repeat-incident"
    case = browser.get(f"/cases/{north_id}").text
    assert f'href="{path}"' in case and "Report a repeat incident to the sending area" in case
    page = browser.get(path)
    assert page.status_code == 200 and "the area that referred the case to you" in page.text
    refused = browser.post(path, {})
    assert refused.status_code == 422 and 'href="#incident_date-day"' in refused.text
    assert 'href="#reported_by-name"' in refused.text
    # Nothing reported yet: no confirmation to show.
    assert browser.get(f"{path}/sent").status_code == 404
    today = utcnow().date()
    done = browser.post(
        path,
        {
            "incident_date-day": str(today.day),
            "incident_date-month": str(today.month),
            "incident_date-year": str(today.year),
            **signer("reported_by"),
        },
    )
    assert done.headers["Location"] == f"{path}/sent"
    assert "Repeat incident reported" in browser.follow(done).text
    steps = "SELECT count(*) FROM transfer_events WHERE transfer_id = :t AND kind = :k"
    assert site.north.scalar(steps, t=north_id, k="repeat_incident_sent") == 1
    assert site.north.deliver() >= 1
    assert site.south.scalar(steps, t=south_id, k="repeat_incident_received") == 1
    # Chairs do not report; another area's coordinator finds no such case.
    chair = Browser(site, site.add_user("chair", A, "chair"))
    assert chair.get(path).status_code == 403
    assert coordinator(site, "other", B).get(path).status_code == 404
    browser.no_canaries()

"""The whole conversation across two real nodes, through the real API with users who sign
in through the real pages: a coordinator saves a draft (sealed to the area's own key,
nothing sent), sends it, the peer node receives it and emails its coordinator mailbox the
fixed text through a real SMTP server, the receiving coordinator acknowledges it for one
of the area's meeting dates, and the answer travels back. A canary victim name is in no
email, no log line and no stored byte of either node."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from support.nodes import RunningNode
from support.site import PEER, A, B, Site
from support.smtp_sink import SmtpSink

from gateway.devtools.samples import sample_transfer
from gateway.domain.clock import utcnow
from gateway.domain.identity import users
from gateway.worker import send_notifications

LIST = "/api/v1/transfers"
NEW_TEXT = "A new transfer has arrived for South-Vale MARAC. Sign in to view it.\n"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture
def site(node_factory: Callable[..., RunningNode], sink: SmtpSink) -> Site:
    north = node_factory("north", **sink.settings)
    south = node_factory("south", **sink.settings)
    north.create_area(A)
    north.create_area(B)
    south.create_area(PEER)
    for code in (A, B):
        south.import_peer(north.bundle(code))
    north.import_peer(south.bundle(PEER))
    return Site(north, south)


def post(site: Site, browser: FlaskClient, path: str, body: Any = None) -> Any:
    headers = {"X-CSRF-Token": site.csrf(browser)}
    if body is None:
        return browser.post(path, headers=headers)
    return browser.post(path, json=body, headers=headers)


def put(site: Site, browser: FlaskClient, path: str, body: Any) -> Any:
    return browser.put(path, json=body, headers={"X-CSRF-Token": site.csrf(browser)})


def stored_bytes(node: RunningNode) -> bytes:
    if node.settings.database_url.startswith("sqlite"):
        files = [path for path in node.home.rglob("*") if path.is_file()]
        assert any(path.name == "gateway.db" for path in files)
        return b"\n".join(path.read_bytes() for path in files)
    chunks: list[bytes] = []
    with node.node.engine.connect() as db:
        tables = list(
            db.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).scalars()
        )
        for table in tables:
            rows = db.execute(text(f'SELECT t::text FROM "{table}" t')).scalars()  # noqa: S608
            chunks += [f"{table}: {row}".encode() for row in rows]
    return b"\n".join(chunks)


def test_draft_to_acknowledgement(
    site: Site, sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("gateway", "werkzeug", "httpx"):
        caplog.set_level(logging.DEBUG, logger=name)
    victim = f"Zqxcanary{secrets.token_hex(6)}"
    north, south = site.north, site.south
    coordinator = site.login(site.add_user("coord", A, "coordinator"))

    # A draft: validated, stored sealed to our own key, nothing addressed to the peer.
    payload = sample_transfer(A, PEER, victim=victim)
    bad = post(site, coordinator, f"{LIST}?draft=maybe", payload)
    assert bad.status_code == 422 and "draft" in bad.json["errors"]
    invalid = post(site, coordinator, f"{LIST}?draft=true", {**payload, "dash_score": 99})
    assert invalid.status_code == 422 and "dash_score" in invalid.json["errors"]
    assert north.count("transfers") == 0
    made = post(site, coordinator, f"{LIST}?draft=true", payload)
    assert made.status_code == 201, made.text
    draft_id = made.json["id"]
    assert made.json["status"] == "draft"
    listed = coordinator.get(f"{LIST}?status=draft").json["items"]
    assert [item["id"] for item in listed] == [draft_id]
    header = json.loads(north.scalar("SELECT body FROM envelopes WHERE area_code = :a", a=A))
    assert header["to"]["area"] == A and header["from"]["area"] == A
    assert north.scalar("SELECT type FROM envelopes") == "transfer_draft"
    assert north.count("outbox") == 0
    assert north.deliver() == 0 and south.count("envelopes") == 0
    opened = coordinator.get(f"{LIST}/{draft_id}")
    assert opened.status_code == 200
    assert opened.json["content"]["victim"]["given_names"] == victim
    assert opened.json["content"]["to_area"] == PEER

    # Sent: sealed to the recipient and queued; sending twice is refused.
    sent = post(site, coordinator, f"{LIST}/{draft_id}/send")
    assert sent.status_code == 200, sent.text
    assert sent.json["status"] == "queued" and sent.json["id"] == draft_id
    again = post(site, coordinator, f"{LIST}/{draft_id}/send")
    assert again.status_code == 409 and "draft" in again.json["detail"]
    assert north.scalar("SELECT count(*) FROM envelopes WHERE type = 'transfer_draft'") == 0
    assert north.deliver() == 1
    [received] = south.transfers(PEER)
    assert received.status == "received"

    # The receiving coordinator mailbox is told, and told nothing else.
    send_notifications(south.node)
    [mail] = sink.take()
    assert mail.rcpt_tos == ("marac@south-vale.example",)
    assert (mail.subject, mail.body) == ("New MARAC transfer", NEW_TEXT)

    # The receiving area: its admin sets the meeting dates; its coordinator lists the case
    # for one of them (any other date is refused, naming listed_for).
    there = Site(south, north)
    admin = there.login(there.add_user("admin", PEER, "admin"))
    meeting = utcnow().date() + timedelta(days=9)
    dates = {"dates": [meeting.isoformat(), (meeting + timedelta(days=28)).isoformat()]}
    assert put(there, admin, f"/api/v1/areas/{PEER}/meetings", dates).status_code == 200
    deadline = put(
        there, admin, f"/api/v1/areas/{PEER}/settings", {"referral_deadline_working_days": 1}
    )
    assert deadline.json == {
        "area": PEER,
        "ack_working_days": 2,
        "referral_deadline_working_days": 1,
    }
    nothing = put(there, admin, f"/api/v1/areas/{PEER}/settings", {})
    assert nothing.status_code == 422 and list(nothing.json["errors"]) == ["ack_working_days"]
    receiver = there.login(there.add_user("receiver", PEER, "coordinator"))
    schedule = receiver.get(f"/api/v1/areas/{PEER}/meetings").json
    assert schedule == {**dates, "area": PEER, "suggested_listing": meeting.isoformat()}
    answer = {
        "status": "accepted",
        "listed_for": (meeting + timedelta(days=1)).isoformat(),
        "idva_referred": True,
        "acknowledged_by": {"name": "Ack Coordinator", "role": "MARAC coordinator"},
    }
    path = f"{LIST}/{received.id}/acknowledgement"
    refused = post(there, receiver, path, answer)
    assert refused.status_code == 422 and list(refused.json["errors"]) == ["listed_for"]
    assert south.count("outbox") == 0
    answer["listed_for"] = meeting.isoformat()
    done = post(there, receiver, path, answer)
    assert done.status_code == 200, done.text
    assert done.json["status"] == "acknowledged"
    assert south.deliver() == 1

    [back] = north.transfers(A)
    assert (back.status, back.listed_for) == ("acknowledged", meeting)
    north_steps = coordinator.get(f"{LIST}/{draft_id}/timeline").json["timeline"]
    assert [s["kind"] for s in north_steps] == ["draft", "queued", "delivered", "acknowledged"]
    south_steps = receiver.get(f"{LIST}/{received.id}/timeline").json["timeline"]
    assert [s["kind"] for s in south_steps] == ["received", "acknowledged"]

    # The canary: in no email, no log record, no stored byte on either node.
    send_notifications(north.node)
    send_notifications(south.node)
    assert sink.take() == []  # nothing else was ever queued
    assert any(r.name.startswith("gateway") for r in caplog.records)
    for record in caplog.records:
        rendered = " ".join([record.getMessage(), repr(record.args), record.exc_text or ""])
        assert victim not in rendered, record.name
    assert victim not in mail.raw.decode()
    for node in (north, south):
        content = stored_bytes(node)
        assert b"northshire" in content
        for needle in (victim.encode(), victim.encode().hex().encode()):
            assert needle not in content, node.name


def test_a_sent_draft_held_for_the_chair_is_not_approved_by_its_sender(site: Site) -> None:
    drafter = site.login(site.add_user("drafter", A, "coordinator"))
    payload = sample_transfer(A, PEER)
    payload["consent"]["decision_forum"] = "chair_after_meeting"
    made = post(site, drafter, f"{LIST}?draft=true", payload)
    assert made.status_code == 201, made.text
    # A coordinator who is also a chair sends someone else's draft: four eyes still hold.
    sender = site.add_user("sender", A, "coordinator")
    there = site.login(sender)
    with site.north.node.sessions() as session:
        users.add_user_role(
            session,
            site.north.node.master,
            email=sender.email,
            area=A,
            role="chair",
            password=None,
            now=utcnow(),
        )
    sent = post(site, there, f"{LIST}/{made.json['id']}/send")
    assert sent.status_code == 200 and sent.json["status"] == "awaiting_approval"
    approve = f"{LIST}/{made.json['id']}/approve"
    assert post(site, there, approve).status_code == 403
    chair = site.login(site.add_user("chair", A, "chair"))
    approved = post(site, chair, approve)
    assert approved.status_code == 200 and approved.json["status"] == "queued"
    assert site.north.deliver() == 1


def test_another_area_cannot_send_or_see_a_draft(site: Site) -> None:
    mine = site.login(site.add_user("mine", A, "coordinator"))
    made = post(site, mine, f"{LIST}?draft=true", sample_transfer(A, PEER))
    other = site.login(site.add_user("other", B, "coordinator"))
    assert post(site, other, f"{LIST}/{made.json['id']}/send").status_code == 404
    assert other.get(f"{LIST}/{made.json['id']}").status_code == 404
    assert site.north.transfers(A)[0].status == "draft"

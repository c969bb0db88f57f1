"""Reading the replies of a transfer across two real nodes speaking real HTTP, through the
real API with users who log in through the real pages: the thread listed (metadata), one
reply opened (audited, content only for those who may read the case), the withdrawal
notice readable when the case's content was dropped, and a reply the outbox gave up on
shown on the timeline and sent again."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import pytest
from flask.testing import FlaskClient
from support.site import PEER, A, B, Site, make_site
from test_casework import back, inbound, north_transfer, steps
from test_workflow import (
    LIST,
    VICTIM,
    accepted,
    assert_log_verifies,
    leaves,
    next_week,
    post,
)

from gateway.domain.clock import utcnow
from gateway.domain.federation.delivery import claim_due, deliver

# Canaries: free text and names that travel sealed and must reach no leaf or log line.
ASK_NOTE = "Canary question about Quentina"
WITHDRAW_NOTE = "Canary reason text for Bartholomew"
ACK_REF = "CANARY-CASE-9931"
PERSON = {"name": "Philippa Canaryperson", "role": "MARAC coordinator"}
CANARIES = (VICTIM, ASK_NOTE, WITHDRAW_NOTE, ACK_REF, PERSON["name"])


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def ask() -> dict[str, Any]:
    return {"what": ["minutes"], "note": ASK_NOTE, "requested_by": PERSON}


def withdrawal() -> dict[str, Any]:
    return {"reason": "wrong_area", "note": WITHDRAW_NOTE, "withdrawn_by": PERSON}


def thread(browser: FlaskClient, transfer_id: str, **headers: str) -> list[dict[str, Any]]:
    answer = browser.get(f"{LIST}/{transfer_id}/messages", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json["transfer"]["id"] == transfer_id
    return list(answer.json["items"])


def of_type(items: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [item for item in items if item["type"] == kind]
    return found


def opened(browser: FlaskClient, transfer_id: str, envelope_id: str, **headers: str) -> Any:
    return browser.get(f"{LIST}/{transfer_id}/messages/{envelope_id}", headers=headers)


def no_canaries(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    for node, area in ((site.north, A), (site.north, B), (site.south, PEER)):
        text = json.dumps(leaves(node, area))
        for canary in CANARIES:
            assert canary not in text, (area, canary)
    for canary in CANARIES:
        assert canary not in caplog.text


def test_both_areas_read_the_replies_of_a_transfer(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    north_id, south_id = inbound(site)
    south = back(site)
    sender = south.login(south.add_user("sender", PEER, "coordinator"))
    coord = site.login(site.add_user("coord", A, "coordinator"))
    chair = site.login(site.add_user("chair", A, "chair"))
    auditor = site.login(site.add_user("auditor", A, "auditor"))
    outsider = site.login(site.add_user("outsider", B, "coordinator"))
    reader = site.bearer(A, "transfers:read")
    assert coord.get(f"{LIST}/{north_id}").status_code == 200  # the case is opened

    # The receiving area asks for information, then accepts the case.
    assert post(site, coord, f"{LIST}/{north_id}/information-requests", ask()).status_code == 201
    ack = accepted(next_week(), receiving_case_ref=ACK_REF, acknowledged_by=PERSON, note=None)
    answered = post(site, coord, f"{LIST}/{north_id}/acknowledgement", ack)
    assert answered.status_code == 200, answered.text
    assert site.north.deliver() == 2

    # The sending area lists the thread (metadata, oldest first) and reads both replies.
    theirs = thread(sender, south_id)
    assert [(i["type"], i["direction"]) for i in theirs] == [
        ("information_request", "inbound"),
        ("acknowledgement", "inbound"),
    ]
    sent_envelope = site.south.scalar("SELECT envelope_id FROM transfers WHERE id = :i", i=south_id)
    assert all(i["in_reply_to"] == sent_envelope for i in theirs)
    assert all(i["delivery"] is None and i["purged"] is False for i in theirs)
    assert ASK_NOTE not in json.dumps(theirs) and ACK_REF not in json.dumps(theirs)
    request = opened(sender, south_id, of_type(theirs, "information_request")["envelope_id"])
    assert request.status_code == 200, request.text
    assert request.json["content"]["note"] == ASK_NOTE
    assert request.json["content"]["what"] == ["minutes"]
    assert request.json["message"]["type"] == "information_request"
    answer = opened(sender, south_id, of_type(theirs, "acknowledgement")["envelope_id"])
    assert answer.status_code == 200, answer.text
    assert answer.json["content"]["receiving_case_ref"] == ACK_REF
    assert answer.json["content"]["acknowledged_by"] == PERSON

    # The receiving area reads its own sent replies from its self-sealed copies.
    mine = thread(coord, north_id)
    assert [(i["type"], i["direction"], i["delivery"]) for i in mine] == [
        ("information_request", "outbound", "delivered"),
        ("acknowledgement", "outbound", "delivered"),
    ]
    own_ack = of_type(mine, "acknowledgement")["envelope_id"]
    assert opened(coord, north_id, own_ack).json["content"]["receiving_case_ref"] == ACK_REF

    # The sender withdraws; the receiving coordinator reads why.
    assert post(south, sender, f"{LIST}/{south_id}/withdrawal", withdrawal()).status_code == 200
    assert site.south.deliver() == 1
    notice = of_type(thread(coord, north_id), "withdrawal")
    assert notice["direction"] == "inbound"
    read = opened(coord, north_id, notice["envelope_id"])
    assert read.status_code == 200, read.text
    assert read.json["content"]["reason"] == "wrong_area"
    assert read.json["content"]["note"] == WITHDRAW_NOTE
    # ...and so do its chair and a transfers:read client, from the same area.
    assert opened(chair, north_id, notice["envelope_id"]).status_code == 200
    client = site.app.test_client()
    assert opened(client, north_id, notice["envelope_id"], **reader).status_code == 200
    assert len(thread(client, north_id, **reader)) == 3

    # Auditors see the thread, never its content; another area sees nothing at all.
    assert len(thread(auditor, north_id)) == 3
    refused = opened(auditor, north_id, notice["envelope_id"])
    assert refused.status_code == 403 and WITHDRAW_NOTE not in refused.text
    for path in (f"{LIST}/{north_id}/messages", f"{LIST}/{north_id}/messages/{own_ack}"):
        hidden = outsider.get(path)
        assert hidden.status_code == 404 and hidden.mimetype == "application/problem+json"
    # An envelope of another transfer, or the transfer's own, is no message of this one.
    north_envelope = site.north.scalar(
        "SELECT envelope_id FROM transfers WHERE id = :i", i=north_id
    )
    assert opened(coord, north_id, north_envelope).status_code == 404
    elsewhere = site.outbound(A)
    assert opened(coord, elsewhere, own_ack).status_code == 404
    assert thread(coord, elsewhere) == []
    assert opened(coord, north_id, "not-a-uuid").status_code == 404

    # Every opening is audited with the envelope's id, never its content.
    north_opened = [leaf for leaf in leaves(site.north, A) if leaf["action"] == "message.opened"]
    assert [leaf["objects"]["envelope"] for leaf in north_opened] == [own_ack] + [
        notice["envelope_id"]
    ] * 3
    assert north_opened[-1]["details"] == {"type": "withdrawal", "direction": "inbound"}
    south_opened = [leaf for leaf in leaves(site.south, PEER) if leaf["action"] == "message.opened"]
    assert [leaf["details"]["type"] for leaf in south_opened] == [
        "information_request",
        "acknowledgement",
    ]
    for node, area in ((site.north, A), (site.south, PEER)):
        assert_log_verifies(node, area)
    no_canaries(site, caplog)


def test_a_case_withdrawn_before_it_was_opened_keeps_only_the_withdrawal_readable(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    north_id, south_id = inbound(site)
    south = back(site)
    sender = south.login(south.add_user("sender", PEER, "coordinator"))
    coord = site.login(site.add_user("coord", A, "coordinator"))
    # Asked without opening the case: the case stays unopened.
    assert post(site, coord, f"{LIST}/{north_id}/information-requests", ask()).status_code == 201
    assert site.north.deliver() == 1
    assert post(south, sender, f"{LIST}/{south_id}/withdrawal", withdrawal()).status_code == 200
    assert site.south.deliver() == 1
    assert north_transfer(site, north_id).status == "withdrawn"

    items = thread(coord, north_id)
    assert [i["type"] for i in items] == ["information_request", "withdrawal"]
    gone = opened(coord, north_id, of_type(items, "information_request")["envelope_id"])
    assert gone.status_code == 410 and gone.mimetype == "application/problem+json"
    assert ASK_NOTE not in gone.text
    notice = opened(coord, north_id, of_type(items, "withdrawal")["envelope_id"])
    assert notice.status_code == 200, notice.text
    assert notice.json["content"]["note"] == WITHDRAW_NOTE
    # Reading the withdrawal did not open the case.
    assert coord.get(f"{LIST}/{north_id}").status_code == 410
    no_canaries(site, caplog)


def test_a_restricted_cases_replies_open_only_for_the_named(site: Site) -> None:
    north_id, south_id = inbound(site, restricted=True, restricted_reason="honour_based_violence")
    south = back(site)
    sender = south.login(south.add_user("sender", PEER, "coordinator"))
    named = site.add_user("named", A, "coordinator")
    as_named = site.login(named)
    other = site.login(site.add_user("other", A, "coordinator"))
    as_chair = site.login(site.add_user("chair", A, "chair"))
    access = post(site, as_chair, f"{LIST}/{north_id}/access", {"users": [named.user_id]})
    assert access.status_code == 200, access.text
    assert post(south, sender, f"{LIST}/{south_id}/withdrawal", withdrawal()).status_code == 200
    assert site.south.deliver() == 1
    [notice] = thread(other, north_id)
    refused = opened(other, north_id, notice["envelope_id"])
    assert refused.status_code == 403 and refused.json["type"].endswith("/restricted-case")
    reader = site.bearer(A, "transfers:read")
    client = site.app.test_client()
    assert opened(client, north_id, notice["envelope_id"], **reader).status_code == 403
    assert opened(as_named, north_id, notice["envelope_id"]).status_code == 200


def test_a_reply_the_outbox_gave_up_on_is_on_the_timeline_and_can_be_sent_again(
    site: Site,
) -> None:
    north_id, south_id = inbound(site)
    coord = site.login(site.add_user("coord", A, "coordinator"))
    chair = site.login(site.add_user("chair", A, "chair"))
    ack = accepted(next_week(), receiving_case_ref=ACK_REF, acknowledged_by=PERSON)
    assert post(site, coord, f"{LIST}/{north_id}/acknowledgement", ack).status_code == 200
    [reply] = thread(coord, north_id)
    resend = f"{LIST}/{north_id}/messages/{reply['envelope_id']}/resend"
    # Still queued: nothing to send again.
    early = post(site, coord, resend)
    assert early.status_code == 409 and "pending" in early.json["detail"]

    # The peer cannot be reached and the outbox gives up at once.
    node = site.north.node
    url = site.north.scalar("SELECT url FROM peers WHERE code = :c", c=PEER)
    site.sql("UPDATE peers SET url = :u WHERE code = :c", u="http://127.0.0.1:9", c=PEER)
    impatient = dataclasses.replace(node.delivery_policy, max_age=0.0)
    with node.sessions() as session:
        [claim] = claim_due(session, node.master, now=utcnow(), lease=impatient.lease, limit=5)
        outcome = deliver(session, node.master, node.client, claim, impatient, utcnow)
    assert outcome.final and not outcome.delivered
    kinds = steps(coord, north_id)
    assert kinds[-1]["kind"] == "reply_failed"
    assert kinds[-1]["envelope_id"] == reply["envelope_id"]
    assert kinds[-1]["detail"] == {"type": "acknowledgement"}
    assert north_transfer(site, north_id).status == "acknowledged"
    assert thread(coord, north_id)[0]["delivery"] == "failed"
    failed_leaf = leaves(site.north, A)[-1]
    assert failed_leaf["action"] == "transfer.failed"
    assert failed_leaf["objects"] == {"envelope": reply["envelope_id"], "transfer": north_id}

    # Only the area's coordinators send it again; chairs may not, other areas see nothing.
    assert post(site, chair, resend).status_code == 403
    outsider = site.login(site.add_user("outsider", B, "coordinator"))
    assert post(site, outsider, resend).status_code == 404
    site.sql("UPDATE peers SET url = :u WHERE code = :c", u=url, c=PEER)
    body = site.north.scalar(
        "SELECT body FROM envelopes WHERE envelope_id = :e", e=reply["envelope_id"]
    )
    again = post(site, coord, resend)
    assert again.status_code == 202, again.text
    assert again.json["envelope_id"] == reply["envelope_id"]
    assert again.json["delivery"] == "pending"
    twice = post(site, coord, resend)
    assert twice.status_code == 409
    assert site.north.deliver() == 1
    # The same envelope, byte for byte, arrived once.
    assert (
        site.north.scalar(
            "SELECT body FROM envelopes WHERE envelope_id = :e", e=reply["envelope_id"]
        )
        == body
    )
    assert site.south.count("envelopes") == 2  # the transfer and its acknowledgement
    theirs = next(t for t in site.south.transfers(PEER) if t.id == south_id)
    assert theirs.status == "acknowledged"
    assert [s["kind"] for s in steps(coord, north_id)][-3:] == [
        "reply_failed",
        "reply_resent",
        "reply_delivered",
    ]
    assert thread(coord, north_id)[0]["delivery"] == "delivered"
    resent_leaf = next(leaf for leaf in leaves(site.north, A) if leaf["action"] == "message.resent")
    assert resent_leaf["objects"] == {"envelope": reply["envelope_id"], "transfer": north_id}
    assert_log_verifies(site.north, A)

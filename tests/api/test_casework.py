"""Casework after a transfer across real nodes speaking real HTTP, through the real API with
users who log in through the real pages: withdrawal before and
after delivery and opening, forwarding to a third node only with the originating area's
recorded permission, repeat-incident notices within 12 months, restricted cases opened
only by named users; every illegal step refused with nothing sent, every audit log
verifying with no personal data in any leaf."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from support.nodes import RunningNode
from support.site import PEER, A, B, Site, make_site
from test_workflow import (
    LIST,
    VICTIM,
    accepted,
    actions_of,
    assert_log_verifies,
    leaves,
    next_week,
    post,
    south_transfer,
)

from gateway.devtools.samples import sample_transfer
from gateway.domain.audit import reports
from gateway.domain.clock import utcnow
from gateway.domain.federation.delivery import claim_due, deliver

WEST = "westdale"
# Canaries: staff names and notes that travel sealed and must reach no leaf or log line.
CANARIES = ("Wilhelmina Canarywithdraw", "Canary withdrawal note", "Ozymandias Canaryfwd")
PERSON = {"name": CANARIES[0], "role": "MARAC coordinator"}
FORWARDER = {"name": CANARIES[2], "role": "MARAC coordinator"}


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def back(site: Site) -> Site:
    """The same nodes seen from the south: users added here live on the south node."""
    return Site(site.south, site.north, {})


def withdrawal(reason: str = "wrong_area") -> dict[str, Any]:
    return {"reason": reason, "note": CANARIES[1], "withdrawn_by": PERSON}


def inbound(site: Site, **sample: Any) -> tuple[str, str]:
    """A transfer from the peer to A, delivered: (id on north, id on south)."""
    payload = sample_transfer(PEER, A, victim=VICTIM)
    payload.update(sample)
    sent = site.south.send(payload, PEER, A)
    assert site.south.deliver() == 1
    received = next(t for t in site.north.transfers(A) if t.direction == "inbound")
    return received.id, sent.id


def north_transfer(site: Site, transfer_id: str) -> Any:
    return next(t for t in site.north.transfers(A) if t.id == transfer_id)


def steps(browser: FlaskClient, transfer_id: str) -> list[dict[str, Any]]:
    answer = browser.get(f"{LIST}/{transfer_id}/timeline")
    assert answer.status_code == 200, answer.text
    return list(answer.json["timeline"])


def no_personal_data(nodes: list[tuple[RunningNode, str]]) -> None:
    for node, area in nodes:
        text = json.dumps(leaves(node, area))
        for canary in (VICTIM, "Fakename", "Fictional Row", *CANARIES):
            assert canary not in text, (area, canary)


def envelope_body(node: RunningNode, area: str, transfer_id: str) -> dict[str, Any]:
    body = node.scalar(
        "SELECT e.body FROM envelopes e JOIN transfers t ON t.envelope_id = e.envelope_id "
        "AND t.area_code = e.area_code WHERE t.id = :i AND e.area_code = :a",
        i=transfer_id,
        a=area,
    )
    return dict(json.loads(body))


# --- 6. withdrawal -------------------------------------------------------------------------


def test_a_transfer_withdrawn_before_it_was_opened_can_never_be_opened(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    north_id, south_id = inbound(site)
    south = back(site)
    sender = south.login(south.add_user("sender", PEER, "coordinator"))
    coord = site.login(site.add_user("coord", A, "coordinator"))

    # The receiving area cannot withdraw what it received.
    refused = post(site, coord, f"{LIST}/{north_id}/withdrawal", withdrawal())
    assert refused.status_code == 409 and "only the sending area" in refused.json["detail"]
    invalid = post(south, sender, f"{LIST}/{south_id}/withdrawal", withdrawal("bored"))
    assert invalid.status_code == 422 and "reason" in invalid.json["errors"]

    done = post(south, sender, f"{LIST}/{south_id}/withdrawal", withdrawal())
    assert done.status_code == 200, done.text
    assert done.json["status"] == "withdrawn"
    # Withdrawing twice is an illegal transition and sends nothing more.
    envelopes = site.south.count("envelopes")
    twice = post(south, sender, f"{LIST}/{south_id}/withdrawal", withdrawal())
    assert twice.status_code == 409 and "'withdrawn'" in twice.json["detail"]
    assert site.south.count("envelopes") == envelopes

    assert site.south.deliver() == 1
    assert north_transfer(site, north_id).status == "withdrawn"
    gone = coord.get(f"{LIST}/{north_id}")
    assert gone.status_code == 410 and gone.mimetype == "application/problem+json"
    assert VICTIM not in gone.text
    # Its content is dropped: the envelope keeps only its content-free header.
    stored = envelope_body(site.north, A, north_id)
    assert "ciphertext" not in stored and "sealed_key" not in stored
    assert stored["type"] == "transfer_request"
    # Still listed (metadata), and acknowledging it now is an illegal transition.
    listed = {i["id"]: i["status"] for i in coord.get(LIST).json["items"]}
    assert listed[north_id] == "withdrawn"
    late = post(site, coord, f"{LIST}/{north_id}/acknowledgement", accepted(next_week()))
    assert late.status_code == 409

    mine = steps(coord, north_id)
    assert [s["kind"] for s in mine] == ["received", "withdrawn"]
    assert mine[-1]["detail"] == {"reason": "wrong_area", "content_dropped": True}
    theirs = steps(sender, south_id)
    assert [s["kind"] for s in theirs] == ["queued", "delivered", "withdrawn"]
    assert theirs[-1]["detail"] == {"reason": "wrong_area", "notified": True}

    # The withdrawal itself went out as a logged envelope with its own delivery receipt.
    assert actions_of(site.south, PEER)[-2:] == ["transfer.withdrawn", "transfer.delivered"]
    assert actions_of(site.north, A)[-2:] == ["envelope.received", "withdrawal.received"]
    assert leaves(site.north, A)[-1]["details"] == {
        "reason": "wrong_area",
        "content_dropped": True,
    }
    for node, area in ((site.north, A), (site.south, PEER)):
        assert_log_verifies(node, area)
    no_personal_data([(site.north, A), (site.south, PEER)])
    for canary in (VICTIM, *CANARIES):
        assert canary not in caplog.text


def test_a_transfer_withdrawn_after_it_was_opened_stays_readable_as_withdrawn(
    site: Site,
) -> None:
    north_id, south_id = inbound(site)
    coord = site.login(site.add_user("coord", A, "coordinator"))
    assert coord.get(f"{LIST}/{north_id}").status_code == 200
    # A case-management client of the sending area withdraws it.
    south = back(site)
    client = south.app.test_client()
    headers = south.bearer(PEER, "transfers:write")
    done = client.post(
        f"{LIST}/{south_id}/withdrawal", json=withdrawal("risk_changed"), headers=headers
    )
    assert done.status_code == 200, done.text
    assert site.south.deliver() == 1
    opened = coord.get(f"{LIST}/{north_id}")
    assert opened.status_code == 200
    assert opened.json["transfer"]["status"] == "withdrawn"
    assert opened.json["content"]["victim"]["given_names"] == VICTIM
    assert steps(coord, north_id)[-1]["detail"] == {
        "reason": "risk_changed",
        "content_dropped": False,
    }


def test_a_transfer_withdrawn_before_it_left_sends_nothing(site: Site) -> None:
    coord = site.login(site.add_user("coord", A, "coordinator"))
    queued = site.outbound(A)
    done = post(site, coord, f"{LIST}/{queued}/withdrawal", withdrawal("sent_in_error"))
    assert done.status_code == 200, done.text
    assert site.north.scalar("SELECT status FROM outbox") == "cancelled"
    assert site.north.deliver() == 0
    assert site.south.count("envelopes") == 0
    assert steps(coord, queued)[-1]["detail"] == {"reason": "sent_in_error", "notified": False}
    assert leaves(site.north, A)[-1]["action"] == "transfer.withdrawn"
    assert leaves(site.north, A)[-1]["details"]["notified"] is False

    # A held transfer withdrawn before a chair approved it cannot be approved afterwards.
    held = sample_transfer(A, PEER, victim=VICTIM)
    held["consent"]["decision_forum"] = "chair_after_meeting"
    made = post(site, coord, LIST, held)
    assert made.status_code == 201 and made.json["status"] == "awaiting_approval"
    held_id = made.json["id"]
    assert post(site, coord, f"{LIST}/{held_id}/withdrawal", withdrawal()).status_code == 200
    chair = site.login(site.add_user("chair", A, "chair"))
    assert post(site, chair, f"{LIST}/{held_id}/approve").status_code == 409
    assert site.north.deliver() == 0 and site.south.count("envelopes") == 0
    assert_log_verifies(site.north, A)


def test_a_receipt_that_arrives_after_the_withdrawal_is_kept_and_the_peer_told(
    site: Site,
) -> None:
    """A worker holds the transfer (mid-POST) when the coordinator withdraws it: the late
    receipt is recorded without crashing, and the withdrawal follows it to the peer."""
    coord = site.login(site.add_user("coord", A, "coordinator"))
    transfer_id = site.outbound(A)
    node = site.north.node
    policy = node.delivery_policy
    with node.sessions() as session:
        [claim] = claim_due(session, node.master, now=utcnow(), lease=policy.lease, limit=5)
    done = post(site, coord, f"{LIST}/{transfer_id}/withdrawal", withdrawal())
    assert done.status_code == 200 and done.json["status"] == "withdrawn"
    # The withdrawal waits for the claim's lease, so it cannot overtake the transfer.
    assert site.north.deliver() == 0
    with node.sessions() as session:
        outcome = deliver(session, node.master, node.client, claim, policy, utcnow)
    assert outcome.delivered
    row = next(t for t in site.north.transfers(A) if t.id == transfer_id)
    assert row.status == "withdrawn" and row.delivered_at is not None
    kinds = [s["kind"] for s in steps(coord, transfer_id)]
    assert kinds == ["queued", "withdrawn", "delivered_after_withdrawal"]
    [received] = site.south.transfers(PEER)
    assert received.status == "received"
    # The lease passes; the withdrawal is delivered and applied.
    site.sql("UPDATE outbox SET next_attempt_at = :t WHERE status = 'pending'", t=utcnow())
    assert site.north.deliver() == 1
    [received] = site.south.transfers(PEER)
    assert received.status == "withdrawn"
    assert actions_of(site.south, PEER)[-1] == "withdrawal.received"
    assert_log_verifies(site.north, A)
    assert_log_verifies(site.south, PEER)


# --- 7. forwarding -------------------------------------------------------------------------


def third_node(site: Site, node_factory: Any) -> RunningNode:
    west = node_factory("west")
    west.create_area(WEST)
    west.import_peer(site.north.bundle(A))
    site.north.import_peer(west.bundle(WEST))
    return west


def ask(site: Site, browser: FlaskClient, north_id: str, to: str) -> Any:
    body = {"forward_to": to, "reason": "relocation_permanent", "requested_by": FORWARDER}
    return post(site, browser, f"{LIST}/{north_id}/forward-permission-requests", body)


def answer(site: Site, browser: FlaskClient, south_id: str, request_id: str, decision: str) -> Any:
    body = {"request_id": request_id, "decision": decision, "decided_by": PERSON}
    return post(site, browser, f"{LIST}/{south_id}/forward-permission", body)


FORWARDING_SENDER = {"name": "Forwarding Coordinator", "role": "MARAC coordinator"}


def forwarding(to_area: str, **consent: Any) -> dict[str, Any]:
    """A forward: this area's own sender details and consent decision (seed 004 ISP 3.4)."""
    own = sample_transfer(A, to_area)
    sender = {**FORWARDING_SENDER, "mailbox": "marac@forwarder.example"}
    return {"to_area": to_area, "sender": sender, "consent": {**own["consent"], **consent}}


def test_a_forward_needs_the_originating_areas_grant_for_exactly_that_area(
    site: Site, node_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    west = third_node(site, node_factory)
    north_id, south_id = inbound(site)
    coord = site.login(site.add_user("coord", A, "coordinator"))
    south = back(site)
    originator = south.login(south.add_user("originator", PEER, "coordinator"))
    forward = f"{LIST}/{north_id}/forward"

    # Without permission: refused, nothing sealed, nothing queued.
    before = (site.north.count("envelopes"), site.north.count("outbox"))
    refused = post(site, coord, forward, forwarding(WEST))
    assert refused.status_code == 409 and "No permission" in refused.json["detail"], refused.text
    assert (site.north.count("envelopes"), site.north.count("outbox")) == before
    # Asking: not of a third area that is one of the two, not of an unknown area.
    assert ask(site, coord, north_id, PEER).status_code == 422
    assert ask(site, coord, north_id, "nowhere").status_code == 422
    # The originating area cannot ask about its own transfer.
    assert ask(south, originator, south_id, WEST).status_code == 409

    asked = ask(site, coord, north_id, WEST)
    assert asked.status_code == 201, asked.text
    request_id = asked.json["request_id"]
    assert asked.json["status"] == "requested"
    other = ask(site, coord, north_id, B)
    assert other.status_code == 201
    assert site.north.deliver() == 2
    listed = originator.get(f"{LIST}/{south_id}/forward-permissions").json["items"]
    assert {(i["request_id"], i["forward_to"], i["status"]) for i in listed} == {
        (request_id, WEST, "requested"),
        (other.json["request_id"], B, "requested"),
    }
    # Only the originating area answers, and only requests that exist.
    assert answer(site, coord, north_id, request_id, "granted").status_code == 409
    unknown = answer(south, originator, south_id, south_id, "granted")
    assert unknown.status_code == 422 and "request_id" in unknown.json["errors"]

    granted = answer(south, originator, south_id, request_id, "granted")
    assert granted.status_code == 200 and granted.json["status"] == "granted"
    refusal = answer(south, originator, south_id, other.json["request_id"], "refused")
    assert refusal.status_code == 200 and refusal.json["status"] == "refused"
    again = answer(south, originator, south_id, request_id, "refused")
    assert again.status_code == 409  # answered once
    assert site.south.deliver() == 2
    mine = {
        i["forward_to"]: i["status"]
        for i in coord.get(f"{LIST}/{north_id}/forward-permissions").json["items"]
    }
    assert mine == {WEST: "granted", B: "refused"}

    # The forwarding area's own decision is required and judged like any transfer's.
    incomplete = post(site, coord, forward, {"to_area": WEST, "sender": forwarding(WEST)["sender"]})
    assert incomplete.status_code == 422 and list(incomplete.json["errors"]) == ["consent"]
    ungrounded = post(site, coord, forward, forwarding(WEST, consent="refused", grounds=[]))
    assert ungrounded.status_code == 422 and "consent" in ungrounded.json["errors"]
    # A grant for another area does not allow this one; a refusal allows nothing.
    assert post(site, coord, forward, forwarding(B)).status_code == 409
    sent = post(site, coord, forward, forwarding(WEST))
    assert sent.status_code == 201, sent.text
    forwarded = sent.json
    assert (forwarded["from_area"], forwarded["to_area"]) == (A, WEST)
    assert forwarded["direction"] == "outbound" and forwarded["status"] == "queued"
    # One grant, one forward.
    used = post(site, coord, forward, forwarding(WEST))
    assert used.status_code == 409 and "already used" in used.json["detail"]

    assert site.north.deliver() == 1
    [arrived] = west.transfers(WEST)
    assert (arrived.from_area, arrived.status) == (A, "received")
    third = Site(west, site.north, {})
    reader = third.login(third.add_user("reader", WEST, "coordinator"))
    content = reader.get(f"{LIST}/{arrived.id}").json["content"]
    assert (content["from_area"], content["to_area"]) == (A, WEST)
    assert content["victim"]["given_names"] == VICTIM
    # A new disclosure: the forwarding area's own sender and consent decision.
    assert content["sender"]["name"] == FORWARDING_SENDER["name"]
    assert content["sender"]["mailbox"] == "marac@forwarder.example"
    mine = {k: v for k, v in forwarding(WEST)["consent"].items() if k != "decided_at"}
    assert {k: v for k, v in content["consent"].items() if k != "decided_at"} == mine

    kinds = [s["kind"] for s in steps(coord, north_id)]
    assert kinds == [
        "received",
        "forward_requested",
        "forward_requested",
        "forward_granted",
        "forward_refused",
        "forwarded",
    ]
    assert steps(coord, north_id)[-1]["detail"]["forward_to"] == WEST
    assert [s["kind"] for s in steps(coord, forwarded["id"])] == [
        "queued",
        "forwarded_from",
        "delivered",
    ]
    assert [s["kind"] for s in steps(originator, south_id)][-4:] == [
        "forward_requested",
        "forward_requested",
        "forward_granted",
        "forward_refused",
    ]

    north_leaves = leaves(site.north, A)
    [fwd] = [leaf for leaf in north_leaves if leaf["action"] == "forward.sent"]
    assert fwd["peer_area"] == WEST and fwd["legal_basis"] and fwd["consent"]
    assert fwd["details"]["originating_area"] == PEER
    assert fwd["objects"]["forwarded_from"] == north_id
    assert "forward.requested" in actions_of(site.north, A)
    assert "forward.answer_received" in actions_of(site.north, A)
    south_actions = actions_of(site.south, PEER)
    for action in ("forward.request_received", "forward.granted", "forward.refused"):
        assert action in south_actions
    for node, area in ((site.north, A), (site.south, PEER), (west, WEST)):
        assert_log_verifies(node, area)
    no_personal_data([(site.north, A), (site.south, PEER), (west, WEST)])
    with site.north.node.sessions() as session:
        report = reports.disclosures(session, A, utcnow().date(), utcnow().date())
    assert report["disclosures_sent"]["by_peer_area"] == {WEST: 1}
    for canary in (VICTIM, *CANARIES):
        assert canary not in caplog.text


def test_a_withdrawn_case_cannot_be_forwarded_nor_permission_granted(site: Site) -> None:
    north_id, south_id = inbound(site)
    coord = site.login(site.add_user("coord", A, "coordinator"))
    south = back(site)
    originator = south.login(south.add_user("originator", PEER, "coordinator"))
    asked = ask(site, coord, north_id, B)
    assert asked.status_code == 201
    assert site.north.deliver() == 1
    assert post(south, originator, f"{LIST}/{south_id}/withdrawal", withdrawal()).status_code == 200
    late = answer(south, originator, south_id, asked.json["request_id"], "granted")
    assert late.status_code == 409 and "withdrawn" in late.json["detail"]
    assert site.south.deliver() == 1
    assert ask(site, coord, north_id, B).status_code == 409
    assert post(site, coord, f"{LIST}/{north_id}/forward", forwarding(B)).status_code == 409


# --- 8. repeat incidents -------------------------------------------------------------------


def incident(day: date) -> dict[str, Any]:
    return {"incident_date": day.isoformat(), "summary": CANARIES[1], "reported_by": PERSON}


def test_a_repeat_incident_within_12_months_reaches_the_area_holding_the_case(
    site: Site,
) -> None:
    queued = site.outbound(A)
    north_id, south_id = inbound(site)
    coord = site.login(site.add_user("coord", A, "coordinator"))
    south = back(site)
    originator = south.login(south.add_user("originator", PEER, "coordinator"))
    path = f"{LIST}/{south_id}/repeat-incidents"
    today = utcnow().date()
    last_referral = today - timedelta(days=14)  # the sample's last MARAC date

    # Outside the window (before the last referral), in the future, or not held: refused.
    before = post(south, originator, path, incident(last_referral - timedelta(days=1)))
    assert before.status_code == 422 and "incident_date" in before.json["errors"]
    assert CANARIES[1] not in before.text
    future = post(south, originator, path, incident(today + timedelta(days=1)))
    assert future.status_code == 422
    assert (
        post(site, coord, f"{LIST}/{queued}/repeat-incidents", incident(today)).status_code == 409
    )
    assert site.south.count("outbox") == 1  # only the transfer itself

    sent = post(south, originator, path, incident(today))
    assert sent.status_code == 200, sent.text
    assert site.south.deliver() == 1
    assert [s["kind"] for s in steps(coord, north_id)] == ["received", "repeat_incident"]
    assert [s["kind"] for s in steps(originator, south_id)][-1] == "repeat_incident"
    assert actions_of(site.north, A)[-1] == "repeat_incident.received"
    assert actions_of(site.south, PEER)[-2:] == ["repeat_incident.sent", "transfer.delivered"]

    # Once withdrawn, nobody holds it: no more notices.
    assert post(south, originator, f"{LIST}/{south_id}/withdrawal", withdrawal()).status_code == 200
    assert post(south, originator, path, incident(today)).status_code == 409
    assert_log_verifies(site.north, A)
    assert_log_verifies(site.south, PEER)
    no_personal_data([(site.north, A), (site.south, PEER)])


def test_an_incident_more_than_12_months_after_the_last_referral_is_not_a_repeat(
    site: Site,
) -> None:
    payload = sample_transfer(PEER, A, victim=VICTIM)
    last = utcnow().date() - timedelta(days=400)
    payload["last_marac_date"] = last.isoformat()
    sent = site.south.send(payload, PEER, A)
    assert site.south.deliver() == 1
    south = back(site)
    originator = south.login(south.add_user("originator", PEER, "coordinator"))
    path = f"{LIST}/{sent.id}/repeat-incidents"
    late = post(south, originator, path, incident(last + timedelta(days=370)))
    assert late.status_code == 422 and "incident_date" in late.json["errors"]
    within = post(south, originator, path, incident(last + timedelta(days=300)))
    assert within.status_code == 200, within.text
    assert site.south.deliver() == 1
    assert south_transfer(site, sent.id).status == "delivered"


# --- 9. restricted cases -------------------------------------------------------------------


def test_a_restricted_case_opens_only_for_the_users_its_receiving_area_named(
    site: Site,
) -> None:
    north_id, _ = inbound(site, restricted=True, restricted_reason="honour_based_violence")
    first = site.add_user("first", A, "coordinator")
    second = site.add_user("second", A, "coordinator")
    chair = site.add_user("chair", A, "chair")
    auditor = site.add_user("auditor", A, "auditor")
    outsider = site.add_user("outsider", B, "coordinator")
    as_first, as_second = site.login(first), site.login(second)
    as_chair, as_auditor = site.login(chair), site.login(auditor)
    reader = site.bearer(A, "transfers:read")
    path = f"{LIST}/{north_id}"

    # Everyone who may list the area's transfers sees that it exists and is restricted.
    for browser in (as_first, as_second, as_chair, as_auditor):
        [item] = [i for i in browser.get(LIST).json["items"] if i["id"] == north_id]
        assert item["restricted"] is True and item["status"] == "received"
        assert browser.get(f"{path}/timeline").status_code == 200
        assert browser.get(f"{path}/access").json == {
            "transfer_id": north_id,
            "restricted": True,
            "users": [],
        }
    # Nobody is named yet: nobody opens it; a machine never does.
    for browser in (as_first, as_chair):
        refused = browser.get(path)
        assert refused.status_code == 403
        assert refused.json["type"].endswith("/restricted-case")
        assert VICTIM not in refused.text
    assert as_auditor.get(path).status_code == 403
    assert site.app.test_client().get(path, headers=reader).status_code == 403

    access = f"{path}/access"
    # Only the chair names (seed 001 4.5.3): a coordinator is refused, nothing recorded.
    refused = post(site, as_first, access, {"users": [first.user_id]})
    assert refused.status_code == 403, refused.text
    assert refused.json["type"].endswith("/chair-decides")
    assert "chair" in refused.json["detail"]
    # Only users of the area with a content role can be named; a coordinator is needed.
    for users, field in (
        ([auditor.user_id, first.user_id], "0"),
        ([outsider.email, first.user_id], "0"),
        (["nobody@nowhere.example", first.user_id], "0"),
        ([chair.user_id], None),
    ):
        invalid = post(site, as_chair, access, {"users": users})
        assert invalid.status_code == 422, invalid.text
        assert "nobody@nowhere" not in invalid.text and outsider.email not in invalid.text
        if field:
            assert field in invalid.json["errors"]["users"]
    named = post(site, as_chair, access, {"users": [first.email, chair.user_id]})
    assert named.status_code == 200, named.text
    assert named.json["users"] == sorted([first.user_id, chair.user_id])

    assert as_first.get(path).status_code == 200
    assert as_chair.get(path).json["content"]["victim"]["given_names"] == VICTIM
    assert as_second.get(path).status_code == 403
    assert site.app.test_client().get(path, headers=reader).status_code == 403
    # Neither an unnamed nor a named coordinator changes the list.
    for browser, users in ((as_second, [second.user_id]), (as_first, [second.user_id])):
        grab = post(site, browser, access, {"users": users})
        assert grab.status_code == 403 and grab.json["type"].endswith("/chair-decides")
    # An unnamed coordinator may not ask to pass the case on either.
    body = {"forward_to": B, "reason": "other", "requested_by": FORWARDER}
    assert post(site, as_second, f"{path}/forward-permission-requests", body).status_code == 403
    handed = post(site, as_chair, access, {"users": [second.user_id]})
    assert handed.status_code == 200
    assert as_second.get(path).status_code == 200
    assert as_first.get(path).status_code == 403

    # The chair decides who is named, named or not.
    decided = post(site, as_chair, access, {"users": [first.user_id, second.user_id]})
    assert decided.status_code == 200 and as_first.get(path).status_code == 200

    # A case that is not restricted has no list to set...
    plain, _ = inbound(site)
    assert (
        post(site, as_chair, f"{LIST}/{plain}/access", {"users": [first.user_id]}).status_code
        == 409
    )
    # ...until a chair restricts it after arrival (a coordinator may not).
    restriction = f"{LIST}/{plain}/restriction"
    assert post(site, as_first, restriction, {"reason": "other"}).status_code == 403
    invalid = post(site, as_chair, restriction, {"reason": "gossip"})
    assert invalid.status_code == 422 and list(invalid.json["errors"]) == ["reason"]
    restricted = post(site, as_chair, restriction, {"reason": "position_of_trust"})
    assert restricted.json == {"transfer_id": plain, "restricted": True, "users": []}
    assert as_first.get(f"{LIST}/{plain}").status_code == 403

    named_leaves = [x for x in leaves(site.north, A) if x["action"] == "transfer.access_named"]
    assert len(named_leaves) == 3
    text = json.dumps(leaves(site.north, A))
    for person in (first, second, chair):
        assert person.email not in text
    assert_log_verifies(site.north, A)
    no_personal_data([(site.north, A), (site.south, PEER)])

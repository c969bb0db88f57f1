"""The workflow across two real nodes, through the real API with users who log in through
the real pages: a chair's approval of a held transfer (four eyes), the receiving
coordinator's acknowledgement travelling back, illegal transitions refused with nothing
sent, and both audit logs verifying with no personal data in any leaf."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from support.forged import queue_forged, refusal_of
from support.nodes import RunningNode
from support.site import PEER, A, B, Site, make_site

from adapters.db.models import Transfer
from gateway.devtools.samples import sample_transfer
from gateway.domain.audit import reports, verify
from gateway.domain.clock import utcnow
from gateway.domain.identity import users
from gateway.domain.transfers import timeline

LIST = "/api/v1/transfers"
VICTIM = "Quillonia"  # a canary: a name that must never reach an audit leaf
ACK_CANARIES = ("Zedediah Canaryack", "CANARY-REF-4471", "Canary note about the case")


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def leaves(node: RunningNode, area: str) -> list[dict[str, Any]]:
    from sqlalchemy import text

    with node.node.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT leaf FROM audit_events WHERE area_code = :a ORDER BY seq"), {"a": area}
        )
        return [json.loads(r[0]) for r in rows]


def actions_of(node: RunningNode, area: str) -> list[str]:
    return [leaf["action"] for leaf in leaves(node, area)]


def assert_log_verifies(node: RunningNode, area: str) -> None:
    with node.node.sessions() as session, session.begin():
        report = verify.verify_log(session, area)
    assert report.ok, report.problems


def post(site: Site, browser: FlaskClient, path: str, body: Any = None) -> Any:
    headers = {"X-CSRF-Token": site.csrf(browser)}
    if body is None:
        return browser.post(path, headers=headers)
    return browser.post(path, json=body, headers=headers)


def grant(site: Site, email: str, area: str, role: str) -> None:
    with site.north.node.sessions() as session:
        users.add_user_role(
            session,
            site.north.node.master,
            email=email,
            area=area,
            role=role,
            password=None,
            now=utcnow(),
        )


def held_payload() -> dict[str, Any]:
    payload = sample_transfer(A, PEER, victim=VICTIM)
    payload["consent"]["decision_forum"] = "chair_after_meeting"
    return payload


def accepted(listed_for: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": "accepted",
        "listed_for": listed_for,
        "idva_referred": True,
        "receiving_case_ref": ACK_CANARIES[1],
        "note": ACK_CANARIES[2],
        "acknowledged_by": {"name": ACK_CANARIES[0], "role": "MARAC coordinator"},
        **extra,
    }


def redirected(to: str) -> dict[str, Any]:
    return {
        "status": "redirected",
        "redirect_to": to,
        "redirect_reason": "wrong_area",
        "idva_referred": False,
        "acknowledged_by": {"name": ACK_CANARIES[0], "role": "MARAC coordinator"},
    }


def next_week() -> str:
    return (utcnow().date() + timedelta(days=7)).isoformat()


def inbound(site: Site) -> tuple[str, str]:
    """A transfer from the peer to A, delivered over real HTTP: (id on north, id on south)."""
    sent = site.south.send(sample_transfer(PEER, A, victim=VICTIM), PEER, A)
    assert site.south.deliver() == 1
    [received] = [t for t in site.north.transfers(A) if t.direction == "inbound"]
    assert [t.status for t in site.south.transfers(PEER)] == ["delivered"]
    return received.id, sent.id


def south_transfer(site: Site, transfer_id: str) -> Any:
    return next(t for t in site.south.transfers(PEER) if t.id == transfer_id)


def envelope_of(site: Site, south_id: str) -> str:
    return str(site.south.scalar("SELECT envelope_id FROM transfers WHERE id = :i", i=south_id))


def no_personal_data_in_leaves(site: Site) -> None:
    for node, area in ((site.north, A), (site.north, B), (site.south, PEER)):
        text = json.dumps(leaves(node, area))
        for canary in (VICTIM, "Fakename", "Fictional Row", *ACK_CANARIES):
            assert canary not in text, (area, canary)


# --- chair approval ------------------------------------------------------------------------


def test_a_held_transfer_leaves_only_when_another_chair_approves(site: Site) -> None:
    creator = site.add_user("creator", A, "coordinator")
    grant(site, creator.email, A, "chair")  # a coordinator who is also a chair
    as_creator = site.login(creator)
    made = post(site, as_creator, LIST, held_payload())
    assert made.status_code == 201, made.text
    transfer_id = made.json["id"]
    assert made.json["status"] == "awaiting_approval"
    approve = f"{LIST}/{transfer_id}/approve"
    digest = site.north.scalar("SELECT digest FROM envelopes WHERE area_code = :a", a=A)
    held_body = json.loads(
        site.north.scalar("SELECT body FROM envelopes WHERE area_code = :a", a=A)
    )
    assert "evidence" not in held_body

    # Nothing leaves before approval.
    assert site.north.deliver() == 0
    assert site.north.count("outbox") == 0 and site.south.count("envelopes") == 0

    # The creator may not approve, even holding the chair role; nor may a coordinator, a
    # chair of another area, or an API client.
    refused = post(site, as_creator, approve)
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    coordinator = site.login(site.add_user("coord", A, "coordinator"))
    assert post(site, coordinator, approve).status_code == 403
    chair_b = site.login(site.add_user("chair_b", B, "chair"))
    assert post(site, chair_b, approve).status_code == 404
    everything = site.bearer(A, "transfers:read transfers:write")
    assert site.app.test_client().post(approve, headers=everything).status_code == 403
    assert site.north.count("outbox") == 0
    assert site.north.transfers(A)[0].status == "awaiting_approval"

    chair = site.add_user("chair", A, "chair")
    as_chair = site.login(chair)
    approved = post(site, as_chair, approve)
    assert approved.status_code == 200, approved.text
    assert approved.json["status"] == "queued"
    # Approving twice is an illegal transition, and queues nothing more.
    again = post(site, as_chair, approve)
    assert again.status_code == 409 and "queued" in again.json["detail"]
    assert site.north.count("outbox") == 1

    # Its disclosure is logged now; the evidence is attached when the worker claims it.
    queued = json.loads(site.north.scalar("SELECT body FROM envelopes WHERE area_code = :a", a=A))
    assert queued == held_body
    assert site.north.scalar("SELECT evidence_seq FROM envelopes WHERE area_code = :a", a=A)

    assert site.north.deliver() == 1
    body = json.loads(site.north.scalar("SELECT body FROM envelopes WHERE area_code = :a", a=A))
    assert site.north.scalar("SELECT digest FROM envelopes WHERE area_code = :a", a=A) == digest
    assert {k: v for k, v in body.items() if k != "evidence"} == held_body
    assert body["evidence"]["leaf"]["action"] == "transfer.sent"
    assert body["evidence"]["leaf"]["actor"] == {
        "kind": "user",
        "id": chair.user_id,
        "role": "chair",
    }
    assert site.north.transfers(A)[0].status == "delivered"
    [received] = site.south.transfers(PEER)
    assert received.status == "received"
    south_leaf = leaves(site.south, PEER)[-1]
    assert south_leaf["action"] == "envelope.received"
    assert south_leaf["details"]["evidence"] == "verified"

    north = leaves(site.north, A)
    tail = [leaf["action"] for leaf in north if leaf["action"].startswith("transfer.")]
    assert tail == [
        "transfer.awaiting_approval",
        "transfer.approved",
        "transfer.sent",
        "transfer.delivered",
    ]
    sent = next(leaf for leaf in north if leaf["action"] == "transfer.sent")
    assert sent["legal_basis"] and sent["consent"] and sent["commitment"]
    assert sent["objects"] == {"transfer": transfer_id, "envelope": body["id"]}
    assert_log_verifies(site.north, A)
    assert_log_verifies(site.south, PEER)
    no_personal_data_in_leaves(site)


# --- acknowledgement -----------------------------------------------------------------------


def test_an_accepted_acknowledgement_travels_back_and_lists_the_case(site: Site) -> None:
    north_id, south_id = inbound(site)
    coord = site.login(site.add_user("coord", A, "coordinator"))
    listed_for = next_week()
    answer = post(site, coord, f"{LIST}/{north_id}/acknowledgement", accepted(listed_for))
    assert answer.status_code == 200, answer.text
    assert (answer.json["status"], answer.json["listed_for"]) == ("acknowledged", listed_for)

    stored = json.loads(
        site.north.scalar(
            "SELECT body FROM envelopes WHERE type = 'acknowledgement' AND area_code = :a", a=A
        )
    )
    south_envelope = site.south.scalar(
        "SELECT envelope_id FROM transfers WHERE id = :i", i=south_id
    )
    assert stored["in_reply_to"] == south_envelope

    assert site.north.deliver() == 1
    stored = json.loads(
        site.north.scalar(
            "SELECT body FROM envelopes WHERE type = 'acknowledgement' AND area_code = :a", a=A
        )
    )
    assert stored["evidence"]["leaf"]["action"] == "acknowledgement.sent"
    assert (
        site.north.scalar(
            "SELECT o.status FROM outbox o JOIN envelopes e ON e.pk = o.envelope_pk "
            "WHERE e.type = 'acknowledgement'"
        )
        == "delivered"
    )
    sender_side = south_transfer(site, south_id)
    assert sender_side.status == "acknowledged"
    assert sender_side.listed_for is not None and sender_side.listed_for.isoformat() == listed_for

    # Both sides list it with the meeting it is listed for.
    listed = coord.get(LIST).json["items"]
    assert [(i["status"], i["listed_for"]) for i in listed] == [("acknowledged", listed_for)]

    # Acknowledging twice is refused, and nothing more is sent.
    envelopes = site.north.count("envelopes")
    twice = post(site, coord, f"{LIST}/{north_id}/acknowledgement", accepted(listed_for))
    assert twice.status_code == 409
    assert site.north.count("envelopes") == envelopes

    south = leaves(site.south, PEER)
    assert [leaf["action"] for leaf in south[-2:]] == [
        "envelope.received",
        "acknowledgement.received",
    ]
    assert south[-2]["details"]["evidence"] == "verified"
    assert south[-1]["objects"]["envelope"] == south_envelope
    assert south[-1]["details"]["status"] == "accepted"
    assert "acknowledgement.sent" in actions_of(site.north, A)
    with site.south.node.sessions() as session:
        today = utcnow().date()
        report = reports.disclosures(session, PEER, today, today)
    assert report["acknowledgement"]["count"] == 1
    assert_log_verifies(site.north, A)
    assert_log_verifies(site.south, PEER)
    no_personal_data_in_leaves(site)

    # Both timelines tell the story, each as its area saw it, and carry no content.
    mine = coord.get(f"{LIST}/{north_id}/timeline")
    assert mine.status_code == 200, mine.text
    assert [step["kind"] for step in mine.json["timeline"]] == ["received", "acknowledged"]
    assert mine.json["timeline"][0]["actor"] == {"kind": "peer", "id": PEER}
    with site.south.node.sessions() as session:
        row = session.get(Transfer, south_id)
        assert row is not None
        steps = [step.kind for step in timeline.timeline(session, row)]
    assert steps == ["queued", "delivered", "acknowledged"]
    for canary in (VICTIM, *ACK_CANARIES):
        assert canary not in mine.text


def test_a_redirected_acknowledgement_moves_the_sender_to_redirected(site: Site) -> None:
    north_id, south_id = inbound(site)
    coord = site.login(site.add_user("coord", A, "coordinator"))
    answer = post(site, coord, f"{LIST}/{north_id}/acknowledgement", redirected(B))
    assert answer.status_code == 200, answer.text
    assert (answer.json["status"], answer.json["listed_for"]) == ("redirected", None)
    assert site.north.deliver() == 1
    sender_side = south_transfer(site, south_id)
    assert (sender_side.status, sender_side.listed_for) == ("redirected", None)
    assert leaves(site.south, PEER)[-1]["details"]["status"] == "redirected"
    # The redirect reached the sender: the redirecting area no longer holds the content
    # (seed 004 ISP 3.7), only its metadata, timeline and audit.
    assert coord.get(f"{LIST}/{north_id}").status_code == 410
    assert {t.id: t.status for t in site.north.transfers(A)}[north_id] == "redirected"
    held = "SELECT count(*) FROM envelopes WHERE direction = 'inbound' AND purged_at IS NULL"
    assert site.north.scalar(held) == 0
    last = [leaf["action"] for leaf in leaves(site.north, A)[-2:]]
    assert last == ["transfer.content_dropped", "transfer.delivered"]
    # Redirected is final: accepting afterwards is an illegal transition.
    late = post(site, coord, f"{LIST}/{north_id}/acknowledgement", accepted(next_week()))
    assert late.status_code == 409
    assert_log_verifies(site.north, A)
    assert_log_verifies(site.south, PEER)
    no_personal_data_in_leaves(site)


def test_illegal_or_invalid_acknowledgements_send_nothing(site: Site) -> None:
    outbound = site.outbound(A)
    north_id, _ = inbound(site)
    coord = site.login(site.add_user("coord", A, "coordinator"))
    chair = site.login(site.add_user("chair", A, "chair"))
    coord_b = site.login(site.add_user("coord_b", B, "coordinator"))
    path = f"{LIST}/{north_id}/acknowledgement"
    before = (site.north.count("envelopes"), site.north.count("outbox"))
    events = len(leaves(site.north, A))

    # Only the receiving area acknowledges.
    refused = post(site, coord, f"{LIST}/{outbound}/acknowledgement", accepted(next_week()))
    assert refused.status_code == 409
    assert "receiving area" in refused.json["detail"]
    # A chair cannot acknowledge; another area's coordinator sees no such transfer.
    assert post(site, chair, path, accepted(next_week())).status_code == 403
    assert post(site, coord_b, path, accepted(next_week())).status_code == 404
    # Approving an inbound transfer is an illegal transition too.
    assert post(site, chair, f"{LIST}/{north_id}/approve").status_code == 409

    for body, field in (
        ({**accepted(next_week()), "listed_for": None}, "listed_for"),
        ({**redirected(B), "redirect_to": None}, "redirect_to"),
        ({**redirected(B), "redirect_reason": None}, "redirect_reason"),
        ({**redirected(B), "redirect_reason": "other"}, "note"),
        (redirected(A), "redirect_to"),  # redirecting to ourselves
        ({**accepted(next_week()), "redirect_to": B}, "redirect_to"),
        ({**accepted(next_week()), "surprise": 1}, "surprise"),
        ({**accepted(next_week()), "idva_referred": "yes"}, "idva_referred"),
    ):
        invalid = post(site, coord, path, body)
        assert invalid.status_code == 422, (field, invalid.text)
        assert field in invalid.json["errors"], field
        assert ACK_CANARIES[0] not in invalid.text
    assert (site.north.count("envelopes"), site.north.count("outbox")) == before
    assert len(leaves(site.north, A)) == events
    assert {t.id: t.status for t in site.north.transfers(A)}[north_id] == "received"


def forge_acknowledgement(site: Site, in_reply_to: str) -> str:
    """An acknowledgement from A to the peer, sealed and signed properly by A's keys but
    answering whatever `in_reply_to` says, queued on north's outbox."""
    payload = {
        **accepted(next_week()),
        "schema_version": 1,
        "from_area": A,
        "to_area": PEER,
    }
    return queue_forged(site.north, A, PEER, "acknowledgement", payload, in_reply_to)


def test_the_sender_node_refuses_acknowledgements_that_answer_nothing_awaiting(
    site: Site,
) -> None:
    north_id, south_id = inbound(site)
    south_envelope = site.south.scalar(
        "SELECT envelope_id FROM transfers WHERE id = :i", i=south_id
    )
    south_events = len(leaves(site.south, PEER))

    unknown = forge_acknowledgement(site, str(uuid.uuid4()))
    assert site.north.deliver() == 1
    assert "unknown-transfer" in refusal_of(site.north, unknown)
    assert south_transfer(site, south_id).status == "delivered"

    # A real acknowledgement is applied once; a second one for the same transfer is refused.
    coord = site.login(site.add_user("coord", A, "coordinator"))
    path = f"{LIST}/{north_id}/acknowledgement"
    assert post(site, coord, path, accepted(next_week())).status_code == 200
    assert site.north.deliver() == 1
    assert south_transfer(site, south_id).status == "acknowledged"
    second = forge_acknowledgement(site, south_envelope)
    assert site.north.deliver() == 1
    assert "unexpected-acknowledgement" in refusal_of(site.north, second)

    # Nothing refused was stored or logged by the sender node.
    for forged in (unknown, second):
        assert (
            site.south.scalar("SELECT count(*) FROM envelopes WHERE envelope_id = :e", e=forged)
            == 0
        )
    # Only the real acknowledgement was logged: received, then applied.
    assert actions_of(site.south, PEER)[south_events:] == [
        "envelope.received",
        "acknowledgement.received",
    ]
    assert_log_verifies(site.south, PEER)


def test_an_acknowledgement_that_overtakes_the_receipt_is_not_lost(site: Site) -> None:
    """The receiver answers before the sender has recorded the receipt (the worker crashed
    after the POST, say): the answer itself proves delivery and must not be refused."""
    north_id, south_id = inbound(site)
    with site.south.node.engine.begin() as connection:
        from sqlalchemy import text

        connection.execute(
            text("UPDATE transfers SET status = 'queued', delivered_at = NULL WHERE id = :i"),
            {"i": south_id},
        )
    coord = site.login(site.add_user("coord", A, "coordinator"))
    answer = post(site, coord, f"{LIST}/{north_id}/acknowledgement", accepted(next_week()))
    assert answer.status_code == 200, answer.text
    assert site.north.deliver() == 1
    sender_side = south_transfer(site, south_id)
    assert sender_side.status == "acknowledged"
    assert sender_side.delivered_at is not None
    assert [t.status for t in site.north.transfers(A) if t.direction == "inbound"] == [
        "acknowledged"
    ]
    assert_log_verifies(site.south, PEER)

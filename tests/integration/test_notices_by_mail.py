"""Every content-free notification reaches a real SMTP server on loopback, across two real
nodes speaking real HTTP (SQLite and PostgreSQL): replies from the other area (an
information request, a forwarding request and its answer, a repeat incident either way, a
redirect), a flag verification request, deliveries the outbox gave up on, and a transfer
waiting for the area's chairs. No email carries the victim's name, the case reference or
the transfer's id (DESIGN section 2: the perpetrator is never informed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from support.nodes import RunningNode
from support.smtp_sink import SmtpSink, free_port
from test_flags import lookup, person, set_flag, start_three

from gateway.devtools.samples import sample_transfer
from gateway.domain.casework import (
    acknowledgements,
    forwarding,
    information_requests,
    repeat_incidents,
    withdrawal,
    worklist,
)
from gateway.domain.clock import utcnow
from gateway.domain.identity import users
from gateway.domain.identity.principals import Principal
from gateway.domain.schedule import notifications
from gateway.domain.schedule.working_calendar import is_working_day, london_day
from gateway.worker import remind, send_notifications

NORTH, SOUTH, EAST, WEST = "northshire", "south-vale", "eastmoor", "westdale"
VICTIM, CASE_REF = "Zqxnotified", "ZQX-CASE-7731"
STAFF = {"name": "Coordinator", "role": "MARAC coordinator"}
OPERATOR = Principal.operator()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture
def nodes(
    node_factory: Callable[..., RunningNode], sink: SmtpSink
) -> tuple[RunningNode, RunningNode]:
    north = node_factory("north", **sink.settings)
    south = node_factory("south", **sink.settings)
    north.create_area(NORTH)
    north.create_area(EAST)  # the third area a case may be forwarded to
    south.create_area(SOUTH)
    south.import_peer(north.bundle(NORTH))
    south.import_peer(north.bundle(EAST))
    north.import_peer(south.bundle(SOUTH))
    return north, south


def mails(sink: SmtpSink, *canaries: str) -> list[tuple[tuple[str, ...], str, str]]:
    """What the sink received, sorted; asserting no canary is anywhere in any message."""
    taken = sink.take()
    for mail in taken:
        raw = mail.raw.decode()
        for canary in (VICTIM, CASE_REF, *canaries):
            assert canary not in raw, (canary, mail.subject)
    return sorted((m.rcpt_tos, m.subject, m.body.strip()) for m in taken)


def expected(kind: str, area_name: str, *to: str, urgent: bool = False) -> Any:
    subject, body = notifications.text_of(kind, area_name, urgent=urgent)
    return (to, subject, body)


def call(node: RunningNode, use: Callable[..., Any], *args: Any) -> Any:
    with node.node.sessions() as session:
        return use(session, node.node.master, OPERATOR, *args, utcnow())


def case() -> dict[str, Any]:
    payload = sample_transfer(NORTH, SOUTH, victim=VICTIM)
    payload["originating_case_ref"] = CASE_REF
    return payload


def both(north: RunningNode, south: RunningNode) -> None:
    """Deliver what each side queued, then send what each side notified."""
    for node in (north, south, north, south):
        node.deliver()
    for node in (north, south):
        send_notifications(node.node)


def inbound_id(south: RunningNode, envelope_id: str) -> str:
    return str(south.scalar("SELECT id FROM transfers WHERE envelope_id = :e", e=envelope_id))


def test_replies_from_the_other_area_are_notified_content_free(
    nodes: tuple[RunningNode, RunningNode], sink: SmtpSink
) -> None:
    north, south = nodes
    sent = north.send(case(), NORTH, SOUTH)
    both(north, south)
    received = inbound_id(south, sent.envelope_id)
    canaries = (sent.id, received)
    north_box, south_box = ("marac@northshire.example",), ("marac@south-vale.example",)
    assert mails(sink, *canaries) == [
        expected(notifications.NEW_TRANSFER, "South-Vale MARAC", *south_box)
    ]

    # The receiving area asks for more, and for permission to forward: the originator is told.
    call(
        south,
        information_requests.request_information,
        received,
        {"what": ["minutes"], "requested_by": STAFF},
    )
    asked = call(
        south,
        forwarding.request_permission,
        received,
        {"forward_to": EAST, "reason": "relocation_permanent", "requested_by": STAFF},
    )
    both(north, south)
    assert mails(sink, *canaries) == sorted(
        [
            expected(notifications.INFORMATION_REQUEST, "Northshire MARAC", *north_box),
            expected(notifications.FORWARD_REQUEST, "Northshire MARAC", *north_box),
        ]
    )

    # The originator answers: the receiving area is told. A repeat incident either way.
    call(
        north,
        forwarding.decide,
        sent.id,
        {"request_id": asked.request_id, "decision": "refused", "decided_by": STAFF},
    )
    today = utcnow().date().isoformat()
    call(north, repeat_incidents.report, sent.id, {"incident_date": today, "reported_by": STAFF})
    call(south, repeat_incidents.report, received, {"incident_date": today, "reported_by": STAFF})
    both(north, south)
    assert mails(sink, *canaries) == sorted(
        [
            expected(notifications.FORWARD_ANSWER, "South-Vale MARAC", *south_box),
            expected(notifications.REPEAT_INCIDENT, "South-Vale MARAC", *south_box),
            expected(notifications.REPEAT_INCIDENT, "Northshire MARAC", *north_box),
        ]
    )
    kinds = north.scalar(
        "SELECT count(*) FROM transfer_events WHERE transfer_id = :t AND kind IN "
        "('repeat_incident', 'repeat_incident_received')",
        t=sent.id,
    )
    assert kinds == 2  # the one sent and the one received back
    # Each area's worklist counts the one it received, not the one it sent.
    for node, area, transfer_id in ((north, NORTH, sent.id), (south, SOUTH, received)):
        with node.node.sessions() as session:
            work = worklist.work_counts(session, OPERATOR, area, utcnow())
        assert work.repeat_incidents == worklist.Count(1, (transfer_id,))

    # A redirect tells the sender; the case is then held elsewhere.
    redirect = {
        "status": "redirected",
        "redirect_to": EAST,
        "redirect_reason": "victim_not_resident",
        "idva_referred": False,
        "acknowledged_by": STAFF,
    }
    call(south, acknowledgements.acknowledge, received, redirect)
    both(north, south)
    assert mails(sink, *canaries) == [
        expected(notifications.REDIRECTED, "Northshire MARAC", *north_box)
    ]


def test_deliveries_given_up_and_held_transfers_are_notified(
    nodes: tuple[RunningNode, RunningNode], sink: SmtpSink
) -> None:
    north, south = nodes
    north_box, south_box = ("marac@northshire.example",), ("marac@south-vale.example",)
    held = case()
    held["consent"]["decision_forum"] = "chair_after_meeting"
    # No chair account yet: nobody to tell, recorded as not sent (never the mailbox instead).
    north.send(held, NORTH, SOUTH)
    send_notifications(north.node)
    assert mails(sink) == []
    assert (
        north.scalar(
            "SELECT status FROM notifications WHERE kind = :k", k=notifications.APPROVAL_NEEDED
        )
        == notifications.NOT_SENT
    )
    # Two chairs of the sending area (and one of another area, who is not told).
    for email, area in (
        ("chair.one@northshire.example", NORTH),
        ("chair.two@northshire.example", NORTH),
        ("chair@eastmoor.example", EAST),
    ):
        with north.node.sessions() as session:
            users.add_user_role(
                session,
                north.node.master,
                email=email,
                area=area,
                role="chair",
                password="correct horse battery staple 42",
                now=utcnow(),
            )
    waiting = north.send(held, NORTH, SOUTH)
    send_notifications(north.node)
    chairs = ("chair.one@northshire.example", "chair.two@northshire.example")
    assert mails(sink, waiting.id) == [
        expected(notifications.APPROVAL_NEEDED, "Northshire MARAC", *chairs)
    ]

    # A transfer to an area whose node cannot be reached, past the outbox's maximum age.
    south.create_area(WEST)
    north.import_peer(south.bundle(WEST))
    with north.node.engine.begin() as db:
        db.execute(
            text("UPDATE peers SET url = :u WHERE code = :c"),
            {"u": f"http://127.0.0.1:{free_port()}", "c": WEST},
        )
    lost = north.send(sample_transfer(NORTH, WEST, victim=VICTIM), NORTH, WEST)
    with north.node.engine.begin() as db:
        db.execute(
            text(
                "UPDATE outbox SET created_at = :t WHERE envelope_pk IN "
                "(SELECT pk FROM envelopes WHERE envelope_id = :e)"
            ),
            {"t": utcnow() - timedelta(days=2), "e": lost.envelope_id},
        )
    north.deliver()
    send_notifications(north.node)
    assert north.scalar("SELECT status FROM transfers WHERE id = :t", t=lost.id) == "failed"
    assert mails(sink, lost.id) == [
        expected(notifications.DELIVERY_FAILED, "Northshire MARAC", *north_box)
    ]

    # A reply the other area refuses for good: a repeat incident about a case its originator
    # has since withdrawn (the withdrawal still on its way).
    sent = north.send(case(), NORTH, SOUTH)
    both(north, south)
    sink.take()
    received = inbound_id(south, sent.envelope_id)
    call(north, withdrawal.withdraw, sent.id, {"reason": "sent_in_error", "withdrawn_by": STAFF})
    today = utcnow().date().isoformat()
    call(south, repeat_incidents.report, received, {"incident_date": today, "reported_by": STAFF})
    south.deliver()
    send_notifications(south.node)
    assert mails(sink, sent.id, received) == [
        expected(notifications.REPLY_FAILED, "South-Vale MARAC", *south_box)
    ]


def test_a_verification_request_is_notified_to_the_holder(
    node_factory: Callable[..., RunningNode], sink: SmtpSink
) -> None:
    three = start_three(node_factory, **sink.settings)
    set_flag(three, NORTH, CASE_REF)
    [possible] = lookup(three, SOUTH, family_name="Harrowgate").json["matches"]
    asked = three.post(
        SOUTH,
        "/flags/verifications",
        {"ref": possible["ref"], "person": person(family_name="Harrowgate")},
    )
    assert asked.status_code == 202, asked.text
    send_notifications(three.north.node)
    assert mails(sink, "Zebedee", "Harrowgate", possible["ref"]) == [
        expected(notifications.VERIFICATION_REQUEST, "Northshire MARAC", "marac@northshire.example")
    ]


def test_an_urgent_notification_says_urgent_and_nothing_more() -> None:
    subject, body = notifications.text_of(
        notifications.NEW_TRANSFER, "South-Vale MARAC", urgent=True
    )
    assert subject == "Urgent: New MARAC transfer"
    assert body == notifications.text_of(notifications.NEW_TRANSFER, "South-Vale MARAC")[1]
    assert not notifications.is_urgent(object())


def test_an_urgent_transfer_arrives_with_urgent_in_the_subject_only(
    nodes: tuple[RunningNode, RunningNode], sink: SmtpSink
) -> None:
    north, south = nodes
    payload = case()
    payload["urgent"], payload["urgent_reason"] = True, "Emergency MARAC needed for Zqxnotified"
    sent = north.send(payload, NORTH, SOUTH)
    both(north, south)
    canaries = (sent.id, inbound_id(south, sent.envelope_id), "Emergency MARAC needed")
    assert mails(sink, *canaries) == [
        expected(
            notifications.NEW_TRANSFER,
            "South-Vale MARAC",
            "marac@south-vale.example",
            urgent=True,
        )
    ]


def test_a_promised_document_past_its_date_reminds_the_sender_once(
    nodes: tuple[RunningNode, RunningNode], sink: SmtpSink
) -> None:
    north, south = nodes
    payload = case()
    due = london_day(utcnow()) + timedelta(days=1)
    payload["documents"] = {
        "to_follow": [{"document": "Zqx police report", "by": due.isoformat()}],
        "not_shared": [],
    }
    sent = north.send(payload, NORTH, SOUTH)
    both(north, south)
    received = inbound_id(south, sent.envelope_id)
    listed = (utcnow() + timedelta(days=30)).date().isoformat()
    answer = {"status": "accepted", "listed_for": listed, "idva_referred": False}
    call(south, acknowledgements.acknowledge, received, {**answer, "acknowledged_by": STAFF})
    both(north, south)
    sink.take()
    later = datetime.combine(due + timedelta(days=1), time(12), tzinfo=UTC)
    while not is_working_day(london_day(later)):
        later += timedelta(days=1)
    canaries = (sent.id, received, "Zqx police report")
    for node in (north, south, north):  # again: recorded, never sent twice
        remind(node.node, later)
    assert mails(sink, *canaries) == [
        expected(notifications.DOCUMENT_OVERDUE, "Northshire MARAC", "marac@northshire.example")
    ]

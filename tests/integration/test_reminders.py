"""Reminders for overdue acknowledgements across two real nodes, driven with an explicit
`now`, and the notifications they send through a real SMTP server on loopback.

A transfer delivered on Thursday 24 December 2026 with the default limit of 2 working days
is due on Wednesday 30 December (Christmas Friday, the weekend, and the Boxing Day
substitute on Monday 28 do not count) and overdue from midnight that night. Friday 1
January is a bank holiday and 2-3 January a weekend: no reminders then.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from support.nodes import RunningNode
from support.smtp_sink import SmtpSink

from adapters.db.models import Transfer
from gateway.devtools.samples import sample_transfer
from gateway.domain.audit import verify
from gateway.domain.schedule import notifications
from gateway.domain.transfers import timeline
from gateway.node import build_node
from gateway.worker import remind, send_notifications

NORTH, SOUTH = "northshire", "south-vale"
DELIVERED_AT = datetime(2026, 12, 24, 10, 0, tzinfo=UTC)
REMINDER = (
    "MARAC transfer awaiting acknowledgement",
    "A transfer received by South-Vale MARAC is overdue for acknowledgement. "
    "Sign in to acknowledge it.\n",
)
WARNING = (
    "MARAC transfer not yet acknowledged",
    "A transfer sent by Northshire MARAC has not been acknowledged in time by the receiving "
    "area. Sign in to view it.\n",
)
NEW = (
    "New MARAC transfer",
    "A new transfer has arrived for South-Vale MARAC. Sign in to view it.\n",
)


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
    south.create_area(SOUTH)
    south.import_peer(north.bundle(NORTH))
    north.import_peer(south.bundle(SOUTH))
    return north, south


def at(y: int, m: int, d: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(y, m, d, hour, minute, tzinfo=UTC)


def mails(sink: SmtpSink) -> list[tuple[str, str, str]]:
    taken = sink.take()
    for mail in taken:
        assert CANARY not in mail.raw.decode()
    return sorted((m.rcpt_tos[0], m.subject, m.body) for m in taken)


CANARY = "Zqxreminded"  # the victim's name: never in a reminder


def delivered_on_christmas_eve(north: RunningNode, south: RunningNode) -> tuple[str, str]:
    payload = sample_transfer(NORTH, SOUTH, victim=CANARY)
    # Acknowledgement reminders only: no document promised to follow (those have their
    # own reminder, tests/domain/test_document_reminders.py).
    payload["documents"]["to_follow"] = []
    sent = north.send(payload, NORTH, SOUTH)
    assert north.deliver() == 1
    [received] = south.transfers(SOUTH)
    # The clock of this test: both sides saw the transfer arrive on Christmas Eve.
    with north.node.engine.begin() as db:
        db.execute(text("UPDATE transfers SET delivered_at = :t"), {"t": DELIVERED_AT})
    with south.node.engine.begin() as db:
        db.execute(
            text("UPDATE transfers SET created_at = :t, delivered_at = :t"), {"t": DELIVERED_AT}
        )
    return sent.id, received.id


def steps(node: RunningNode, transfer_id: str) -> list[tuple[str, dict[str, Any]]]:
    with node.node.sessions() as session, session.begin():
        row = session.get(Transfer, transfer_id)
        assert row is not None
        return [(s.kind, dict(s.detail)) for s in timeline.timeline(session, row)]


def actions(node: RunningNode, area: str) -> list[str]:
    with node.node.engine.connect() as db:
        rows = db.execute(
            text("SELECT action FROM audit_events WHERE area_code = :a ORDER BY seq"), {"a": area}
        )
        return [r[0] for r in rows]


def test_reminders_fall_on_the_right_working_days_around_christmas(
    nodes: tuple[RunningNode, RunningNode], sink: SmtpSink
) -> None:
    north, south = nodes
    outbound, inbound = delivered_on_christmas_eve(north, south)
    send_notifications(south.node)
    assert mails(sink) == [("marac@south-vale.example", *NEW)]

    def run(moment: datetime) -> list[tuple[str, str, str]]:
        for node in (north, south):
            remind(node.node, moment)
        return mails(sink)

    # Counting weekdays alone would make it overdue on Tuesday 29: not so, 28 is a holiday.
    assert run(at(2026, 12, 29, 12)) == []
    assert run(at(2026, 12, 30, 23, 59)) == []  # the last minute of the due day
    expected = sorted(
        [("marac@south-vale.example", *REMINDER), ("marac@northshire.example", *WARNING)]
    )
    assert run(at(2026, 12, 31, 0, 1)) == expected
    # Once a day at most, even from a second worker process started afresh.
    assert run(at(2026, 12, 31, 16)) == []
    fresh = build_node(south.settings)
    try:
        assert remind(fresh, at(2026, 12, 31, 17)) == []
    finally:
        fresh.close()
    assert mails(sink) == []
    # New Year's Day (a Friday) and the weekend: no reminders.
    for day in (at(2027, 1, 1), at(2027, 1, 2), at(2027, 1, 3)):
        assert run(day) == [], day
    # Monday: the next working day, reminded again.
    assert run(at(2027, 1, 4, 8)) == expected

    due = {"due": "2026-12-30"}
    assert [s for s in steps(south, inbound) if s[0] != "received"] == [
        ("acknowledgement_reminder", due),
        ("acknowledgement_reminder", due),
    ]
    assert [s for s in steps(north, outbound) if s[0] == "acknowledgement_overdue"] == [
        ("acknowledgement_overdue", due),
        ("acknowledgement_overdue", due),
    ]
    assert actions(south, SOUTH).count("acknowledgement.reminded") == 2
    assert actions(north, NORTH).count("acknowledgement.overdue") == 2
    for node, area in ((north, NORTH), (south, SOUTH)):
        with node.node.sessions() as session, session.begin():
            assert verify.verify_log(session, area).ok


def test_an_area_limit_of_three_days_moves_the_reminder(
    nodes: tuple[RunningNode, RunningNode], sink: SmtpSink
) -> None:
    north, south = nodes
    delivered_on_christmas_eve(north, south)
    send_notifications(south.node)
    sink.take()
    with south.node.engine.begin() as db:
        db.execute(text("UPDATE areas SET ack_working_days = 3"))
    remind(south.node, at(2026, 12, 31, 9))
    assert mails(sink) == []  # due Thursday 31 now
    remind(south.node, at(2027, 1, 4, 9))
    assert [m[1:] for m in mails(sink)] == [REMINDER]


def test_a_mail_server_outage_loses_nothing(
    nodes: tuple[RunningNode, RunningNode], sink: SmtpSink
) -> None:
    north, south = nodes
    sink.stop()  # the mail server is down when the transfer arrives
    north.send(sample_transfer(NORTH, SOUTH), NORTH, SOUTH)
    assert north.deliver() == 1
    assert send_notifications(south.node) == 1
    with south.node.engine.connect() as db:
        status, attempts, error = db.execute(
            text("SELECT status, attempts, last_error FROM notifications")
        ).one()
    assert (status, attempts) == ("pending", 1) and error
    # Back up: the retry (due after the backoff) sends it, once.
    sink.start()
    later = datetime.now(UTC).replace(microsecond=0) + notifications.LEASE * 30
    assert send_notifications(south.node, later) == 1
    assert send_notifications(south.node, later) == 0
    assert mails(sink) == [("marac@south-vale.example", *NEW)]
    with south.node.engine.connect() as db:
        assert db.execute(text("SELECT status FROM notifications")).scalar() == "sent"


def test_without_an_smtp_host_notifications_are_recorded_as_not_sent(
    node_factory: Callable[..., RunningNode], caplog: pytest.LogCaptureFixture
) -> None:
    north, south = node_factory("north"), node_factory("south")
    north.create_area(NORTH)
    south.create_area(SOUTH)
    south.import_peer(north.bundle(NORTH))
    north.import_peer(south.bundle(SOUTH))
    north.send(sample_transfer(NORTH, SOUTH), NORTH, SOUTH)
    assert north.deliver() == 1
    assert send_notifications(south.node) == 1
    with south.node.engine.connect() as db:
        rows = db.execute(text("SELECT status, last_error FROM notifications")).all()
    assert [(r[0], "GATEWAY_SMTP_HOST" in r[1]) for r in rows] == [("not_sent", True)]
    assert json.dumps([r.getMessage() for r in caplog.records]).count("not sent") >= 1

"""Schedule: meeting dates and the acknowledgement limit (admins only), reminders queued
at most once per transfer and working day, and notifications that are recorded as not
sent when no SMTP server is configured."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from support.local_nodes import NORTH, SOUTH, LocalNode, carry

from gateway.domain.identity.principals import Principal
from gateway.domain.schedule import meetings, notifications, reminders
from gateway.domain.schedule.working_calendar import (
    add_working_days,
    is_working_day,
    london_day,
)
from gateway.errors import Invalid, NotFound
from schemas.api.areas import MAX_ACK_WORKING_DAYS, MAX_MEETINGS

OPERATOR = Principal.operator()
WRITTEN = ("area_meetings", "areas", "audit_events")


def midday(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


def test_an_admin_sets_the_meeting_dates(north: LocalNode, now: datetime) -> None:
    admin = north.user("admin@north.example", NORTH, "admin", now)
    first, second = now.date() + timedelta(days=7), now.date() + timedelta(days=35)
    with north.session() as session:
        meetings.set_meetings(session, admin, NORTH, now=now, replace=[first, second])
        meetings.set_meetings(session, admin, NORTH, now=now, remove=[first])
        found = meetings.schedule(session, admin, NORTH)
    assert list(found.meeting_dates) == [second]
    assert north.count("audit_events", "action = 'area.meetings_set'") == 2


@pytest.mark.parametrize("role", ["coordinator", "chair", "auditor"])
def test_only_an_admin_sets_meeting_dates(north: LocalNode, now: datetime, role: str) -> None:
    who = north.user(f"{role}@north.example", NORTH, role, now)
    before = north.counts(*WRITTEN)
    with north.session() as session:
        with pytest.raises(NotFound):
            meetings.set_meetings(session, who, NORTH, now=now, add=[now.date()])
        with pytest.raises(NotFound):
            meetings.set_settings(session, who, NORTH, now=now, ack_working_days=5)
    assert north.counts(*WRITTEN) == before


def test_meeting_dates_and_the_limit_are_bounded(north: LocalNode, now: datetime) -> None:
    before = north.counts(*WRITTEN)
    many = [now.date() + timedelta(days=i) for i in range(MAX_MEETINGS + 1)]
    with north.session() as session:
        with pytest.raises(Invalid) as refused:
            meetings.set_meetings(session, OPERATOR, NORTH, now=now, replace=many)
        assert refused.value.errors is not None and "dates" in refused.value.errors
        for days in (0, MAX_ACK_WORKING_DAYS + 1):
            with pytest.raises(Invalid):
                meetings.set_settings(session, OPERATOR, NORTH, now=now, ack_working_days=days)
        with pytest.raises(NotFound):
            meetings.set_meetings(session, OPERATOR, "nowhere", now=now, add=[now.date()])
    assert north.counts(*WRITTEN) == before
    stranger = Principal.user("x", {("elsewhere", "admin")})
    with north.session() as session, pytest.raises(NotFound):
        meetings.schedule(session, stranger, NORTH)


def next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def remind(node: LocalNode, at: datetime) -> list[reminders.Reminder]:
    with node.session() as session:
        return reminders.send_reminders(session, at)


def test_an_overdue_transfer_is_reminded_once_per_working_day(linked: Any, now: datetime) -> None:
    linked.north.send(NORTH, SOUTH, now)
    carry(linked.north, linked.south, now)
    south: LocalNode = linked.south
    transfer_id = str(south.scalar("SELECT id FROM transfers"))
    # Default limit: two working days; on the third the transfer is overdue.
    not_yet = midday(add_working_days(london_day(now), 1))
    assert remind(south, not_yet) == []
    overdue = midday(add_working_days(london_day(now), 4))
    (first,) = remind(south, overdue)
    assert (first.area, first.transfer_id, first.kind) == (
        SOUTH,
        transfer_id,
        notifications.ACK_REMINDER,
    )
    assert remind(south, overdue + timedelta(hours=3)) == []
    assert south.count("notifications", "kind = 'ack_reminder'") == 1
    assert south.count("transfer_events", "kind = 'acknowledgement_reminder'") == 1
    # Never on a weekend or bank holiday; again on the next working day.
    day = overdue.date() + timedelta(days=1)
    while is_working_day(day):
        day += timedelta(days=1)
    assert remind(south, midday(day)) == []
    assert len(remind(south, midday(next_working_day(overdue.date())))) == 1
    assert south.count("notifications", "kind = 'ack_reminder'") == 2


def test_without_smtp_a_notification_is_recorded_not_sent(linked: Any, now: datetime) -> None:
    linked.north.send(NORTH, SOUTH, now)
    carry(linked.north, linked.south, now)
    south: LocalNode = linked.south
    # The arrival queued one, in the transaction that stored the transfer.
    assert south.count("notifications", "kind = 'new_transfer' AND status = 'pending'") == 1
    assert south.node.mailer is None
    assert notifications.send_due(south.node.sessions, None, now) == 1
    assert south.count("notifications", "status = 'not_sent' AND attempts = 1") == 1
    # Handled: nothing is claimed again.
    assert notifications.send_due(south.node.sessions, None, now + timedelta(hours=1)) == 0


def test_a_notification_names_only_the_area() -> None:
    for kind in notifications.TEXTS:
        subject, body = notifications.text_of(kind, "South-Vale MARAC")
        assert "South-Vale MARAC" in body and "{" not in subject + body
    with pytest.raises(ValueError, match="unknown notification kind"):
        notifications.queue(None, SOUTH, "gossip", datetime.now(UTC))  # type: ignore[arg-type]

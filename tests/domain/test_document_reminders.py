"""Documents a transfer said would follow (seed 000 4.24.2): each promise is kept by a
document of its kind, in order of date; once a promised date has passed with none sent,
the sending area's coordinator mailbox is reminded once per promise (recorded, so a
restart or a second worker never sends it again), on the timeline and in the audit."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from support.local_nodes import NORTH, SOUTH, LocalNode

from gateway.domain.casework import documents
from gateway.domain.casework.promised_documents import Promise, kind_of, promises
from gateway.domain.identity.principals import Principal
from gateway.domain.schedule import document_reminders, notifications
from gateway.domain.schedule.working_calendar import is_working_day, london_day

OPERATOR = Principal.operator()
TODAY = date(2026, 12, 3)


class Doc:
    def __init__(self, kind: str, direction: str) -> None:
        self.kind, self.direction = kind, direction


def promised(*items: tuple[str, date]) -> list[dict[str, str]]:
    return [{"document": what, "by": by.isoformat()} for what, by in items]


def test_each_promise_is_kept_by_a_document_of_its_kind_in_order_of_date() -> None:
    early, late = TODAY - timedelta(days=1), TODAY + timedelta(days=7)
    plan = promised(("minutes", late), ("minutes", early), ("Police report", late))
    found = promises(
        plan, [Doc("minutes", "inbound"), Doc("minutes", "outbound")], "inbound", TODAY
    )
    assert found == [
        Promise("minutes", "minutes", early, kept=True, overdue=False),
        Promise("minutes", "minutes", late, kept=False, overdue=False),
        Promise("Police report", "other", late, kept=False, overdue=False),
    ]
    # Nothing received: the one past its date is overdue. The sender counts what it sent
    # or holds to follow delivery, never what it received.
    assert [p.overdue for p in promises(plan, [], "inbound", TODAY)] == [True, False, False]
    sender = promises(plan, [Doc("minutes", "held"), Doc("other", "inbound")], "outbound", TODAY)
    assert [p.kept for p in sender] == [True, False, False]
    assert kind_of("dash_ric") == "dash_ric" and kind_of("Minutes") == "other"


def midday(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


def working_day_after(day: date) -> date:
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def remind(node: LocalNode, at: datetime) -> list[document_reminders.Reminder]:
    with node.session() as session:
        return document_reminders.send_reminders(session, at)


def sent_with_promises(north: LocalNode, now: datetime, due: date) -> str:
    plan = {
        "to_follow": promised(
            ("minutes", due), ("dash_ric", due), ("Police report", due + timedelta(days=30))
        ),
        "not_shared": [{"document": "original_referral", "reason": "Held by the police"}],
    }
    sent = north.send(NORTH, SOUTH, now, documents=plan)
    # The receiving node signed a receipt (the delivery itself is tested elsewhere).
    north.execute("UPDATE transfers SET status = 'delivered' WHERE id = :i", i=sent.id)
    return sent.id


def test_a_promise_past_its_date_reminds_the_sending_area_once(linked: Any, now: datetime) -> None:
    north: LocalNode = linked.north
    due = london_day(now) + timedelta(days=2)
    transfer_id = sent_with_promises(north, now, due)
    kinds = north.scalar("SELECT count(*) FROM promised_documents WHERE kind = 'other'")
    assert north.count("promised_documents") == 3 and kinds == 1
    with north.session() as session:
        documents.send_document(
            session,
            north.master,
            OPERATOR,
            transfer_id,
            documents.file_upload("dash_ric", b"DASH answers.\n", None, 10_000),
            now,
        )
    # Not before the day after the date; then only the unkept minutes.
    assert remind(north, midday(due)) == []
    after = midday(working_day_after(due))
    (reminder,) = remind(north, after)
    assert (reminder.area, reminder.transfer_id, reminder.kind, reminder.due) == (
        NORTH,
        transfer_id,
        "minutes",
        due,
    )
    # Once: a restart (or another worker) finds it recorded.
    assert remind(north, after + timedelta(hours=2)) == []
    assert remind(north, midday(working_day_after(after.date()))) == []
    assert north.count("notifications", "kind = :k", k=notifications.DOCUMENT_OVERDUE) == 1
    assert north.count("transfer_events", "kind = 'document_overdue'") == 1
    assert north.count("audit_events", "action = 'document.overdue'") == 1
    assert north.count("promised_documents", "reminded_at IS NOT NULL") == 1


def test_no_reminder_on_a_weekend_or_for_a_withdrawn_transfer(linked: Any, now: datetime) -> None:
    north: LocalNode = linked.north
    due = london_day(now) + timedelta(days=2)
    sent_with_promises(north, now, due)
    day = due + timedelta(days=1)
    while is_working_day(day):
        day += timedelta(days=1)
    assert remind(north, midday(day)) == []
    north.execute("UPDATE transfers SET status = 'withdrawn'")
    assert remind(north, midday(working_day_after(day))) == []
    assert north.count("notifications", "kind = :k", k=notifications.DOCUMENT_OVERDUE) == 0

"""Overdue acknowledgements (DESIGN section 2).

A transfer not acknowledged by the end of the Nth working day after it arrived (N: the
area's limit, default 2) is overdue. The worker then reminds the receiving area's
coordinator mailbox, and the sending node, judging by its own area's limit from the moment
of delivery, warns the sending area's mailbox. At most once per transfer and London day,
and only on working days: the record of what was queued lives in the database, so a
restart or a second worker never sends it twice. Each reminder is on the transfer's
timeline and in the audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from adapters.db.models import Area, Transfer
from gateway.domain import audit
from gateway.domain.audit import actions
from gateway.domain.identity.actors import Actor
from gateway.domain.schedule import notifications
from gateway.domain.schedule.meetings import ack_working_days
from gateway.domain.schedule.working_calendar import due, is_overdue, is_working_day, london_day
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import timeline
from gateway.domain.transfers.states import (
    DELIVERED,
    INBOUND,
    OUTBOUND,
    RECEIVED,
    Clocked,
    acknowledgement_clock,
)

WORKER = Actor.system("worker")
REMINDED, OVERDUE = "acknowledgement_reminder", "acknowledgement_overdue"


@dataclass(frozen=True)
class Reminder:
    area: str
    transfer_id: str
    kind: str  # notifications.ACK_REMINDER or ACK_OVERDUE
    due: date


@dataclass(frozen=True)
class Due:
    """When the coordinator acknowledgement is due, and whether that day has passed."""

    by: date
    overdue: bool


def acknowledgement_due(row: Clocked, working_days: int, now: datetime) -> Due | None:
    """The due day of an acknowledgement still awaited (an inbound transfer received and
    not answered, an outbound one delivered and not answered), judged by this area's limit
    exactly as the reminders are; None when none is awaited."""
    started = acknowledgement_clock(row)
    if started is None:
        return None
    return Due(due(started, working_days), is_overdue(started, working_days, now))


@owns_transaction
def send_reminders(session: Session, now: datetime) -> list[Reminder]:
    """Queue today's reminders and warnings for every overdue transfer; one transaction per
    transfer, so one failure costs nothing else."""
    today = london_day(now)
    if not is_working_day(today):
        return []
    with session.begin():
        limits = {area.code: ack_working_days(area) for area in session.scalars(select(Area))}
        # A limit of N working days is at least N calendar days: a cheap first filter.
        earliest = now - timedelta(days=min(limits.values(), default=1))
        candidates = list(
            session.scalars(
                select(Transfer.id).where(
                    or_(
                        and_(
                            Transfer.direction == INBOUND,
                            Transfer.status == RECEIVED,
                            Transfer.created_at <= earliest,
                        ),
                        and_(
                            Transfer.direction == OUTBOUND,
                            Transfer.status == DELIVERED,
                            Transfer.delivered_at <= earliest,
                        ),
                    )
                )
            )
        )
    sent = []
    for transfer_id in candidates:
        with session.begin():
            reminder = _remind(session, transfer_id, limits, today, now)
        if reminder is not None:
            sent.append(reminder)
    return sent


def _remind(
    session: Session, transfer_id: str, limits: dict[str, int], today: date, now: datetime
) -> Reminder | None:
    # The row lock serialises workers on this transfer, so the dedup check below is safe.
    row = session.get(Transfer, transfer_id, with_for_update=True)
    if row is None or row.status not in (RECEIVED, DELIVERED):
        return None
    started, limit = acknowledgement_clock(row), limits.get(row.area_code)
    if started is None or limit is None or not is_overdue(started, limit, now):
        return None
    inbound = row.direction == INBOUND
    kind = notifications.ACK_REMINDER if inbound else notifications.ACK_OVERDUE
    queued = notifications.queue(
        session,
        row.area_code,
        kind,
        now,
        transfer_id=row.id,
        dedup=f"{kind}:{row.id}:{today.isoformat()}",
    )
    if not queued:
        return None
    due_day = due(started, limit)
    step = REMINDED if inbound else OVERDUE
    timeline.note(session, row, step, now, actor=WORKER, due=due_day.isoformat())
    audit.record(
        session,
        row.area_code,
        audit.Event(
            action=actions.ACKNOWLEDGEMENT_REMINDED if inbound else actions.ACKNOWLEDGEMENT_OVERDUE,
            actor=WORKER,
            peer_area=row.peer_area,
            objects={"transfer": row.id, "envelope": row.envelope_id},
            details={"due": due_day.isoformat(), "working_days": limit},
        ),
        now,
    )
    return Reminder(row.area_code, row.id, kind, due_day)

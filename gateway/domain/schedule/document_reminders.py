"""Documents promised and not sent (seed 000 4.24.2; transfer_request version 2
`documents.to_follow`).

Once the date a transfer gave for a document has passed (London day) and no document of
that kind was sent (or held to follow delivery), the worker reminds the SENDING area's
coordinator mailbox: content-free, like every notification. Once per transfer and promise:
the promise row records the reminder and the notification's dedup key names it, both in
the same transaction, so a restart or a second worker never sends it twice. Each reminder
is on the transfer's timeline and in the audit. Only on working days, as the
acknowledgement reminders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.db.models import PromisedDocument, Transfer, TransferDocument
from gateway.domain import audit
from gateway.domain.audit import actions
from gateway.domain.casework.promised_documents import KEEPING
from gateway.domain.identity.actors import Actor
from gateway.domain.schedule import notifications
from gateway.domain.schedule.working_calendar import is_working_day, london_day
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import timeline
from gateway.domain.transfers.states import (
    ACKNOWLEDGED,
    DELIVERED,
    INFORMATION_REQUESTED,
    OUTBOUND,
)

WORKER = Actor.system("worker")
STEP = "document_overdue"
# Transfers the receiving area holds and still works on: not a draft, one held for a
# chair or undelivered (nothing has arrived), withdrawn or redirected elsewhere.
OPEN = frozenset({DELIVERED, INFORMATION_REQUESTED, ACKNOWLEDGED})


@dataclass(frozen=True)
class Reminder:
    area: str
    transfer_id: str
    position: int
    kind: str
    due: date


@owns_transaction
def send_reminders(session: Session, now: datetime) -> list[Reminder]:
    """Queue a reminder for every promise whose date has passed unkept; one transaction per
    promise, so one failure costs nothing else."""
    today = london_day(now)
    if not is_working_day(today):
        return []
    with session.begin():
        candidates = session.execute(
            select(
                PromisedDocument.transfer_id, PromisedDocument.area_code, PromisedDocument.position
            )
            .join(
                Transfer,
                (Transfer.id == PromisedDocument.transfer_id)
                & (Transfer.area_code == PromisedDocument.area_code),
            )
            .where(
                PromisedDocument.reminded_at.is_(None),
                PromisedDocument.due < today,
                Transfer.direction == OUTBOUND,
                Transfer.status.in_(OPEN),
                Transfer.purged_at.is_(None),
            )
            .order_by(PromisedDocument.due, PromisedDocument.transfer_id)
        ).all()
    sent = []
    for transfer_id, area, position in candidates:
        with session.begin():
            reminder = _remind(session, transfer_id, area, position, today, now)
        if reminder is not None:
            sent.append(reminder)
    return sent


def _remind(
    session: Session, transfer_id: str, area: str, position: int, today: date, now: datetime
) -> Reminder | None:
    # The transfer's row lock serialises workers (and documents sent meanwhile) on it.
    row = session.get(Transfer, transfer_id, with_for_update=True)
    promise = session.get(PromisedDocument, (transfer_id, area, position))
    if row is None or promise is None or promise.reminded_at is not None:
        return None
    if row.area_code != area or row.status not in OPEN or row.purged_at is not None:
        return None
    if promise.due >= today or _kept(session, row, promise):
        return None
    promise.reminded_at = now
    notifications.queue(
        session,
        area,
        notifications.DOCUMENT_OVERDUE,
        now,
        transfer_id=row.id,
        dedup=f"{notifications.DOCUMENT_OVERDUE}:{row.id}:{position}",
    )
    due = promise.due.isoformat()
    timeline.note(session, row, STEP, now, actor=WORKER, document_kind=promise.kind, due=due)
    audit.record(
        session,
        area,
        audit.Event(
            action=actions.DOCUMENT_OVERDUE,
            actor=WORKER,
            peer_area=row.peer_area,
            objects={"transfer": row.id, "envelope": row.envelope_id},
            details={"kind": promise.kind, "due": due},
        ),
        now,
    )
    return Reminder(area, row.id, position, promise.kind, promise.due)


def _kept(session: Session, row: Transfer, promise: PromisedDocument) -> bool:
    """Whether this promise is kept: the n-th promise of a kind (by date, then position)
    is kept by the n-th document of that kind sent or held."""
    earlier = session.scalar(
        select(func.count())
        .select_from(PromisedDocument)
        .where(
            PromisedDocument.transfer_id == row.id,
            PromisedDocument.area_code == row.area_code,
            PromisedDocument.kind == promise.kind,
            (PromisedDocument.due < promise.due)
            | (
                (PromisedDocument.due == promise.due)
                & (PromisedDocument.position < promise.position)
            ),
        )
    )
    documents = session.scalar(
        select(func.count())
        .select_from(TransferDocument)
        .where(
            TransferDocument.transfer_id == row.id,
            TransferDocument.area_code == row.area_code,
            TransferDocument.kind == promise.kind,
            TransferDocument.direction.in_(KEEPING[OUTBOUND]),
        )
    )
    return (documents or 0) > (earlier or 0)

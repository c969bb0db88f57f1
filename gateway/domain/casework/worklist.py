"""What an area has to do now, counted (DESIGN section 8, "Your work"): metadata only, so
a coordinator, a chair and an auditor of the area all see it; admins see no transfer at
all, and another area's people see nothing (NotFound, as for an area that does not exist).

Each count comes with the newest few transfers it concerns (ids, for links), so a page can
offer them without listing the whole area.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from adapters.db.models import (
    Envelope,
    ForwardPermission,
    InformationRequest,
    OutboxItem,
    Transfer,
    TransferEvent,
)
from gateway.domain.areas.local_areas import get_area
from gateway.domain.casework.documents import OPEN
from gateway.domain.casework.forward_permission import REQUESTED
from gateway.domain.casework.messages import thread_transfer
from gateway.domain.casework.repeat_incidents import RECEIVED_STEP
from gateway.domain.identity.principals import Principal
from gateway.domain.schedule.meetings import ack_working_days
from gateway.domain.schedule.working_calendar import overdue_cutoff
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import states
from gateway.errors import NotFound

# How many transfers each count names for its links.
SHOWN = 5
# Repeat-incident notices are news for a while: the ones received in this many days.
RECENT_DAYS = 30
FAILED = "failed"


@dataclass(frozen=True)
class Count:
    count: int
    # The newest few transfers it concerns (ids), at most SHOWN.
    transfer_ids: tuple[str, ...]


@dataclass(frozen=True)
class WorkCounts:
    area: str
    ack_working_days: int
    awaiting_acknowledgement: Count
    overdue: Count
    information_requests: Count
    forward_requests: Count
    repeat_incidents: Count
    failed_deliveries: Count
    failed_replies: Count
    held_for_chair: Count
    drafts: Count


@owns_transaction
def work_counts(session: Session, principal: Principal, area: str, now: datetime) -> WorkCounts:
    """The area's work, counted, for anyone who may list its transfers."""
    if not principal.may_list_transfers(area):
        raise NotFound("No such area.")
    with session.begin():
        working_days = ack_working_days(get_area(session, area))
        inbound_waiting = _mine(area, states.INBOUND, states.RECEIVED)
        cutoff = overdue_cutoff(now, working_days)
        return WorkCounts(
            area=area,
            ack_working_days=working_days,
            awaiting_acknowledgement=_count(session, inbound_waiting),
            overdue=_count(session, inbound_waiting, Transfer.created_at < cutoff),
            information_requests=_requests(session, area),
            forward_requests=_forward_requests(session, area),
            repeat_incidents=_repeat_incidents(session, area, now),
            failed_deliveries=_count(session, _mine(area, states.OUTBOUND, states.FAILED)),
            failed_replies=_failed_replies(session, area),
            held_for_chair=_count(session, _mine(area, states.OUTBOUND, states.AWAITING_APPROVAL)),
            drafts=_count(session, _mine(area, states.OUTBOUND, states.DRAFT)),
        )


def _mine(area: str, direction: str, status: str) -> list[ColumnElement[bool]]:
    return [
        Transfer.area_code == area,
        Transfer.direction == direction,
        Transfer.status == status,
    ]


def _count(
    session: Session, where: Sequence[ColumnElement[bool]], *more: ColumnElement[bool]
) -> Count:
    conditions = [*where, *more]
    total = session.scalar(select(func.count()).select_from(Transfer).where(*conditions)) or 0
    newest = session.scalars(
        select(Transfer.id)
        .where(*conditions)
        .order_by(Transfer.created_at.desc(), Transfer.id.desc())
        .limit(SHOWN)
    )
    return Count(int(total), tuple(newest))


def _grouped(session: Session, query: Select[str, datetime]) -> Count:
    """Rows of (transfer id, when): how many, and the newest few distinct transfers."""
    rows: list[tuple[str, datetime]] = [(str(r[0]), r[1]) for r in session.execute(query)]
    return _newest(rows)


def _requests(session: Session, area: str) -> Count:
    """Information requests the other area made of us and nobody has answered yet."""
    return _grouped(
        session,
        select(InformationRequest.transfer_id, InformationRequest.created_at).where(
            InformationRequest.area_code == area,
            InformationRequest.direction == states.INBOUND,
            InformationRequest.status == OPEN,
        ),
    )


def _forward_requests(session: Session, area: str) -> Count:
    """Requests to forward a case we sent, not answered yet."""
    return _grouped(
        session,
        select(ForwardPermission.transfer_id, ForwardPermission.requested_at)
        .join(
            Transfer,
            (Transfer.id == ForwardPermission.transfer_id)
            & (Transfer.area_code == ForwardPermission.area_code),
        )
        .where(
            ForwardPermission.area_code == area,
            ForwardPermission.status == REQUESTED,
            Transfer.direction == states.OUTBOUND,
        ),
    )


def _repeat_incidents(session: Session, area: str, now: datetime) -> Count:
    """Repeat-incident notices received in the last RECENT_DAYS days."""
    return _grouped(
        session,
        select(TransferEvent.transfer_id, TransferEvent.at)
        .join(
            Transfer,
            (Transfer.id == TransferEvent.transfer_id)
            & (Transfer.area_code == TransferEvent.area_code),
        )
        .where(
            TransferEvent.area_code == area,
            or_(
                (TransferEvent.kind == RECEIVED_STEP[states.INBOUND])
                & (Transfer.direction == states.INBOUND),
                (TransferEvent.kind == RECEIVED_STEP[states.OUTBOUND])
                & (Transfer.direction == states.OUTBOUND),
            ),
            TransferEvent.at >= now - timedelta(days=RECENT_DAYS),
        ),
    )


def _failed_replies(session: Session, area: str) -> Count:
    """Replies (acknowledgements, documents, requests, notices) the outbox gave up on."""
    failed = session.execute(
        select(Envelope.envelope_id, Envelope.created_at)
        .join(OutboxItem, OutboxItem.envelope_pk == Envelope.pk)
        .where(
            Envelope.area_code == area,
            Envelope.in_reply_to.is_not(None),
            OutboxItem.status == FAILED,
        )
    )
    rows = []
    for envelope_id, created_at in failed:
        owner = thread_transfer(session, area, envelope_id)
        if owner is not None:
            rows.append((owner.id, created_at))
    return _newest(rows)


def _newest(rows: list[tuple[str, datetime]]) -> Count:
    """How many, and the newest few distinct transfers among (transfer id, when) rows."""
    rows.sort(key=lambda r: (r[1], r[0]), reverse=True)
    ids = tuple(dict.fromkeys(transfer_id for transfer_id, _ in rows))
    return Count(len(rows), ids[:SHOWN])

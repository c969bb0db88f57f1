"""A transfer arriving from another area (DESIGN section 3, step 3): its
`transfer_request` envelope becomes a new inbound transfer, `received`, with its
restriction code kept and a content-free notice queued for the area's coordinators, all in
the receiving transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from adapters.db.models import Transfer
from gateway.domain.federation.handlers import Handler, Inbound
from gateway.domain.identity.actors import Actor
from gateway.domain.schedule import notifications
from gateway.domain.transfers import timeline
from gateway.domain.transfers.states import INBOUND, RECEIVED
from schemas.wire.transfer_request import TransferRequest, load_transfer_request


def _new_transfer(session: Session, inbound: Inbound) -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Restriction:
    """Kept from an inbound transfer_request: its restriction reason code, if any, and
    whether the sender marked it urgent (the notification may say so)."""

    reason: str | None
    urgent: bool = False


def _restriction_of(loaded: object) -> Restriction:
    if not isinstance(loaded, TransferRequest):
        return Restriction(None)
    urgent = notifications.is_urgent(loaded)
    if loaded.restricted:
        return Restriction(loaded.restricted_reason or "other", urgent)
    return Restriction(None, urgent)


def _add_transfer(session: Session, inbound: Inbound, transfer_id: str | None) -> None:
    assert transfer_id is not None  # noqa: S101 - _new_transfer always names one
    row = Transfer(
        id=transfer_id,
        envelope_id=inbound.envelope_id,
        area_code=inbound.area,
        peer_area=inbound.sender,
        direction=INBOUND,
        status=RECEIVED,
        failure_reason=None,
        created_at=inbound.now,
        updated_at=inbound.now,
        delivered_at=inbound.now,
        purged_at=None,
    )
    if isinstance(inbound.summary, Restriction):
        row.restricted_reason = inbound.summary.reason
    session.add(row)
    timeline.note(
        session,
        row,
        "received",
        inbound.now,
        actor=Actor.peer(inbound.sender),
        envelope_id=inbound.envelope_id,
        restricted=row.restricted_reason is not None,
    )
    # "A new transfer has arrived", queued with the transfer itself: all or nothing.
    urgent = isinstance(inbound.summary, Restriction) and inbound.summary.urgent
    notifications.queue(
        session,
        inbound.area,
        notifications.NEW_TRANSFER,
        inbound.now,
        transfer_id=row.id,
        urgent=urgent,
    )


HANDLER = Handler(
    load=load_transfer_request,
    target=_new_transfer,
    summary=_restriction_of,
    apply=_add_transfer,
)

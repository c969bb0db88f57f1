"""Receiving a `flag_notice` (DESIGN section 2, 001 5.0): the area a case was transferred
to reviewed, extended, cleared or let lapse its flag; the originating area's flag for that
case follows, and records where the case now sits. The index hears of it from the worker."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Flag, Transfer
from gateway.domain.audit import actions
from gateway.domain.audit.log import Detail
from gateway.domain.federation.handlers import Handler, Inbound, record_received, replied_transfer
from gateway.domain.flags.months import today
from gateway.domain.transfers.states import OUTBOUND
from gateway.errors import Refused
from schemas.wire.flags import ACTIVE, CLEARED, EXPIRED, FlagNotice, load_flag_notice


def _target(session: Session, inbound: Inbound) -> str | None:
    transfer = replied_transfer(session, inbound, direction=OUTBOUND)
    if transfer is None:
        raise Refused(
            "A flag notice must answer a transfer this area sent.", reason="unknown-transfer"
        )
    return transfer.id


def _keep(loaded: object) -> object | None:
    # References, dates and codes only: nothing here is about a person.
    return loaded


def _apply(session: Session, inbound: Inbound, transfer_id: str | None) -> None:
    notice = inbound.summary
    transfer = session.get(Transfer, transfer_id) if transfer_id else None
    if not isinstance(notice, FlagNotice) or transfer is None:
        return
    row = None
    if notice.originating_case_ref is not None:
        row = session.scalar(
            select(Flag)
            .where(Flag.area_code == inbound.area, Flag.case_ref == notice.originating_case_ref)
            .with_for_update()
        )
    if row is not None and row.status != CLEARED:
        row.held_by = inbound.sender
        if notice.status == ACTIVE:
            row.reviewed_at = max(row.reviewed_at, notice.reviewed_at)
            row.expires_at = max(row.expires_at, notice.expires_at)
            row.status = ACTIVE if row.expires_at > today(inbound.now) else EXPIRED
        elif notice.expires_at >= row.expires_at or notice.status == CLEARED:
            # Where the case now sits it has lapsed or closed: ours follows.
            row.status = EXPIRED if notice.status == EXPIRED else CLEARED
            row.expires_at = min(row.expires_at, notice.expires_at)
        row.updated_at, row.index_dirty = inbound.now, True
    matched: dict[str, Detail] = {"event": notice.event, "matched": row is not None}
    record_received(
        session,
        inbound,
        transfer,
        kind="flag_notice_received",
        action=actions.FLAG_NOTICE_RECEIVED,
        objects={"envelope": inbound.envelope_id} | ({"flag": row.id} if row is not None else {}),
        details=matched,
        step=matched,
    )


HANDLER = Handler(load=load_flag_notice, target=_target, summary=_keep, apply=_apply)

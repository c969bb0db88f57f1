"""Retention (seed 004 ISP; DESIGN section 7): case content is kept for the area's
retention period after the case's last activity, then purged.

Purging replaces each envelope of the case with its content-free header, drops the sealed
content keys, and deletes the salts of the audit commitments about the case, which
crypto-shreds those commitments: the leaves stay, still verify, and can no longer be tied
to anyone. Transfer rows keep their metadata (areas, states, times) for the audit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from adapters.db.models import Area, AuditSalt, Envelope, OutboxItem, Transfer
from gateway.domain import audit
from gateway.domain.areas.local_areas import get_area
from gateway.domain.audit import actions
from gateway.domain.flags import flag_retention as flag_retention
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import Principal
from gateway.domain.transaction import owns_transaction
from gateway.errors import Invalid
from keys import canonical_json
from keys.envelope import HEADER_FIELDS

DEFAULT_MONTHS = 12
MAX_MONTHS = 1200  # the bound GATEWAY_RETENTION_MONTHS has (gateway/config.py)
PENDING = "pending"


@dataclass
class PurgeReport:
    area: str
    cutoff: datetime
    transfers: int = 0
    envelopes: int = 0
    salts: int = 0
    flags: int = 0
    transfer_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "area": self.area,
            "cutoff": self.cutoff.isoformat(),
            "transfers": self.transfers,
            "envelopes": self.envelopes,
            "commitment_salts": self.salts,
            "flags": self.flags,
        }


@dataclass(frozen=True)
class AreaRetention:
    months: int
    own: bool  # False: the node's default (GATEWAY_RETENTION_MONTHS) applies


@owns_transaction
def area_retention(
    session: Session, principal: Principal, area: str, default_months: int
) -> AreaRetention:
    """The area's retention period as its admins see it."""
    principal.admin_actor(area)
    with session.begin():
        own = get_area(session, area).retention_months
    return AreaRetention(own or default_months, own is not None)


@owns_transaction
def set_area_retention(
    session: Session, principal: Principal, area: str, months: int, *, now: datetime
) -> AreaRetention:
    """The area's own retention period in months (1-1200), set by an admin of the area;
    the next purge applies it."""
    actor = principal.admin_actor(area)
    if not 1 <= months <= MAX_MONTHS:
        raise Invalid(
            "The retention period is not valid.",
            errors={"retention_months": [f"Between 1 and {MAX_MONTHS} months."]},
        )
    with session.begin():
        get_area(session, area).retention_months = months
        audit.record(
            session,
            area,
            audit.Event(
                action=actions.AREA_SETTINGS_SET,
                actor=actor,
                details={"retention_months": months},
            ),
            now,
        )
    return AreaRetention(months, True)


def months_before(moment: datetime, months: int) -> datetime:
    """Calendar months back, the day clamped to the target month's length (31 March less
    one month is 28 or 29 February)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


@owns_transaction
def purge(
    session: Session,
    *,
    now: datetime,
    default_months: int = DEFAULT_MONTHS,
    area: str | None = None,
    dry_run: bool = False,
    actor: Actor,
) -> list[PurgeReport]:
    reports = []
    with session.begin():
        query = select(Area).order_by(Area.code)
        if area is not None:
            get_area(session, area)
            query = query.where(Area.code == area)
        for row in session.scalars(query).all():
            months = row.retention_months or default_months
            report = PurgeReport(row.code, months_before(now, months))
            for transfer in _expired(session, row.code, report.cutoff):
                _purge_case(session, transfer, report, now, dry_run)
            report.flags = flag_retention.purge_flags(
                session, row.code, report.cutoff, now, dry_run
            )
            if not dry_run:
                audit.record(session, row.code, _event(report, months, actor), now)
            reports.append(report)
        if dry_run:
            session.rollback()
    return reports


def _case_envelopes(transfer: Transfer) -> ColumnElement[bool]:
    """The transfer's own envelope and everything sent in reply to it."""
    return (Envelope.area_code == transfer.area_code) & or_(
        Envelope.envelope_id == transfer.envelope_id,
        Envelope.in_reply_to == transfer.envelope_id,
    )


def _expired(session: Session, area: str, cutoff: datetime) -> list[Transfer]:
    """Cases whose last activity (the transfer or any envelope of its conversation) is
    older than the cutoff, and that have nothing still waiting to be delivered.
    Ended flags are purged on their own clock (gateway/domain/flags/retention.py)."""
    replies = (
        select(func.max(Envelope.created_at))
        .where(Envelope.area_code == area, Envelope.in_reply_to == Transfer.envelope_id)
        .scalar_subquery()
    )
    undelivered = exists(
        select(OutboxItem.id)
        .join(Envelope, Envelope.pk == OutboxItem.envelope_pk)
        .where(
            Envelope.area_code == area,
            Envelope.envelope_id == Transfer.envelope_id,
            OutboxItem.status == PENDING,
        )
    )
    return list(
        session.scalars(
            select(Transfer)
            .where(Transfer.area_code == area, Transfer.purged_at.is_(None))
            .where(Transfer.updated_at < cutoff)
            .where(or_(replies.is_(None), replies < cutoff))
            .where(~undelivered)
            .order_by(Transfer.created_at)
        )
    )


def _purge_case(
    session: Session, transfer: Transfer, report: PurgeReport, now: datetime, dry_run: bool
) -> None:
    envelopes = list(session.scalars(select(Envelope).where(_case_envelopes(transfer))))
    report.transfers += 1
    report.envelopes += len(envelopes)
    report.transfer_ids.append(transfer.id)
    ids = [e.envelope_id for e in envelopes]
    report.salts += int(
        session.scalar(
            select(func.count())
            .select_from(AuditSalt)
            .where(AuditSalt.area_code == transfer.area_code, AuditSalt.envelope_id.in_(ids))
        )
        or 0
    )
    if dry_run:
        return
    for envelope in envelopes:
        envelope.body = tombstone(envelope.body)
        envelope.self_sealed_key = None
        envelope.purged_at = now
    session.execute(
        delete(AuditSalt).where(
            AuditSalt.area_code == transfer.area_code, AuditSalt.envelope_id.in_(ids)
        )
    )
    transfer.purged_at = now
    transfer.updated_at = now


def tombstone(body: str) -> str:
    """The header alone: ids, areas, keys, type and time. No ciphertext, no sealed key."""
    wire = json.loads(body)
    return canonical_json({name: wire.get(name) for name in HEADER_FIELDS}).decode("ascii")


def _event(report: PurgeReport, months: int, actor: Actor) -> audit.Event:
    return audit.Event(
        action=actions.RETENTION_PURGED,
        actor=actor,
        details={
            "cutoff": report.cutoff.date().isoformat(),
            "months": months,
            "transfers": report.transfers,
            "envelopes": report.envelopes,
            "commitment_salts": report.salts,
            "flags": report.flags,
        },
    )

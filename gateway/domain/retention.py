"""Retention (seed 004 ISP 8.4-8.6; DESIGN section 7): case content is kept for the area's
retention period after the case's last activity, then purged.

Purging replaces each envelope of the case with its content-free header, drops the sealed
content keys, and deletes the salts of the audit commitments about the case, which
crypto-shreds those commitments: the leaves stay, still verify, and can no longer be tied
to anyone. Transfer rows keep their metadata (areas, states, times) for the audit.

People decide too, on one area's copy of a case (a transfer as this area holds it, sent or
received): a **legal hold** keeps it whatever its age until it is lifted (9.7-9.8: a court
may order disclosure of what the MARAC holds, so it must still be there), and an **early
purge** removes its content before its time (8.4-8.5: held only while a risk remains;
the review may find it no longer relevant). Who decides: the area's coordinators and
chairs, the people who answer for the case (9.5-9.8 put court orders and access requests
to the chair; the coordinator runs the area's casework). Admins run the node and never see
a case, so they do not decide what is kept of one; machines cannot decide at all. Each
decision is audited with its reason code; its note is sealed under the master key.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import ColumnElement, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from adapters.db.models import (
    Area,
    AuditSalt,
    Envelope,
    OutboxItem,
    RetentionDecision,
    Transfer,
)
from gateway.domain import audit
from gateway.domain.areas.local_areas import get_area
from gateway.domain.audit import actions
from gateway.domain.audit.log import Detail
from gateway.domain.flags import flag_retention as flag_retention
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import CHAIR, COORDINATOR, Principal
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import states, timeline
from gateway.errors import Conflict, Invalid, NotFound, field_errors
from keys import MasterKey, canonical_json
from keys.envelope import HEADER_FIELDS
from schemas.api.retention import EARLY_PURGE, HOLD, LIFT, load_decision

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
    # Due by age but kept under a legal hold: (transfer id, the hold's reason code).
    held: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "area": self.area,
            "cutoff": self.cutoff.isoformat(),
            "transfers": self.transfers,
            "envelopes": self.envelopes,
            "commitment_salts": self.salts,
            "flags": self.flags,
            "held": len(self.held),
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
                if transfer.legal_hold_reason is not None:
                    report.held.append((transfer.id, transfer.legal_hold_reason))
                    continue
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
    older than the cutoff, and that have nothing still waiting to be delivered; held
    cases among them (the caller keeps those). Ended flags are purged on their own clock
    (gateway/domain/flags/retention.py)."""
    replies = (
        select(func.max(Envelope.created_at))
        .where(Envelope.area_code == area, Envelope.in_reply_to == Transfer.envelope_id)
        .scalar_subquery()
    )
    undelivered = _waiting(Transfer.area_code, Transfer.envelope_id)
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


def _waiting(area: Any, envelope_id: Any) -> ColumnElement[bool]:
    """The case's own envelope is still waiting in the outbox: purging it would send a
    tombstone (or nothing) to the peer."""
    return exists(
        select(OutboxItem.id)
        .join(Envelope, Envelope.pk == OutboxItem.envelope_pk)
        .where(
            Envelope.area_code == area,
            Envelope.envelope_id == envelope_id,
            OutboxItem.status == PENDING,
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
            "held": len(report.held),
        },
    )


# --- decisions: legal hold, lift, early purge (seed 004 ISP 8.4-8.6, 9.7-9.8) -------------

DECISION_ROLES = frozenset({COORDINATOR, CHAIR})
STEPS = {HOLD: "legal_hold_set", LIFT: "legal_hold_lifted", EARLY_PURGE: "purged_early"}
ACTIONS = {
    HOLD: actions.RETENTION_HOLD_SET,
    LIFT: actions.RETENTION_HOLD_LIFTED,
    EARLY_PURGE: actions.RETENTION_PURGED_EARLY,
}


@dataclass(frozen=True)
class RetentionView:
    transfer_id: str
    legal_hold: str | None
    legal_hold_since: datetime | None
    purged_at: datetime | None
    decision: str


def note_context(area: str, decision_id: str) -> str:
    return f"retention-decision:v1:{area}:{decision_id}"


@owns_transaction
def decide(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    decision: str,
    data: Mapping[str, Any],
    now: datetime,
) -> RetentionView:
    """One person's decision on one area's copy of a case, in ONE transaction with its
    audit event and timeline step: NotFound for anyone who is not a coordinator or chair
    of the case's area (as for a missing id), Conflict for a decision that does not fit
    (holding a held case, lifting an unheld one, purging a held or purged one)."""
    try:
        body = load_decision(decision, data)
    except ValidationError as exc:
        raise Invalid("The decision is not valid.", errors=field_errors(exc.messages)) from exc
    with session.begin():
        row = session.get(Transfer, transfer_id, with_for_update=True)
        if row is None or row.area_code not in principal.areas_for(DECISION_ROLES):
            raise NotFound("No such transfer.")
        if row.purged_at is not None:
            raise Conflict("This case's content was already purged.")
        details: dict[str, Detail] = {"reason": body.reason}
        if decision == HOLD:
            _hold(row, body.reason, now)
        elif decision == LIFT:
            _lift(row)
        else:
            details.update(_purge_now(session, row, now))
        decision_id = str(uuid.uuid4())
        actor = principal.actor(row.area_code, DECISION_ROLES)
        session.add(
            RetentionDecision(
                id=decision_id,
                area_code=row.area_code,
                transfer_id=row.id,
                decision=decision,
                reason=body.reason,
                note_sealed=master.seal(
                    body.note.encode("utf-8"), note_context(row.area_code, decision_id)
                ),
                decided_by=actor.id,
                decided_at=now,
            )
        )
        row.updated_at = now
        timeline.note(session, row, STEPS[decision], now, actor=actor, reason=body.reason)
        audit.record(
            session,
            row.area_code,
            audit.Event(
                action=ACTIONS[decision],
                actor=actor,
                peer_area=row.peer_area,
                objects={"transfer": row.id, "decision": decision_id},
                details=details,
            ),
            now,
        )
        return RetentionView(
            row.id, row.legal_hold_reason, row.legal_hold_since, row.purged_at, decision_id
        )


def _hold(row: Transfer, reason: str, now: datetime) -> None:
    if row.legal_hold_reason is not None:
        raise Conflict("This case is already under a legal hold; lift it first to change it.")
    row.legal_hold_reason, row.legal_hold_since = reason, now


def _lift(row: Transfer) -> None:
    if row.legal_hold_reason is None:
        raise Conflict("This case is not under a legal hold.")
    row.legal_hold_reason, row.legal_hold_since = None, None


def _purge_now(session: Session, row: Transfer, now: datetime) -> dict[str, Detail]:
    if row.legal_hold_reason is not None:
        raise Conflict("This case is under a legal hold: lift the hold before purging it.")
    if row.status in (states.DRAFT, states.AWAITING_APPROVAL):
        # Nothing has left yet: a draft is deleted, a held transfer withdrawn, never
        # left half-purged for a chair to approve or a coordinator to send.
        raise Conflict(f"The transfer is '{row.status}': withdraw or delete it instead.")
    if session.scalar(select(_waiting(row.area_code, row.envelope_id))):
        raise Conflict("This case is still waiting to be delivered; withdraw it first.")
    report = PurgeReport(row.area_code, now)
    _purge_case(session, row, report, now, dry_run=False)
    return {"envelopes": report.envelopes, "commitment_salts": report.salts}

"""A transfer's timeline as one area saw it: every step both sides can
read, from creation to acknowledgement, withdrawal or forward. Content-free, so auditors
read it too; the audit log remains the tamper-evident record, this is the readable one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from adapters.db.models import Transfer, TransferEvent
from adapters.db.session import insert_now
from gateway.domain.identity.actors import Actor


def note(
    session: Session,
    row: Transfer,
    kind: str,
    now: datetime,
    *,
    actor: Actor | None = None,
    envelope_id: str | None = None,
    **detail: str | int | bool | None,
) -> None:
    """One step on the transfer's timeline, as this area saw it. Content-free: a kind, who
    (an actor id and role, never a name), the envelope it concerns and a few codes.
    Inserted at once (`insert_now`): a step is never read back as an object in the
    transaction that writes it, and a batch of receipts writes twenty."""
    insert_now(
        session,
        TransferEvent,
        [
            {
                "transfer_id": row.id,
                "area_code": row.area_code,
                "at": now,
                "kind": kind,
                "actor": json.dumps(actor.as_dict(), sort_keys=True) if actor else None,
                "envelope_id": envelope_id,
                "detail": json.dumps(detail, sort_keys=True) if detail else None,
            }
        ],
    )


@dataclass(frozen=True)
class Step:
    at: datetime
    kind: str
    actor: Mapping[str, str] | None
    envelope_id: str | None
    detail: Mapping[str, Any]


def timeline(session: Session, row: Transfer) -> list[Step]:
    rows = session.scalars(
        select(TransferEvent)
        .where(TransferEvent.transfer_id == row.id, TransferEvent.area_code == row.area_code)
        .order_by(TransferEvent.id)
    )
    return [
        Step(
            at=event.at,
            kind=event.kind,
            actor=json.loads(event.actor) if event.actor else None,
            envelope_id=event.envelope_id,
            detail=json.loads(event.detail) if event.detail else {},
        )
        for event in rows
    ]


def forget(session: Session, row: Transfer) -> None:
    """Drop the steps of a transfer that is itself being deleted (a draft that never
    left); in the caller's transaction."""
    session.execute(
        delete(TransferEvent).where(
            TransferEvent.transfer_id == row.id, TransferEvent.area_code == row.area_code
        )
    )

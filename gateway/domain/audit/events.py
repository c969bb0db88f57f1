"""Reading an area's audit events page by page (the API's `GET /api/v1/audit`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import AuditEvent
from gateway.domain.areas.local_areas import get_area
from gateway.domain.transaction import owns_transaction

MAX_PAGE = 500


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next: str | None


@owns_transaction
def list_events(
    session: Session,
    area: str,
    *,
    after: int | None = None,
    limit: int = 100,
    action: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    peer_area: str | None = None,
) -> Page:
    """Oldest first; `next` is the cursor (the last sequence number) for the next page.
    `peer_area` is matched in the leaf's canonical text, where it is always written as
    `"peer_area":"<code>"` (canonical JSON has one spelling), so no column is needed."""
    limit = max(1, min(limit, MAX_PAGE))
    with session.begin():
        get_area(session, area)
        query = select(AuditEvent.seq, AuditEvent.leaf, AuditEvent.leaf_hash).where(
            AuditEvent.area_code == area
        )
        if after is not None:
            query = query.where(AuditEvent.seq > after)
        if action:
            query = query.where(AuditEvent.action == action)
        if start is not None:
            query = query.where(AuditEvent.at >= start)
        if end is not None:
            query = query.where(AuditEvent.at < end)
        if peer_area:
            query = query.where(
                AuditEvent.leaf.contains(f'"peer_area":"{peer_area}"', autoescape=True)
            )
        rows = session.execute(query.order_by(AuditEvent.seq).limit(limit + 1)).all()
    items = [{**json.loads(leaf), "leaf_hash": hashed.hex()} for _, leaf, hashed in rows[:limit]]
    more = len(rows) > limit
    return Page(items, str(rows[limit - 1][0]) if more else None)

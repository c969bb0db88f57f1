"""A small database-backed rate limiter, shared by every process of a node.

gunicorn runs several workers, so an in-memory limiter would let each of them grant the
full allowance. This one keeps a fixed-window counter per opaque key in the database and
bumps it with one atomic upsert (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, on both
PostgreSQL and SQLite), so concurrent requests can never both take the last slot.

Keys are whatever the caller names ("login-source:<address>", "lookup:<user id>"); only a
SHA-256 of the key is stored, so an address or an email never lands in the table.

The functions run inside the caller's transaction: the caller owns the boundary.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from adapters.db.models import RateCounter

# Re-exported: callers name the limit and the limiter together (rate_limits.RateLimit).
from gateway.domain.identity.rate_spec import RateLimit as RateLimit


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    count: int
    retry_after: int  # seconds until the window resets


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _window(limit: RateLimit, now: datetime) -> tuple[datetime, datetime]:
    period = int(limit.period.total_seconds())
    start = int(now.timestamp()) // period * period
    begins = datetime.fromtimestamp(start, UTC)
    return begins, begins + limit.period


def _decision(limit: RateLimit, count: int, ends: datetime, now: datetime) -> RateDecision:
    retry = max(1, math.ceil((ends - now).total_seconds()))
    return RateDecision(count <= limit.count, count, retry)


_PREPAID = "gateway_rate_prepaid"


def hit(session: Session, key: str, limit: RateLimit, now: datetime) -> RateDecision:
    """Count one event and say whether it is within the limit. An event `hit_many`
    already counted in this transaction (for this key and limit) is not counted twice."""
    prepaid = session.info.get(_PREPAID)
    if prepaid is not None and prepaid[0] is session.get_transaction():
        decision = prepaid[1].pop((key, limit), None)
        if isinstance(decision, RateDecision):
            return decision
    return hit_many(session, [(key, limit)], now)[0]


def hit_many(
    session: Session, hits: list[tuple[str, RateLimit]], now: datetime, *, prepay: bool = False
) -> list[RateDecision]:
    """Count one event on each (key, limit) in ONE statement (a multi-row upsert with
    RETURNING), in the caller's transaction. With `prepay`, the decisions are also kept for
    this transaction, so the services that check them later (`hit`) reuse them instead of
    counting again: a local lookup checks three limits with one statement."""
    keys = [key for key, _ in hits]
    if len(set(keys)) != len(keys):
        raise ValueError("each key is counted once per statement")
    windows = [_window(limit, now) for _, limit in hits]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, RateCounter.__table__)
    statement = insert(table).values(
        [
            {"key": _digest(key), "window_start": begins, "count": 1}
            for key, (begins, _) in zip(keys, windows, strict=True)
        ]
    )
    proposed = statement.excluded
    upsert = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            # Both sides read the row as it was before this update; each row brings its
            # own window (limits of different periods share one statement).
            "count": case(
                (table.c.window_start == proposed.window_start, table.c.count + 1), else_=1
            ),
            "window_start": proposed.window_start,
        },
    ).returning(table.c.key, table.c.count)
    counts = {str(k): int(c) for k, c in session.execute(upsert).all()}
    decisions = [
        _decision(limit, counts[_digest(key)], ends, now)
        for (key, limit), (_, ends) in zip(hits, windows, strict=True)
    ]
    if prepay:
        session.info[_PREPAID] = (
            session.get_transaction(),
            dict(zip(hits, decisions, strict=True)),
        )
    return decisions


def peek(session: Session, key: str, limit: RateLimit, now: datetime) -> RateDecision:
    """Would one more event be allowed? Counts nothing."""
    begins, ends = _window(limit, now)
    row = session.execute(
        select(RateCounter.window_start, RateCounter.count).where(RateCounter.key == _digest(key))
    ).first()
    used = int(row[1]) if row is not None and row[0] == begins else 0
    return _decision(limit, used + 1, ends, now)


def reset(session: Session, key: str) -> None:
    session.execute(delete(RateCounter).where(RateCounter.key == _digest(key)))


def purge(session: Session, older_than: datetime) -> int:
    """Drop counters whose window started before `older_than` (they can only reset)."""
    result = session.execute(delete(RateCounter).where(RateCounter.window_start < older_than))
    return int(getattr(result, "rowcount", 0) or 0)

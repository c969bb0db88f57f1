"""Disclosure reports for steering groups (seed 004 ISP 3.4): counts by period, peer
area, legal basis and consent status, and how long delivery and acknowledgement took.
Computed from the audit log itself, so the report and the evidence cannot disagree."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import AuditEvent
from gateway.domain.areas.local_areas import get_area
from gateway.domain.audit import actions
from gateway.domain.audit.export import day_range
from gateway.domain.transaction import owns_transaction
from gateway.errors import Invalid
from schemas.common import parse_timestamp

PERIODS = ("month", "quarter", "year")
# The sender's leaf for an acknowledgement names the transfer's own envelope, so the
# time from disclosure to acknowledgement is measured like delivery.
ACKNOWLEDGED = actions.ACKNOWLEDGEMENT_RECEIVED
# A forward to a third area is a disclosure by this area like any transfer it sends.
SENT = (actions.TRANSFER_SENT, actions.FORWARD_SENT)
COUNTED = (
    *SENT,
    actions.TRANSFER_DELIVERED,
    actions.ENVELOPE_RECEIVED,
    ACKNOWLEDGED,
    actions.ACKNOWLEDGEMENT_OVERDUE,
)


@dataclass(frozen=True)
class Durations:
    count: int
    median_seconds: float | None
    p90_seconds: float | None
    max_seconds: float | None

    @classmethod
    def of(cls, values: list[float]) -> Durations:
        if not values:
            return cls(0, None, None, None)
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        return cls(len(ordered), statistics.median(ordered), p90, ordered[-1])


def period_of(moment: datetime, period: str) -> str:
    if period == "year":
        return f"{moment.year}"
    if period == "quarter":
        return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"
    return f"{moment.year}-{moment.month:02d}"


@owns_transaction
def disclosures(
    session: Session, area: str, start: date, end: date, period: str = "month"
) -> dict[str, Any]:
    if period not in PERIODS:
        raise Invalid("Unknown period.", errors={"period": [f"One of {', '.join(PERIODS)}."]})
    if end < start:
        raise Invalid("The period ends before it starts.", errors={"to": ["Before 'from'."]})
    with session.begin():
        get_area(session, area)
        lo, hi = day_range(start, end)
        leaves = [
            json.loads(leaf)
            for (leaf,) in session.execute(
                select(AuditEvent.leaf)
                .where(
                    AuditEvent.area_code == area,
                    AuditEvent.at >= lo,
                    AuditEvent.at < hi,
                    AuditEvent.action.in_(COUNTED),
                )
                .order_by(AuditEvent.seq)
            )
        ]
    return _summarise(area, start, end, period, leaves)


def _summarise(
    area: str, start: date, end: date, period: str, leaves: list[dict[str, Any]]
) -> dict[str, Any]:
    sent = [leaf for leaf in leaves if leaf["action"] in SENT]
    received = [leaf for leaf in leaves if leaf["action"] == actions.ENVELOPE_RECEIVED]
    return {
        "area": area,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "period": period,
        "disclosures_sent": _breakdown(sent, period),
        "disclosures_received": _breakdown(received, period),
        "delivery": _timing(sent, leaves, actions.TRANSFER_DELIVERED).__dict__,
        "acknowledgement": _timing(sent, leaves, ACKNOWLEDGED).__dict__,
        "overdue_acknowledgements": _overdue(leaves),
    }


def _overdue(leaves: list[dict[str, Any]]) -> dict[str, Any]:
    """Transfers this area sent whose acknowledgement fell overdue in the period (the
    reminder worker warns the sender at most once a day: each transfer counts once)."""
    peers: dict[str, str] = {}
    for leaf in leaves:
        if leaf["action"] == actions.ACKNOWLEDGEMENT_OVERDUE:
            peers.setdefault(leaf["objects"].get("transfer", ""), leaf["peer_area"] or "")
    return {"total": len(peers), "by_peer_area": dict(sorted(Counter(peers.values()).items()))}


def _breakdown(leaves: list[dict[str, Any]], period: str) -> dict[str, Any]:
    basis: Counter[str] = Counter()
    for leaf in leaves:
        basis.update(leaf["legal_basis"] or ["consent"])
    return {
        "total": len(leaves),
        "by_period": dict(sorted(Counter(period_of(_at(x), period) for x in leaves).items())),
        "by_peer_area": dict(sorted(Counter(x["peer_area"] or "" for x in leaves).items())),
        "by_legal_basis": dict(sorted(basis.items())),
        "by_consent": dict(sorted(Counter(x["consent"] or "unknown" for x in leaves).items())),
    }


def _timing(sent: list[dict[str, Any]], leaves: list[dict[str, Any]], later: str) -> Durations:
    """Seconds from each disclosure to the first `later` event about the same envelope."""
    first: dict[str, datetime] = {}
    for leaf in leaves:
        envelope = leaf["objects"].get("envelope")
        if leaf["action"] == later and envelope and envelope not in first:
            first[envelope] = _at(leaf)
    values = [
        (first[x["objects"]["envelope"]] - _at(x)).total_seconds()
        for x in sent
        if x["objects"].get("envelope") in first
    ]
    return Durations.of(values)


def _at(leaf: dict[str, Any]) -> datetime:
    return parse_timestamp(leaf["at"])

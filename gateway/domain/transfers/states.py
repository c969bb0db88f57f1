"""Transfer states and the transitions between them (DESIGN section 2).

Each side of a transfer keeps its own state machine: the sender's row follows the
envelope out and the acknowledgement back; the receiver's row follows what its
coordinator decides. Every state change goes through `move`, so an illegal one (approving
twice, acknowledging an outbound transfer) is refused in one place with one wording.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from gateway.errors import Conflict

# Sender side.
DRAFT = "draft"  # saved but not sent: nothing sealed for the peer yet
AWAITING_APPROVAL = "awaiting_approval"
QUEUED = "queued"
DELIVERED = "delivered"
FAILED = "failed"
# The receiving area asked for more (minutes, the original referral) before answering.
INFORMATION_REQUESTED = "information_requested"
# Both sides: the receiving area's coordinator accepted the case, or sent it elsewhere.
ACKNOWLEDGED = "acknowledged"
REDIRECTED = "redirected"
# Both sides: the sending area took the transfer back, with a reason.
WITHDRAWN = "withdrawn"
# Receiver side.
RECEIVED = "received"

INBOUND, OUTBOUND = "inbound", "outbound"

SENDER: dict[str, frozenset[str]] = {
    DRAFT: frozenset({AWAITING_APPROVAL, QUEUED, WITHDRAWN}),
    AWAITING_APPROVAL: frozenset({QUEUED, WITHDRAWN}),
    QUEUED: frozenset({DELIVERED, FAILED, WITHDRAWN}),
    # A receipt that arrives after the outbox gave up still proves delivery.
    FAILED: frozenset({DELIVERED, WITHDRAWN}),
    DELIVERED: frozenset({ACKNOWLEDGED, REDIRECTED, INFORMATION_REQUESTED, WITHDRAWN}),
    # Answering the request (with documents) puts the transfer back to awaiting an answer.
    INFORMATION_REQUESTED: frozenset({DELIVERED, ACKNOWLEDGED, REDIRECTED, WITHDRAWN}),
    # The originator keeps ownership: it may take a transfer back even once it is listed.
    ACKNOWLEDGED: frozenset({WITHDRAWN}),
    REDIRECTED: frozenset({WITHDRAWN}),
    WITHDRAWN: frozenset(),
}
RECEIVER: dict[str, frozenset[str]] = {
    RECEIVED: frozenset({ACKNOWLEDGED, REDIRECTED, WITHDRAWN}),
    ACKNOWLEDGED: frozenset({WITHDRAWN}),
    REDIRECTED: frozenset({WITHDRAWN}),
    WITHDRAWN: frozenset(),
}
MACHINES = {OUTBOUND: SENDER, INBOUND: RECEIVER}
STATUSES = tuple(dict.fromkeys([*SENDER, *RECEIVER]))

_WHY = {
    (OUTBOUND, ACKNOWLEDGED): "only the receiving area acknowledges a transfer",
    (OUTBOUND, REDIRECTED): "only the receiving area acknowledges a transfer",
    (INBOUND, QUEUED): "only the sending area approves a transfer",
    (INBOUND, WITHDRAWN): "only the sending area withdraws a transfer",
}


class Stateful(Protocol):
    direction: str
    status: str


def allowed(direction: str, current: str, target: str) -> bool:
    return target in MACHINES.get(direction, {}).get(current, frozenset())


def move(row: Stateful, target: str) -> None:
    """Set `row.status` to `target`, or raise Conflict naming both states."""
    check(row, target)
    row.status = target


def check(row: Stateful, target: str) -> None:
    """Raise Conflict unless `row` may move to `target` (before doing costlier checks)."""
    if not allowed(row.direction, row.status, target):
        why = _WHY.get((row.direction, target))
        hint = f": {why}" if why else ""
        raise Conflict(
            f"An {row.direction} transfer cannot go from '{row.status}' to '{target}'{hint}."
        )


# Waiting for the receiving area's answer, and since when (DESIGN section 2: the
# acknowledgement limit): an inbound transfer from its arrival here, an outbound one from
# its delivery there. The reminders and the lists judge "overdue" by this one clock.
AWAITING_ACKNOWLEDGEMENT = {INBOUND: RECEIVED, OUTBOUND: DELIVERED}


class Clocked(Protocol):
    @property
    def direction(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def delivered_at(self) -> datetime | None: ...


def acknowledgement_clock(row: Clocked) -> datetime | None:
    """When the acknowledgement clock started, for a transfer awaiting one; else None."""
    if AWAITING_ACKNOWLEDGEMENT.get(row.direction) != row.status:
        return None
    return row.created_at if row.direction == INBOUND else row.delivered_at

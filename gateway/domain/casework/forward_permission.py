"""The records of permission to forward a received case to a third area, as each side
keeps them (DESIGN section 2: what was shared stays the originating area's), and receiving
`forward_permission` envelopes: a request on the originating node, a grant or refusal on
the node that asked. Asking, answering and forwarding are in `forwarding`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from adapters.db.models import ForwardPermission as PermissionRow
from adapters.db.models import Transfer
from gateway.domain.audit import actions
from gateway.domain.casework import replying
from gateway.domain.federation import handlers
from gateway.domain.identity.principals import Principal
from gateway.domain.schedule import notifications
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import states
from gateway.domain.transfers.reading import listed_transfer, of_transfer
from gateway.errors import Refused
from schemas.wire.forward_permission import (
    GRANT,
    GRANTED,
    REQUEST,
    ForwardPermission,
    load_forward_permission,
)

REQUESTED, REFUSED = "requested", "refused"
# The originator answers requests about a transfer that has left and is not withdrawn.
ANSWERABLE = frozenset(
    {
        states.QUEUED,
        states.FAILED,
        states.DELIVERED,
        states.INFORMATION_REQUESTED,
        states.ACKNOWLEDGED,
        states.REDIRECTED,
    }
)


@dataclass(frozen=True)
class PermissionView:
    request_id: str
    transfer_id: str
    forward_to: str
    status: str
    requested_at: datetime
    answered_at: datetime | None
    used_by: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "transfer_id": self.transfer_id,
            "forward_to": self.forward_to,
            "status": self.status,
            "requested_at": self.requested_at.isoformat(),
            "answered_at": self.answered_at.isoformat() if self.answered_at else None,
            "used_by": self.used_by,
        }


def permission_view(row: PermissionRow) -> PermissionView:
    return PermissionView(
        row.request_id,
        row.transfer_id,
        row.forward_to,
        row.status,
        row.requested_at,
        row.answered_at,
        row.used_by,
    )


def new_permission(request_id: str, row: Transfer, forward_to: str, now: datetime) -> PermissionRow:
    return PermissionRow(
        request_id=request_id,
        area_code=row.area_code,
        transfer_id=row.id,
        forward_to=forward_to,
        status=REQUESTED,
        requested_at=now,
        answer_id=None,
        answered_at=None,
        used_by=None,
    )


@owns_transaction
def permissions(session: Session, principal: Principal, transfer_id: str) -> list[PermissionView]:
    """Every request to forward this transfer and its answer, for whoever may list the
    area's transfers (metadata: ids, areas, states, times)."""
    with session.begin():
        row = listed_transfer(session, principal, transfer_id)
        found = session.scalars(
            of_transfer(PermissionRow, row).order_by(
                PermissionRow.requested_at, PermissionRow.request_id
            )
        )
        return [permission_view(p) for p in found]


# --- receiving the envelopes ---------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """What a node keeps from a forward_permission envelope: codes and ids only."""

    kind: str
    forward_to: str
    reason: str | None
    request_id: str | None


def _summary_of(loaded: object) -> Summary | None:
    if isinstance(loaded, ForwardPermission):
        return Summary(loaded.kind, loaded.forward_to, loaded.reason, loaded.request_id)
    return None


def _target(session: Session, inbound: handlers.Inbound) -> str:
    summary = inbound.summary
    if not isinstance(summary, Summary):
        raise Refused("The forward permission cannot be read.", reason="invalid-payload")
    if summary.kind == REQUEST:
        # We are the originating area: the request concerns a transfer we sent.
        unknown = "The request concerns no transfer this area sent to its sender."
        row = replying.replied_or_refused(session, inbound, states.OUTBOUND, unknown)
        if row.status not in ANSWERABLE:
            raise Refused(
                f"The transfer is '{row.status}'; it cannot be forwarded.",
                reason="unexpected-forward-request",
            )
        return row.id
    # We asked: the answer concerns a transfer we received and a request we sent.
    unknown = "The answer concerns no transfer this area received from its sender."
    row = replying.replied_or_refused(session, inbound, states.INBOUND, unknown)
    permission = session.get(
        PermissionRow, (summary.request_id, inbound.area), with_for_update=True
    )
    if permission is None or permission.transfer_id != row.id:
        raise Refused("The answer concerns no request this area made.", reason="unknown-request")
    if permission.forward_to != summary.forward_to:
        raise Refused("The answer names another third area.", reason="wrong-area")
    if permission.status != REQUESTED:
        raise Refused("The request was already answered.", reason="unexpected-answer")
    return row.id


def _apply(session: Session, inbound: handlers.Inbound, transfer_id: str | None) -> None:
    row = session.get(Transfer, transfer_id)
    summary = inbound.summary
    if row is None or not isinstance(summary, Summary):
        raise Refused("The forward permission cannot be applied.", reason="invalid-payload")
    if summary.kind == REQUEST:
        session.add(new_permission(inbound.envelope_id, row, summary.forward_to, inbound.now))
        kind, action = "forward_requested", actions.FORWARD_REQUEST_RECEIVED
        request_id, notify = inbound.envelope_id, notifications.FORWARD_REQUEST
    else:
        permission = session.get(PermissionRow, (summary.request_id, row.area_code))
        assert permission is not None  # noqa: S101 - checked by _target in this transaction
        permission.status = GRANTED if summary.kind == GRANT else REFUSED
        permission.answer_id, permission.answered_at = inbound.envelope_id, inbound.now
        kind, action = f"forward_{permission.status}", actions.FORWARD_ANSWER_RECEIVED
        request_id, notify = permission.request_id, notifications.FORWARD_ANSWER
    handlers.record_received(
        session,
        inbound,
        row,
        kind=kind,
        action=action,
        objects={"envelope": row.envelope_id, "request": request_id},
        details={"kind": summary.kind, "forward_to": summary.forward_to},
        step={"forward_to": summary.forward_to, "request": request_id},
        notify=notify,
    )


HANDLER = handlers.Handler(
    load=load_forward_permission, summary=_summary_of, target=_target, apply=_apply
)

"""Outbound transfers: validate, seal, and queue in one transaction; list metadata.

States and their transitions live in `gateway.domain.transfers.states`; approval and
acknowledgement in `gateway.domain.workflow`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Select, and_, or_, select, tuple_
from sqlalchemy.orm import Session

from adapters.db.models import Envelope, Transfer
from gateway.domain import audit
from gateway.domain.areas.local_areas import get_area, secret_keys_by_id
from gateway.domain.audit import actions
from gateway.domain.identity.principals import (
    CONTENT_ROLES,
    METADATA_ROLES,
    TRANSFERS_READ,
    Principal,
)
from gateway.domain.schedule.meetings import ack_working_days
from gateway.domain.schedule.working_calendar import due as due_day
from gateway.domain.schedule.working_calendar import is_overdue, overdue_cutoff
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import restriction, timeline
from gateway.domain.transfers.states import (
    AWAITING_ACKNOWLEDGEMENT,
    INBOUND,
    OUTBOUND,
    WITHDRAWN,
    acknowledgement_clock,
)
from gateway.errors import Gone, NotFound
from keys import (
    CryptoError,
    MasterKey,
    open_envelope,
    open_own_copy,
    parse_envelope,
)

TRANSFER_REQUEST = "transfer_request"
# A saved draft: the transfer_request wrapped and sealed to the area's own key, never sent.
TRANSFER_DRAFT = "transfer_draft"
DIRECTIONS = (INBOUND, OUTBOUND)


@dataclass(frozen=True)
class TransferView:
    """What anyone allowed to see a transfer's existence may see: metadata only."""

    id: str
    envelope_id: str
    direction: str
    status: str
    from_area: str
    to_area: str
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    failure_reason: str | None
    # Set once the receiving area acknowledged the transfer (accepted).
    listed_for: date | None = None
    # A restricted case: only named users of the receiving area open it.
    restricted: bool = False

    @property
    def peer_area(self) -> str:
        return self.to_area if self.direction == OUTBOUND else self.from_area

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "envelope_id": self.envelope_id,
            "direction": self.direction,
            "status": self.status,
            "from_area": self.from_area,
            "to_area": self.to_area,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
            "failure_reason": self.failure_reason,
            "listed_for": self.listed_for.isoformat() if self.listed_for else None,
            "restricted": self.restricted,
        }


# What `view` reads: the list selects these and nothing else.
_VIEW_COLUMNS = (
    Transfer.id,
    Transfer.envelope_id,
    Transfer.direction,
    Transfer.status,
    Transfer.area_code,
    Transfer.peer_area,
    Transfer.created_at,
    Transfer.updated_at,
    Transfer.delivered_at,
    Transfer.failure_reason,
    Transfer.listed_for,
    Transfer.restricted_reason,
)


def view(row: Transfer) -> TransferView:
    """From an entity, or from a row of `_VIEW_COLUMNS` (same attribute names)."""
    outbound = row.direction == OUTBOUND
    return TransferView(
        id=row.id,
        envelope_id=row.envelope_id,
        direction=row.direction,
        status=row.status,
        from_area=row.area_code if outbound else row.peer_area,
        to_area=row.peer_area if outbound else row.area_code,
        created_at=row.created_at,
        updated_at=row.updated_at,
        delivered_at=row.delivered_at,
        failure_reason=row.failure_reason,
        listed_for=row.listed_for,
        restricted=row.restricted_reason is not None,
    )


@owns_transaction
def list_transfers(
    session: Session, area: str, *, direction: str | None = None
) -> list[TransferView]:
    with session.begin():
        get_area(session, area)
        query = select(Transfer).where(Transfer.area_code == area)
        if direction:
            query = query.where(Transfer.direction == direction)
        rows = session.scalars(query.order_by(Transfer.created_at.desc(), Transfer.id))
        return [view(row) for row in rows]


# --- the application API's view ----------------------------------------


@dataclass(frozen=True)
class TransferPage:
    items: list[TransferView]
    # Keyset cursor: (created_at, id) of the last item, when there may be more.
    next: tuple[datetime, str] | None
    # The last day an acknowledgement is on time, for each listed transfer awaiting one,
    # and which of those are overdue (given `now`).
    due: Mapping[str, date] = field(default_factory=dict)
    overdue: frozenset[str] = frozenset()


@dataclass(frozen=True)
class OpenedTransfer:
    transfer: TransferView
    content: dict[str, Any]


def listing_area(principal: Principal, requested: str | None) -> str:
    """The area whose transfers the principal lists: the one asked for, or its only one."""
    return principal.choose_area(requested, METADATA_ROLES, TRANSFERS_READ)


@owns_transaction
def list_transfer_page(
    session: Session,
    area: str,
    *,
    direction: str | None,
    status: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
    overdue_at: datetime | None = None,
    now: datetime | None = None,
) -> TransferPage:
    """Newest first, `limit` at a time; metadata only. With `overdue_at`, only the
    transfers whose acknowledgement is overdue at that moment (by the area's limit in
    working days, as the reminders judge it). With `now`, each listed transfer awaiting an
    acknowledgement carries its due day."""
    with session.begin():
        working_days = ack_working_days(get_area(session, area))
        # Columns, not entities: one SELECT for the page and no identity-map work per row;
        # the views are built from the rows of that one statement.
        query = select(*_VIEW_COLUMNS).where(Transfer.area_code == area)
        if direction:
            query = query.where(Transfer.direction == direction)
        if status:
            query = query.where(Transfer.status == status)
        if overdue_at is not None:
            query = query.where(_overdue(overdue_cutoff(overdue_at, working_days)))
        if after is not None:
            # A row value: one range on (area_code, created_at, id) on SQLite and
            # PostgreSQL alike, where the spelled-out OR left the index after area_code.
            query = query.where(tuple_(Transfer.created_at, Transfer.id) < tuple_(*after))
        order = (Transfer.created_at.desc(), Transfer.id.desc())
        rows = session.execute(query.order_by(*order).limit(limit + 1)).all()
        items = [view(cast(Transfer, row)) for row in rows[:limit]]
    more = len(rows) > limit and items
    due, overdue = {}, set()
    for item in items if now is not None else []:
        started = acknowledgement_clock(item)
        if started is not None and now is not None:
            due[item.id] = due_day(started, working_days)
            if is_overdue(started, working_days, now):
                overdue.add(item.id)
    last = (items[-1].created_at, items[-1].id) if more else None
    return TransferPage(items, last, due, frozenset(overdue))


def _overdue(cutoff: datetime) -> ColumnElement[bool]:
    """Awaiting an acknowledgement whose clock started before `cutoff`."""
    return or_(
        and_(
            Transfer.direction == INBOUND,
            Transfer.status == AWAITING_ACKNOWLEDGEMENT[INBOUND],
            Transfer.created_at < cutoff,
        ),
        and_(
            Transfer.direction == OUTBOUND,
            Transfer.status == AWAITING_ACKNOWLEDGEMENT[OUTBOUND],
            Transfer.delivered_at < cutoff,
        ),
    )


@owns_transaction
def open_transfer(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    *,
    now: datetime,
) -> OpenedTransfer:
    """The decrypted content, in memory, for coordinators and chairs of the transfer's own
    area or a client of that area with `transfers:read`. Anyone else, and any id that does
    not exist, gets the same NotFound, so another area's ids cannot be probed."""
    with session.begin():
        row = session.get(Transfer, transfer_id, with_for_update=True)
        if row is None or not principal.may_read_content(row.area_code):
            raise NotFound("No such transfer.")
        check_content_held(row)
        restriction.check_may_open(session, principal, row)
        envelope = session.scalars(
            select(Envelope).where(
                Envelope.envelope_id == row.envelope_id, Envelope.area_code == row.area_code
            )
        ).one()
        content = open_stored(session, master, envelope)
        if envelope.type == TRANSFER_DRAFT:
            content = content[TRANSFER_REQUEST]
        audit.record(
            session,
            row.area_code,
            audit.Event(
                action=actions.CONTENT_OPENED,
                actor=principal.actor(row.area_code, CONTENT_ROLES),
                peer_area=row.peer_area,
                objects={"transfer": row.id, "envelope": row.envelope_id},
                envelope_digest=envelope.digest,
                details={"direction": row.direction},
            ),
            now,
        )
        if row.direction == INBOUND and row.opened_at is None:
            # From now on a withdrawal leaves the area what it has already read.
            row.opened_at = now
        return OpenedTransfer(view(row), content)


KEYS_GONE = "The keys for this envelope are no longer held; it cannot be opened."


def open_stored(session: Session, master: MasterKey, envelope: Envelope) -> dict[str, Any]:
    """The payload of one envelope this area holds, decrypted in memory: one we sent from
    our own self-sealed copy (the recipient's copy is not ours to open), one we received
    with the area's key it was sealed to. NotFound once retention purged it or its keys
    are gone; callers check who may open it first."""
    if envelope.purged_at is not None:
        raise NotFound("This envelope was purged under the retention schedule.")
    wire = json.loads(envelope.body)
    outbound = envelope.direction == OUTBOUND
    try:
        parts = parse_envelope(wire)
    except CryptoError as exc:
        raise NotFound(KEYS_GONE) from exc
    keys = secret_keys_by_id(session, master, parts.from_key if outbound else parts.to_key)
    if keys is None or (outbound and envelope.self_sealed_key is None):
        raise NotFound(KEYS_GONE)
    try:
        if outbound and envelope.self_sealed_key is not None:
            return dict(open_own_copy(wire, envelope.self_sealed_key, keys))
        return dict(open_envelope(wire, keys))
    except CryptoError as exc:
        raise NotFound(KEYS_GONE) from exc


def check_content_held(row: Transfer) -> None:
    """410 Gone for an inbound transfer its sender withdrew before this area opened it:
    the area may know it existed (it is listed, with its timeline) but its content was
    dropped and will never be opened here. Documents of it answer the same."""
    if row.direction == INBOUND and row.status == WITHDRAWN and row.opened_at is None:
        raise Gone(
            "The sending area withdrew this transfer before it was opened; "
            "its content is no longer held here."
        )
    if row.direction == INBOUND and row.content_dropped_at is not None:
        raise Gone(
            "This area redirected the transfer and the sending area has the redirect; "
            "its content is no longer held here."
        )


@owns_transaction
def transfer_timeline(
    session: Session, principal: Principal, transfer_id: str
) -> tuple[TransferView, list[timeline.Step]]:
    """The transfer's metadata and its content-free timeline, for anyone who may list the
    area's transfers; NotFound for everyone else, exactly as for a missing id."""
    with session.begin():
        row = listed_transfer(session, principal, transfer_id)
        return view(row), timeline.timeline(session, row)


Owned = TypeVar("Owned")


def of_transfer(model: type[Owned], row: Transfer) -> Select[Owned]:
    """The rows of `model` (documents, requests, permissions: any model with `transfer_id`
    and `area_code`) that belong to this area's copy of the transfer: two areas on one
    node share a transfer id."""
    columns: Any = model  # the two columns every such model has; mypy cannot say so
    return select(model).where(columns.transfer_id == row.id, columns.area_code == row.area_code)


def listed_transfer(session: Session, principal: Principal, transfer_id: str) -> Transfer:
    """The transfer, for anyone who may see the area's transfers (metadata); NotFound for
    everyone else, exactly as for a missing id, so other areas' ids cannot be probed."""
    row = session.get(Transfer, transfer_id)
    if row is None or not principal.may_list_transfers(row.area_code):
        raise NotFound("No such transfer.")
    return row

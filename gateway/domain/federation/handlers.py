"""The one shape of receiving a payload (DESIGN section 3, step 3): validate the opened
payload, keep only a content-free summary, find the transfer it concerns (or refuse), then
apply it; and the one record of a reply received (timeline step and audit event). Each
payload type's handler is listed in `registry`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Transfer
from gateway.domain import audit
from gateway.domain.audit.log import Detail
from gateway.domain.identity.actors import Actor
from gateway.domain.schedule import notifications
from gateway.domain.transfers import timeline

# --- receiving ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Inbound:
    """A verified envelope being stored: its wire form (still sealed), the receiving area,
    and the content-free summary its handler kept from the opened payload."""

    area: str
    wire: Mapping[str, Any]
    summary: object | None
    now: datetime

    @property
    def envelope_id(self) -> str:
        return str(self.wire["id"])

    @property
    def sender(self) -> str:
        return str(self.wire["from"]["area"])

    @property
    def in_reply_to(self) -> str | None:
        value = self.wire.get("in_reply_to")
        return value if isinstance(value, str) else None


def _no_summary(loaded: object) -> object | None:
    return None


def _nothing(session: Session, inbound: Inbound, transfer_id: str | None) -> None:
    return None


@dataclass(frozen=True)
class Handler:
    """How this node receives one payload type.

    `load` validates the opened payload (raising marshmallow's ValidationError);
    `summary` keeps what may outlive the plaintext (never personal data);
    `target` runs first in the storing transaction and names the transfer the envelope
    concerns, raising `Refused` when it concerns none it may; `apply` runs after the
    envelope and its `envelope.received` event are stored.
    """

    load: Callable[[Mapping[str, Any]], object]
    target: Callable[[Session, Inbound], str | None]
    summary: Callable[[object], object | None] = _no_summary
    apply: Callable[[Session, Inbound, str | None], None] = _nothing


def replied_transfer(
    session: Session, inbound: Inbound, *, direction: str, lock: bool = True
) -> Transfer | None:
    """The local transfer whose envelope this one replies to, between these two areas.
    None if there is none (the caller refuses in its own words)."""
    if inbound.in_reply_to is None:
        return None
    query = select(Transfer).where(
        Transfer.envelope_id == inbound.in_reply_to,
        Transfer.area_code == inbound.area,
        Transfer.direction == direction,
        Transfer.peer_area == inbound.sender,
    )
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def record_received(
    session: Session,
    inbound: Inbound,
    row: Transfer,
    *,
    kind: str,
    action: str,
    objects: Mapping[str, str],
    details: Mapping[str, Detail],
    step: Mapping[str, Detail] | None = None,
    notify: str | None = None,
) -> None:
    """The one record of a reply received about a transfer, in the storing transaction: a
    step on its timeline naming the reply's envelope, an audit event naming the peer, and
    (`notify`, a notification kind) a content-free email to the area, all or nothing.
    `objects` adds to the transfer's id what the event names (its envelope, the reply's)."""
    peer = Actor.peer(inbound.sender)
    row.updated_at = inbound.now
    timeline.note(
        session, row, kind, inbound.now, actor=peer, envelope_id=inbound.envelope_id, **(step or {})
    )
    audit.record(
        session,
        row.area_code,
        audit.Event(
            action=action,
            actor=peer,
            peer_area=inbound.sender,
            objects={"transfer": row.id, **objects},
            details=details,
        ),
        inbound.now,
    )
    if notify is not None:
        notifications.queue(session, row.area_code, notify, inbound.now, transfer_id=row.id)

"""The envelopes that follow a transfer: one way to send them and one shape for receiving
them (DESIGN section 2, workflow issue).

Everything after the first `transfer_request` (documents, acknowledgements, information
requests, withdrawals, forward permissions, repeat-incident and flag notices) is an
envelope `in_reply_to` a transfer's envelope. Sending one is always the same ONE
transaction: seal, log the disclosure, sign a checkpoint, attach the evidence, store the
envelope and queue it. Receiving one is always: validate the opened payload, keep only a
content-free summary, find the transfer it concerns (or refuse), then apply it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Transfer

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

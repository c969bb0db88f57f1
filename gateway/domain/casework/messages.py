"""The envelopes in reply to a transfer, as this area holds them: listed (metadata), opened
one at a time (content, audited), and sent again when the outbox gave up on one.

A transfer's thread is every envelope of this area, between it and the transfer's peer,
whose `in_reply_to` is the transfer's envelope, or an envelope of the thread (an answer to
a request). Opening one obeys the same rules as the transfer's own content: only
coordinators and chairs of the area and its transfers:read clients, never another area
(404), restricted cases only for the named users (403), nothing of a case withdrawn before
it was opened (410) except the withdrawal notice itself, which the withdrawal keeps
readable on purpose (gateway/domain/withdrawal.py: it tells the area why). Documents are
listed for a whole picture of the thread but open only through their own download, which
checks their signed digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Envelope, OutboxItem, Transfer
from gateway.domain import audit
from gateway.domain.audit import actions
from gateway.domain.casework import replying
from gateway.domain.identity.principals import CONTENT_ROLES, SEND_ROLES, Principal
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import restriction, timeline
from gateway.domain.transfers.reading import (
    TransferView,
    check_content_held,
    listed_transfer,
    open_stored,
    view,
)
from gateway.domain.transfers.states import FAILED, INBOUND, OUTBOUND, WITHDRAWN
from gateway.errors import Conflict, NotFound
from keys import MasterKey
from schemas.wire.document import PAYLOAD_TYPE as DOCUMENT
from schemas.wire.withdrawal import PAYLOAD_TYPE as WITHDRAWAL

PENDING = "pending"
# Replies to replies exist (an answer to a request); no conversation nests deeper than
# this, and the bound keeps a corrupt chain from looping.
MAX_DEPTH = 4
NO_SUCH_MESSAGE = "No such message on this transfer."


@dataclass(frozen=True)
class MessageView:
    """One envelope of the thread: what anyone who may list the area's transfers sees."""

    envelope_id: str
    transfer_id: str
    type: str
    direction: str
    created_at: datetime
    in_reply_to: str
    # Outbound only: pending | delivered | failed | cancelled (None when inbound).
    delivery: str | None
    purged: bool


@dataclass(frozen=True)
class OpenedMessage:
    transfer: TransferView
    message: MessageView
    content: dict[str, Any]


def thread(session: Session, row: Transfer) -> list[Envelope]:
    """Every envelope this area holds in reply to the transfer, oldest first; the
    transfer's own envelope is not part of it."""
    found: dict[str, Envelope] = {}
    parents = [row.envelope_id]
    for _ in range(MAX_DEPTH):
        replies = [
            envelope
            for envelope in session.scalars(
                select(Envelope).where(
                    Envelope.area_code == row.area_code,
                    Envelope.peer_area == row.peer_area,
                    Envelope.in_reply_to.in_(parents),
                )
            )
            if envelope.envelope_id not in found and envelope.envelope_id != row.envelope_id
        ]
        if not replies:
            break
        found.update((envelope.envelope_id, envelope) for envelope in replies)
        parents = [envelope.envelope_id for envelope in replies]
    # Arrival order breaks a tie: a batch's envelopes are stored at one time (pk order is
    # the order the sender put them in).
    return sorted(found.values(), key=lambda e: (e.created_at, e.pk))


def thread_transfer(session: Session, area: str, envelope_id: str) -> Transfer | None:
    """The local transfer whose thread holds this envelope of `area`: follow `in_reply_to`
    up to a transfer's own envelope. None for a transfer's own envelope or a stray."""
    current = session.scalar(
        select(Envelope).where(Envelope.envelope_id == envelope_id, Envelope.area_code == area)
    )
    for _ in range(MAX_DEPTH):
        if current is None or current.in_reply_to is None:
            return None
        parent = current.in_reply_to
        transfer = session.scalar(
            select(Transfer).where(
                Transfer.envelope_id == parent,
                Transfer.area_code == area,
                Transfer.peer_area == current.peer_area,
            )
        )
        if transfer is not None:
            return transfer
        current = session.scalar(
            select(Envelope).where(Envelope.envelope_id == parent, Envelope.area_code == area)
        )
    return None


def _delivery(session: Session, envelope: Envelope) -> str | None:
    if envelope.direction != OUTBOUND:
        return None
    status = session.scalar(select(OutboxItem.status).where(OutboxItem.envelope_pk == envelope.pk))
    # An outbound reply always has its outbox row; a missing one is reported as pending
    # rather than invented as delivered.
    return status or PENDING


def message_view(session: Session, row: Transfer, envelope: Envelope) -> MessageView:
    return MessageView(
        envelope_id=envelope.envelope_id,
        transfer_id=row.id,
        type=envelope.type,
        direction=envelope.direction,
        created_at=envelope.created_at,
        in_reply_to=envelope.in_reply_to or row.envelope_id,
        delivery=_delivery(session, envelope),
        purged=envelope.purged_at is not None,
    )


@owns_transaction
def list_messages(
    session: Session, principal: Principal, transfer_id: str
) -> tuple[TransferView, list[MessageView]]:
    """The thread's metadata for anyone who may list the area's transfers (auditors too);
    NotFound for everyone else, exactly as for a missing id."""
    with session.begin():
        row = listed_transfer(session, principal, transfer_id)
        return view(row), [message_view(session, row, found) for found in thread(session, row)]


def _thread_envelope(session: Session, row: Transfer, envelope_id: str) -> Envelope:
    envelope = session.scalar(
        select(Envelope).where(
            Envelope.envelope_id == envelope_id, Envelope.area_code == row.area_code
        )
    )
    if envelope is None or envelope.envelope_id == row.envelope_id:
        raise NotFound(NO_SUCH_MESSAGE)
    owner = thread_transfer(session, row.area_code, envelope_id)
    if owner is None or owner.id != row.id:
        raise NotFound(NO_SUCH_MESSAGE)
    return envelope


def _withdrawal_notice(envelope: Envelope) -> bool:
    """The withdrawal this area received: kept readable when the case's content is dropped,
    so the area learns why (its reason code is on the timeline; its note is here)."""
    return envelope.type == WITHDRAWAL and envelope.direction == INBOUND


@owns_transaction
def open_message(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    envelope_id: str,
    now: datetime,
) -> OpenedMessage:
    """One reply's payload, decrypted in memory and audited as `message.opened`."""
    with session.begin():
        row = session.get(Transfer, transfer_id)
        if row is None or not principal.may_read_content(row.area_code):
            raise NotFound("No such transfer.")
        envelope = _thread_envelope(session, row, envelope_id)
        if envelope.type == DOCUMENT:
            raise NotFound(
                "That envelope is a document: download it from the transfer's documents."
            )
        if not _withdrawal_notice(envelope):
            check_content_held(row)
        restriction.check_may_open(session, principal, row)
        content = open_stored(session, master, envelope)
        audit.record(
            session,
            row.area_code,
            audit.Event(
                action=actions.MESSAGE_OPENED,
                actor=principal.actor(row.area_code, CONTENT_ROLES),
                peer_area=row.peer_area,
                objects={"transfer": row.id, "envelope": envelope.envelope_id},
                envelope_digest=envelope.digest,
                details={"type": envelope.type, "direction": envelope.direction},
            ),
            now,
        )
        # Reading a reply is not opening the case: `opened_at` stays as it is, so a later
        # withdrawal still drops a case content nobody here has read.
        return OpenedMessage(view(row), message_view(session, row, envelope), content)


@owns_transaction
def resend(
    session: Session, principal: Principal, transfer_id: str, envelope_id: str, now: datetime
) -> MessageView:
    """Queue again a reply the outbox gave up on: the same sealed envelope, byte for byte,
    under the same id (the receiver is idempotent by id, so a copy that did arrive after
    all is answered with its first receipt). For coordinators and transfers:write clients
    of the area; audited and on the timeline."""
    with session.begin():
        row = replying.locked_for_sender(session, principal, transfer_id)
        envelope = _thread_envelope(session, row, envelope_id)
        if envelope.direction != OUTBOUND:
            raise Conflict("Only a message this area sent can be sent again.")
        item = session.scalar(
            select(OutboxItem).where(OutboxItem.envelope_pk == envelope.pk).with_for_update()
        )
        status = item.status if item is not None else PENDING
        if item is None or item.status != FAILED:
            raise Conflict(
                f"Only a message whose delivery failed can be sent again; it is {status}."
            )
        if row.status == WITHDRAWN and envelope.type != WITHDRAWAL:
            raise Conflict("The case was withdrawn: only the withdrawal itself can be sent again.")
        # A fresh start: the give-up clock counts from now, not from the first queueing.
        item.status, item.attempts, item.next_attempt_at = PENDING, 0, now
        item.claimed_until, item.finished_at, item.created_at = None, None, now
        actor = principal.actor(row.area_code, SEND_ROLES)
        timeline.note(
            session,
            row,
            "reply_resent",
            now,
            actor=actor,
            envelope_id=envelope.envelope_id,
            type=envelope.type,
        )
        audit.record(
            session,
            row.area_code,
            audit.Event(
                action=actions.MESSAGE_RESENT,
                actor=actor,
                peer_area=row.peer_area,
                objects={"transfer": row.id, "envelope": envelope.envelope_id},
                envelope_digest=envelope.digest,
                details={"type": envelope.type},
            ),
            now,
        )
        row.updated_at = now
        session.flush()
        return message_view(session, row, envelope)

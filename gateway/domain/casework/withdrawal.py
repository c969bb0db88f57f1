"""Withdrawal: the originating area takes a transfer back, with a
reason, before or after it was delivered (seed 000 4.19.2: what was shared stays the
originator's).

Before anything could have reached the peer (the outbox row never claimed), the outbox
row is cancelled and nothing is sent. If the envelope may have reached the peer (a worker
claimed it, an attempt was made, a receipt came back), a `withdrawal` envelope follows in
reply, scheduled after any claim's lease so it cannot overtake the transfer itself.

On the receiving node the transfer moves to `withdrawn`. If its content had not been
opened there yet, it is dropped (each envelope keeps only its content-free header, as
retention does) and can never be opened; if it had been, the area keeps what it already
read and sees that the case was withdrawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Envelope, OutboxItem, Transfer
from gateway.domain import audit
from gateway.domain.audit import actions
from gateway.domain.audit.log import Detail
from gateway.domain.casework import replying
from gateway.domain.federation import envelope_writer, handlers
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import SEND_ROLES, Principal
from gateway.domain.retention import tombstone
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import states, timeline
from gateway.domain.transfers.reading import TransferView, view
from gateway.errors import Conflict, Refused
from keys import MasterKey
from schemas.wire.addressed import body_values
from schemas.wire.withdrawal import PAYLOAD_TYPE as WITHDRAWAL
from schemas.wire.withdrawal import SCHEMA_VERSION as WITHDRAWAL_VERSION
from schemas.wire.withdrawal import (
    Withdrawal,
    WithdrawalBody,
    dump_withdrawal,
    load_withdrawal,
    load_withdrawal_body,
)

PENDING, CANCELLED = "pending", "cancelled"
# Sent on, or may have been: the peer may hold the transfer and must be told.
LEFT = frozenset(
    {states.DELIVERED, states.INFORMATION_REQUESTED, states.ACKNOWLEDGED, states.REDIRECTED}
)
# A refusal by the peer (4xx) means it stored nothing; any other failure may hide a
# stored envelope whose receipt was lost.
REFUSED_BY_PEER = "peer answered HTTP 4"
# The withdrawal goes after any in-flight delivery of the transfer has settled.
AFTER_LEASE = timedelta(seconds=1)


def _body(data: Mapping[str, Any]) -> WithdrawalBody:
    return replying.loaded_body(load_withdrawal_body, data, "withdrawal")


@owns_transaction
def withdraw(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    data: Mapping[str, Any],
    now: datetime,
) -> TransferView:
    """A coordinator (or a `transfers:write` client) of the sending area, or the operator,
    withdraws."""
    body = _body(data)
    with session.begin():
        row = replying.locked_for_sender(session, principal, transfer_id)
        return _withdraw(
            session, master, row, body, principal.actor(row.area_code, SEND_ROLES), now
        )


def _withdraw(
    session: Session,
    master: MasterKey,
    row: Transfer,
    body: WithdrawalBody,
    actor: Actor,
    now: datetime,
) -> TransferView:
    if row.direction != states.OUTBOUND:
        # The receiver's machine has received -> withdrawn, but only for applying the
        # sender's withdrawal envelope: the receiving area never withdraws.
        raise Conflict(
            f"An inbound transfer cannot go from '{row.status}' to 'withdrawn': "
            "only the sending area withdraws a transfer."
        )
    states.check(row, states.WITHDRAWN)
    reached, not_before = _stop_outbox(session, row, now)
    states.move(row, states.WITHDRAWN)
    row.updated_at = now
    details: dict[str, Detail] = {"reason": body.reason, "notified": reached}
    envelope_id = None
    if reached:
        sent = envelope_writer.write(
            session,
            master,
            row,
            envelope_writer.reply(
                row,
                WITHDRAWAL,
                _payload(body, row),
                action=actions.TRANSFER_WITHDRAWN,
                actor=actor,
                details=details,
                # Noted below, for a withdrawal sent or not.
                step=None,
            ),
            now,
        )
        envelope_id = sent.envelope_id
        if not_before is not None:
            item = session.scalar(select(OutboxItem).where(OutboxItem.envelope_pk == sent.pk))
            if item is not None:
                item.next_attempt_at = max(now, not_before + AFTER_LEASE)
    else:
        digest = session.scalar(
            select(Envelope.digest).where(
                Envelope.envelope_id == row.envelope_id, Envelope.area_code == row.area_code
            )
        )
        audit.record(
            session,
            row.area_code,
            audit.Event(
                action=actions.TRANSFER_WITHDRAWN,
                actor=actor,
                peer_area=row.peer_area,
                objects={"transfer": row.id, "envelope": row.envelope_id},
                envelope_digest=digest,
                details=details,
            ),
            now,
        )
    timeline.note(
        session, row, states.WITHDRAWN, now, actor=actor, envelope_id=envelope_id, **details
    )
    session.flush()
    return view(row)


def _stop_outbox(session: Session, row: Transfer, now: datetime) -> tuple[bool, datetime | None]:
    """Cancel whatever of this case is still waiting in the outbox. Returns whether the
    transfer may have reached the peer, and until when a worker holds a claim on it."""
    replies = session.scalars(
        select(OutboxItem)
        .join(Envelope, Envelope.pk == OutboxItem.envelope_pk)
        .where(
            Envelope.area_code == row.area_code,
            Envelope.in_reply_to == row.envelope_id,
            OutboxItem.status == PENDING,
        )
        .with_for_update(of=OutboxItem)
    ).all()
    for item in replies:
        if item.claimed_until is None or item.claimed_until < now:
            _cancel(item, now)
    if row.status in LEFT:
        return True, None
    own = session.scalar(
        select(OutboxItem)
        .join(Envelope, Envelope.pk == OutboxItem.envelope_pk)
        .where(Envelope.area_code == row.area_code, Envelope.envelope_id == row.envelope_id)
        .with_for_update(of=OutboxItem)
    )
    if own is None:  # held for approval or a draft: nothing was ever queued
        return False, None
    if own.status == PENDING:
        # Ever claimed (a claim may have died after its POST) or ever tried: the peer
        # may hold it. A live claim may still bring a receipt; the withdrawal waits.
        live = own.claimed_until if own.claimed_until and own.claimed_until > now else None
        reached = own.claimed_until is not None or own.attempts > 0
        _cancel(own, now)
        return reached, live
    if own.status == "failed":
        return not (own.last_error or "").startswith(REFUSED_BY_PEER), None
    return True, None  # delivered: the receipt arrived


def _cancel(item: OutboxItem, now: datetime) -> None:
    item.status, item.finished_at, item.last_error = CANCELLED, now, "withdrawn"


def _payload(body: WithdrawalBody, row: Transfer) -> dict[str, Any]:
    values = body_values(body)
    withdrawal = Withdrawal(
        **values, schema_version=WITHDRAWAL_VERSION, from_area=row.area_code, to_area=row.peer_area
    )
    return replying.checked_payload(dump_withdrawal(withdrawal), load_withdrawal, "withdrawal")


# --- receiving side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """What the receiving node keeps from a withdrawal: its reason code."""

    reason: str


def _notice_of(loaded: object) -> Notice | None:
    return Notice(loaded.reason) if isinstance(loaded, Withdrawal) else None


def _withdrawn_transfer(session: Session, inbound: handlers.Inbound) -> str:
    unknown = "The withdrawal concerns no transfer this area received from its sender."
    row = replying.replied_or_refused(session, inbound, states.INBOUND, unknown)
    if row.status == states.WITHDRAWN:
        raise Refused("The transfer is already withdrawn.", reason="already-withdrawn")
    return row.id


def _apply_withdrawal(session: Session, inbound: handlers.Inbound, transfer_id: str | None) -> None:
    row = session.get(Transfer, transfer_id)
    if row is None or not isinstance(inbound.summary, Notice):
        raise Refused("The withdrawal cannot be applied.", reason="invalid-payload")
    states.move(row, states.WITHDRAWN)
    row.updated_at = inbound.now
    dropped = row.opened_at is None
    if dropped:
        drop_content(session, row, inbound.now, keep=inbound.envelope_id)
    details: dict[str, Detail] = {"reason": inbound.summary.reason, "content_dropped": dropped}
    handlers.record_received(
        session,
        inbound,
        row,
        kind=states.WITHDRAWN,
        action=actions.WITHDRAWAL_RECEIVED,
        objects={"envelope": row.envelope_id, "withdrawal": inbound.envelope_id},
        details=details,
        step=details,
    )


def drop_content(
    session: Session, row: Transfer, now: datetime, *, keep: str | None = None
) -> None:
    """The case's inbound envelopes keep only their content-free header: no ciphertext,
    no sealed key. The envelope `keep` (a withdrawal: its reason and note) stays readable.
    A redirect drops the same content once it reached the sender (acknowledgements)."""
    envelopes = session.scalars(
        select(Envelope).where(
            Envelope.area_code == row.area_code,
            Envelope.direction == states.INBOUND,
            (Envelope.envelope_id == row.envelope_id) | (Envelope.in_reply_to == row.envelope_id),
            Envelope.envelope_id != (keep or ""),
            Envelope.purged_at.is_(None),
        )
    ).all()
    for envelope in envelopes:
        envelope.body = tombstone(envelope.body)
        envelope.purged_at = now


HANDLER = handlers.Handler(
    load=load_withdrawal,
    summary=_notice_of,
    target=_withdrawn_transfer,
    apply=_apply_withdrawal,
)

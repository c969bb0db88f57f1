"""The MARAC-to-MARAC conversation after the first envelope: a chair's approval of a held
transfer, the receiving coordinator's acknowledgement, and applying that acknowledgement
on the sending node (DESIGN section 2).

Each step is ONE transaction: the state change, its audit events and the outbox row are
written together or not at all (a disclosure's evidence is attached when the worker
claims the envelope)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Envelope, Transfer
from gateway.domain import audit
from gateway.domain.audit import actions
from gateway.domain.casework import replying, withdrawal
from gateway.domain.federation import envelope_writer, handlers
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import SEND_ROLES, Principal
from gateway.domain.schedule import meetings, notifications
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import reading, states, timeline
from gateway.domain.transfers.reading import TransferView, view
from gateway.errors import NotFound, Refused
from keys import (
    MasterKey,
)
from schemas.wire.acknowledgement import (
    ACCEPTED,
    Acknowledgement,
    dump_acknowledgement,
    load_acknowledgement,
    load_acknowledgement_body,
)
from schemas.wire.acknowledgement import PAYLOAD_TYPE as ACKNOWLEDGEMENT
from schemas.wire.acknowledgement import SCHEMA_VERSION as ACK_VERSION
from schemas.wire.addressed import body_values

CONTENT_DROPPED = "content_dropped"
# The acknowledged step's detail when the case is listed for an emergency meeting, a date
# off the area's regular meetings (seed 000 4.22, 001 4.3.1).
EMERGENCY_MEETING = "emergency_meeting"
# An answer is expected once the transfer has left; it may overtake the receipt.
AWAITING_ANSWER = frozenset(
    {states.QUEUED, states.FAILED, states.DELIVERED, states.INFORMATION_REQUESTED}
)


# --- acknowledgement, receiving side -------------------------------------------------------


@owns_transaction
def acknowledge(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    data: Mapping[str, Any],
    now: datetime,
) -> TransferView:
    """The receiving coordinator's answer: validated, sealed back to the sender in reply to
    the transfer's envelope, logged as a disclosure, and queued; our own
    transfer moves to acknowledged or redirected."""
    body = replying.loaded_body(load_acknowledgement_body, data, "acknowledgement")
    with session.begin():
        row = session.get(Transfer, transfer_id, with_for_update=True)
        if row is None or not principal.may_send(row.area_code):
            raise NotFound("No such transfer.")
        target = states.ACKNOWLEDGED if body.status == ACCEPTED else states.REDIRECTED
        states.move(row, target)
        emergency = meetings.check_listed_for(
            session,
            row.area_code,
            body.listed_for,
            now,
            urgent=lambda: _urgent(session, master, row),
        )
        actor = principal.actor(row.area_code, SEND_ROLES)
        envelope_writer.write(
            session,
            master,
            row,
            envelope_writer.reply(
                row,
                ACKNOWLEDGEMENT,
                _acknowledgement_payload(body, row),
                action=actions.ACKNOWLEDGEMENT_SENT,
                actor=actor,
                details={"status": body.status}
                | ({"emergency_meeting": True} if emergency else {}),
                step=envelope_writer.Step(target, {EMERGENCY_MEETING: True} if emergency else {}),
            ),
            now,
        )
        row.listed_for = body.listed_for
        session.flush()
        return view(row)


@owns_transaction
def is_urgent(session: Session, master: MasterKey, principal: Principal, transfer_id: str) -> bool:
    """Whether an inbound transfer the principal may answer is marked urgent: the
    acknowledge page then offers an emergency meeting on another date. Urgency is no
    secret from the area (its notifications say "urgent"); nothing is audited as opened."""
    with session.begin():
        row = session.get(Transfer, transfer_id)
        if row is None or not principal.may_send(row.area_code):
            raise NotFound("No such transfer.")
        return row.direction == states.INBOUND and _urgent(session, master, row)


def _urgent(session: Session, master: MasterKey, row: Transfer) -> bool:
    """Whether the sending area marked the transfer urgent (`transfer_request` version 2),
    read from the sealed case in memory; only the flag is used, nothing is shown or kept.
    A case whose content is no longer held is not taken as urgent."""
    envelope = session.scalar(
        select(Envelope).where(
            Envelope.envelope_id == row.envelope_id, Envelope.area_code == row.area_code
        )
    )
    if envelope is None:
        return False
    try:
        content = reading.open_stored(session, master, envelope)
    except NotFound:
        return False
    return content.get("urgent") is True


def _acknowledgement_payload(body: Any, row: Transfer) -> dict[str, Any]:
    """The posted body, addressed from our area back to the sender, validated whole, as
    version 2; the envelope writer sends a peer that reads only version 1 the reason for a
    redirect in the note (docs/contract.md)."""
    values = body_values(body)
    ack = Acknowledgement(
        **values, schema_version=ACK_VERSION, from_area=row.area_code, to_area=row.peer_area
    )
    return replying.checked_payload(
        dump_acknowledgement(ack), load_acknowledgement, "acknowledgement"
    )


# --- a redirect that reached the sender ------------------------------------------------------


def redirect_delivered(session: Session, envelope: Envelope, now: datetime) -> None:
    """Once our redirect has reached the sender (its receipt), the case is not ours: the
    content we hold of it is dropped, as for a withdrawal of an unopened case, keeping
    the metadata, timeline and audit (seed 004 ISP 3.7, ISP 8). In the receipt's
    transaction; anything other than a redirect is left alone."""
    if envelope.type != ACKNOWLEDGEMENT or envelope.direction != states.OUTBOUND:
        return
    row = session.scalar(
        select(Transfer).where(
            Transfer.area_code == envelope.area_code,
            Transfer.envelope_id == envelope.in_reply_to,
            Transfer.direction == states.INBOUND,
        )
    )
    if row is None or row.status != states.REDIRECTED or row.content_dropped_at is not None:
        return
    withdrawal.drop_content(session, row, now)
    row.content_dropped_at = row.updated_at = now
    system = Actor.system()
    timeline.note(session, row, CONTENT_DROPPED, now, actor=system, envelope_id=row.envelope_id)
    audit.record(
        session,
        row.area_code,
        audit.Event(
            action=actions.TRANSFER_CONTENT_DROPPED,
            actor=system,
            peer_area=row.peer_area,
            objects={"transfer": row.id, "envelope": row.envelope_id},
            details={"reason": states.REDIRECTED},
        ),
        now,
    )


# --- acknowledgement, sending side ---------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What the sending node keeps from an acknowledgement: its outcome and the listing
    date. The rest (case reference, names, note) stays sealed in the stored envelope."""

    status: str
    listed_for: date | None


def _answer_of(loaded: object) -> Answer | None:
    if isinstance(loaded, Acknowledgement):
        return Answer(loaded.status, loaded.listed_for)
    return None


def _answered_transfer(session: Session, inbound: handlers.Inbound) -> str:
    """The outbound transfer an inbound acknowledgement answers: one this area sent to
    that very peer and that is delivered and not yet answered. Anything else is refused."""
    unknown = "The acknowledgement answers no transfer this area sent to its sender."
    row = replying.replied_or_refused(session, inbound, states.OUTBOUND, unknown)
    if row.status not in AWAITING_ANSWER:
        raise Refused(
            f"The transfer is '{row.status}', not awaiting an acknowledgement.",
            reason="unexpected-acknowledgement",
        )
    return row.id


def _apply_answer(session: Session, inbound: handlers.Inbound, transfer_id: str | None) -> None:
    row = session.get(Transfer, transfer_id)
    if row is None or not isinstance(inbound.summary, Answer):
        raise Refused("The acknowledgement cannot be applied.", reason="invalid-payload")
    apply_reply(session, row, inbound)


HANDLER = handlers.Handler(
    load=load_acknowledgement,
    summary=_answer_of,
    target=_answered_transfer,
    apply=_apply_answer,
)


def apply_reply(session: Session, row: Transfer, inbound: handlers.Inbound) -> None:
    """Move our transfer on and log it, in the receiving transaction."""
    reply = inbound.summary
    assert isinstance(reply, Answer)  # noqa: S101 - checked by the handler
    if row.status in (states.QUEUED, states.FAILED):
        # The answer outran our record of the receipt (or our outbox gave up just as the
        # peer stored it): an area can only answer what it received, so this proves it.
        states.move(row, states.DELIVERED)
        row.failure_reason = None
        row.delivered_at = row.delivered_at or inbound.now
    target = states.ACKNOWLEDGED if reply.status == ACCEPTED else states.REDIRECTED
    states.move(row, target)
    row.listed_for = reply.listed_for
    handlers.record_received(
        session,
        inbound,
        row,
        kind=target,
        action=actions.ACKNOWLEDGEMENT_RECEIVED,
        # `envelope` names the transfer's own envelope, so reports can time the
        # acknowledgement from the disclosure; the acknowledgement is named apart.
        objects={"envelope": row.envelope_id, "acknowledgement": inbound.envelope_id},
        details={"type": ACKNOWLEDGEMENT, "status": reply.status},
        # A redirect sends the case back to the sender to place: tell its coordinators.
        notify=notifications.REDIRECTED if target == states.REDIRECTED else None,
    )

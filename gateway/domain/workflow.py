"""The MARAC-to-MARAC conversation after the first envelope: a chair's approval of a held
transfer, the receiving coordinator's acknowledgement, and applying that acknowledgement
on the sending node (DESIGN section 2, workflow issue).

Each step is ONE transaction: the state change, its audit events, the checkpoint and
evidence of any disclosure, and the outbox row are written together or not at all.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Envelope, Transfer
from gateway.domain import audit, conversation, meetings, states, timeline
from gateway.domain.actors import Actor
from gateway.domain.areas import secret_keys_by_id
from gateway.domain.audit import actions, checkpoints, evidence
from gateway.domain.principals import CHAIR, SEND_ROLES, Principal
from gateway.domain.transfers import TransferView, queue_item, send_event, view
from gateway.errors import Conflict, Forbidden, NotFound, Refused
from keys import (
    CryptoError,
    MasterKey,
    canonical_json,
    open_own_copy,
    parse_envelope,
)
from schemas.acknowledgement import (
    ACCEPTED,
    Acknowledgement,
    dump_acknowledgement,
    load_acknowledgement,
    load_acknowledgement_body,
)
from schemas.acknowledgement import PAYLOAD_TYPE as ACKNOWLEDGEMENT
from schemas.acknowledgement import SCHEMA_VERSION as ACK_VERSION
from schemas.transfer_request import load_transfer_request

APPROVER_ROLES = frozenset({CHAIR})


# An answer is expected once the transfer has left; it may overtake the receipt.
AWAITING_ANSWER = frozenset(
    {states.QUEUED, states.FAILED, states.DELIVERED, states.INFORMATION_REQUESTED}
)


def _locked(session: Session, transfer_id: str) -> Transfer | None:
    return session.get(Transfer, transfer_id, with_for_update=True)


def _own_envelope(session: Session, row: Transfer) -> Envelope:
    return session.scalars(
        select(Envelope).where(
            Envelope.envelope_id == row.envelope_id, Envelope.area_code == row.area_code
        )
    ).one()


# --- chair approval ------------------------------------------------------------------------


def approve(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    now: datetime,
) -> TransferView:
    """Release a held transfer: it is queued, the disclosure is logged with evidence, and
    the outbox picks it up. Only a chair of the sending area, and never its creator."""
    with session.begin():
        row = _locked(session, transfer_id)
        if row is None or row.area_code not in principal.areas_for(APPROVER_ROLES):
            raise NotFound("No such transfer.")
        states.check(row, states.QUEUED)
        if principal.id in _makers(session, row):
            # Four eyes: a chair-after-meeting decision is checked by someone else.
            raise Forbidden("Whoever created a transfer may not approve it; ask another chair.")
        envelope = _own_envelope(session, row)
        wire = json.loads(envelope.body)
        request = _held_request(session, master, wire, envelope)
        states.move(row, states.QUEUED)
        row.updated_at = now
        actor = principal.actor(row.area_code, APPROVER_ROLES)
        timeline.note(session, row, "approved", now, actor=actor, envelope_id=row.envelope_id)
        objects = {"transfer": row.id, "envelope": row.envelope_id}
        audit.record(
            session,
            row.area_code,
            audit.Event(
                action=actions.TRANSFER_APPROVED,
                actor=actor,
                peer_area=row.peer_area,
                objects=objects,
                envelope_digest=envelope.digest,
            ),
            now,
        )
        event = send_event(request, row, row.envelope_id, envelope.digest, actor)
        recorded = audit.record(session, row.area_code, event, now, master)
        proof = checkpoints.issue(session, master, row.area_code, now)
        # Evidence sits outside the signature: the digest and signature stay as sealed.
        wire["evidence"] = evidence.build(recorded, proof)
        envelope.body = canonical_json(wire).decode("ascii")
        session.add(queue_item(envelope.pk, now))
        session.flush()
        return view(row)


def _makers(session: Session, row: Transfer) -> set[str]:
    """Who made the transfer: its creator and, for a sent draft, whoever sent it."""
    made = {row.created_by} if row.created_by else set()
    for step in timeline.timeline(session, row):
        if step.kind in (states.DRAFT, states.AWAITING_APPROVAL) and step.actor:
            made.add(step.actor["id"])
    return made


def _held_request(
    session: Session, master: MasterKey, wire: dict[str, Any], envelope: Envelope
) -> Any:
    """The held payload, opened from our own sealed copy, for the disclosure's legal basis
    and consent. Dropped when the approval returns."""
    keys = secret_keys_by_id(session, master, parse_envelope(wire).from_key)
    if keys is None or envelope.self_sealed_key is None:
        raise Conflict("The keys that sealed this transfer are no longer held; send it again.")
    try:
        return load_transfer_request(open_own_copy(wire, envelope.self_sealed_key, keys))
    except CryptoError as exc:
        raise Conflict("This transfer can no longer be opened; send it again.") from exc
    except ValidationError as exc:
        # A date in it has since passed (an unborn child's expected date, say).
        raise Conflict("This transfer is no longer valid as it stands; send it again.") from exc


# --- acknowledgement, receiving side -------------------------------------------------------


def acknowledge(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    data: Mapping[str, Any],
    now: datetime,
) -> TransferView:
    """The receiving coordinator's answer: validated, sealed back to the sender in reply to
    the transfer's envelope, logged as a disclosure with evidence, and queued; our own
    transfer moves to acknowledged or redirected."""
    body = conversation.loaded_body(load_acknowledgement_body, data, "acknowledgement")
    with session.begin():
        row = _locked(session, transfer_id)
        if row is None or not principal.may_send(row.area_code):
            raise NotFound("No such transfer.")
        target = states.ACKNOWLEDGED if body.status == ACCEPTED else states.REDIRECTED
        states.move(row, target)
        meetings.check_listed_for(session, row.area_code, body.listed_for)
        actor = principal.actor(row.area_code, SEND_ROLES)
        sent = conversation.send_reply(
            session,
            master,
            row,
            conversation.Reply(
                payload_type=ACKNOWLEDGEMENT,
                payload=_acknowledgement_payload(body, row),
                action=actions.ACKNOWLEDGEMENT_SENT,
                actor=actor,
                details={"status": body.status},
            ),
            now,
        )
        row.listed_for = body.listed_for
        timeline.note(session, row, target, now, actor=actor, envelope_id=sent.envelope_id)
        session.flush()
        return view(row)


def _acknowledgement_payload(body: Any, row: Transfer) -> dict[str, Any]:
    """The posted body, addressed from our area back to the sender, validated whole."""
    values = {f.name: getattr(body, f.name) for f in dataclasses.fields(body)}
    ack = Acknowledgement(
        **values, schema_version=ACK_VERSION, from_area=row.area_code, to_area=row.peer_area
    )
    return conversation.checked_payload(
        dump_acknowledgement(ack), load_acknowledgement, "acknowledgement"
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


def _answered_transfer(session: Session, inbound: conversation.Inbound) -> str:
    """The outbound transfer an inbound acknowledgement answers: one this area sent to
    that very peer and that is delivered and not yet answered. Anything else is refused."""
    row = conversation.replied_transfer(session, inbound, direction=states.OUTBOUND)
    if row is None:
        raise Refused(
            "The acknowledgement answers no transfer this area sent to its sender.",
            reason="unknown-transfer",
        )
    if row.status not in AWAITING_ANSWER:
        raise Refused(
            f"The transfer is '{row.status}', not awaiting an acknowledgement.",
            reason="unexpected-acknowledgement",
        )
    return row.id


def _apply_answer(session: Session, inbound: conversation.Inbound, transfer_id: str | None) -> None:
    row = session.get(Transfer, transfer_id)
    if row is None or not isinstance(inbound.summary, Answer):
        raise Refused("The acknowledgement cannot be applied.", reason="invalid-payload")
    apply_reply(session, row, inbound.summary, inbound.envelope_id, inbound.now)


ACKNOWLEDGEMENT_HANDLER = conversation.Handler(
    load=load_acknowledgement,
    summary=_answer_of,
    target=_answered_transfer,
    apply=_apply_answer,
)


def apply_reply(
    session: Session,
    row: Transfer,
    reply: Answer,
    acknowledgement_id: str,
    now: datetime,
) -> None:
    """Move our transfer on and log it, in the receiving transaction."""
    if row.status in (states.QUEUED, states.FAILED):
        # The answer outran our record of the receipt (or our outbox gave up just as the
        # peer stored it): an area can only answer what it received, so this proves it.
        states.move(row, states.DELIVERED)
        row.failure_reason = None
        row.delivered_at = row.delivered_at or now
    target = states.ACKNOWLEDGED if reply.status == ACCEPTED else states.REDIRECTED
    states.move(row, target)
    row.listed_for = reply.listed_for
    timeline.note(
        session, row, target, now, actor=Actor.peer(row.peer_area), envelope_id=acknowledgement_id
    )
    row.updated_at = now
    audit.record(
        session,
        row.area_code,
        audit.Event(
            action=actions.ACKNOWLEDGEMENT_RECEIVED,
            actor=Actor.peer(row.peer_area),
            peer_area=row.peer_area,
            # `envelope` names the transfer's own envelope, so reports can time the
            # acknowledgement from the disclosure; the acknowledgement is named apart.
            objects={
                "transfer": row.id,
                "envelope": row.envelope_id,
                "acknowledgement": acknowledgement_id,
            },
            details={"type": ACKNOWLEDGEMENT, "status": reply.status},
        ),
        now,
    )

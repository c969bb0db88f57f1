"""A chair's approval of a transfer decided after the meeting (DESIGN section 2; seed 001
5.1): nothing leaves before a chair of the sending area other than whoever made it
approves it. The approval, the disclosure and the outbox row are written in ONE
transaction (the disclosure's evidence is attached when the worker claims it)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Envelope, Transfer
from gateway.domain import audit
from gateway.domain.areas.local_areas import secret_keys_by_id
from gateway.domain.audit import actions
from gateway.domain.federation import envelope_writer
from gateway.domain.identity.principals import CHAIR, Principal
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import states, timeline
from gateway.domain.transfers.reading import TransferView, view
from gateway.domain.transfers.sending import disclosure_event
from gateway.errors import Conflict, Forbidden, NotFound
from keys import (
    CryptoError,
    MasterKey,
    open_own_copy,
    parse_envelope,
)
from schemas.wire.transfer_request import load_transfer_request

APPROVER_ROLES = frozenset({CHAIR})


def _locked(session: Session, transfer_id: str) -> Transfer | None:
    return session.get(Transfer, transfer_id, with_for_update=True)


def _own_envelope(session: Session, row: Transfer) -> Envelope:
    return session.scalars(
        select(Envelope).where(
            Envelope.envelope_id == row.envelope_id, Envelope.area_code == row.area_code
        )
    ).one()


# --- chair approval ------------------------------------------------------------------------


@owns_transaction
def approve(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    now: datetime,
) -> TransferView:
    """Release a held transfer: it is queued, the disclosure is logged, and the outbox picks
    it up (attaching the disclosure's evidence). Only a chair of the sending area, and
    never its creator."""
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
        disclosure = disclosure_event(request, row, actor)
        envelope_writer.release(session, master, row, envelope, disclosure, now)
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

"""Outbound transfers: validate, seal, and queue in one transaction; list metadata.

States and their transitions live in `gateway.domain.states`; approval and
acknowledgement in `gateway.domain.workflow`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Envelope, OutboxItem, Transfer
from gateway.domain import audit, restricted, states, timeline
from gateway.domain.actors import Actor
from gateway.domain.areas import current_secret_keys, get_area, secret_keys_by_id
from gateway.domain.audit import actions, checkpoints, evidence
from gateway.domain.peers import recipient_key
from gateway.domain.principals import (
    CONTENT_ROLES,
    METADATA_ROLES,
    SEND_ROLES,
    TRANSFERS_READ,
    Principal,
)
from gateway.domain.states import (
    AWAITING_APPROVAL,
    DRAFT,
    INBOUND,
    OUTBOUND,
    QUEUED,
    WITHDRAWN,
)
from gateway.errors import Forbidden, Gone, Invalid, NotFound, field_errors
from keys import (
    CryptoError,
    MasterKey,
    canonical_json,
    open_envelope,
    open_own_copy,
    parse_envelope,
    seal_envelope,
)
from schemas.transfer_request import (
    TransferRequest,
    dump_transfer_request,
    load_transfer_request,
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


def view(row: Transfer) -> TransferView:
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


def _addressed_payload(data: Mapping[str, Any], from_area: str, to_area: str) -> dict[str, Any]:
    """The flags fill `from_area`/`to_area`, or must match what the file already says."""
    payload = dict(data)
    problems = {
        key: ["Does not match the area given on the command line."]
        for key, value in (("from_area", from_area), ("to_area", to_area))
        if payload.setdefault(key, value) != value
    }
    if problems:
        raise Invalid("The transfer request names different areas.", errors=problems)
    return payload


def validated_request(
    data: Mapping[str, Any], from_area: str, to_area: str
) -> tuple[TransferRequest, dict[str, Any]]:
    """The request loaded (or Invalid naming the fields) and its canonical payload."""
    payload = _addressed_payload(data, from_area, to_area)
    try:
        request = load_transfer_request(payload)
    except ValidationError as exc:
        raise Invalid(
            "The transfer request is not valid.", errors=field_errors(exc.messages)
        ) from exc
    return request, dump_transfer_request(request)


def send_transfer(
    session: Session,
    master: MasterKey,
    data: Mapping[str, Any],
    *,
    from_area: str,
    to_area: str,
    now: datetime,
    actor: Actor,
) -> TransferView:
    """Validate, seal and queue. The transfer row, the sealed envelope and its outbox row are
    written in ONE transaction, so a crash can lose nothing and half-send nothing."""
    request, canonical = validated_request(data, from_area, to_area)
    with session.begin():
        get_area(session, from_area)
        transfer = new_transfer(from_area, to_area, now, actor)
        dispatch(session, master, transfer, request, canonical, now, actor)
        return view(transfer)


def create_outbound(
    session: Session,
    master: MasterKey,
    request: TransferRequest,
    *,
    to_area: str,
    now: datetime,
    actor: Actor,
    event: Callable[[audit.Event], audit.Event] | None = None,
) -> Transfer:
    """A new outbound transfer of `request` (already validated) from its `from_area` to
    `to_area`, dispatched at once; in the caller's transaction (forwarding uses it)."""
    transfer = new_transfer(request.from_area, to_area, now, actor)
    canonical = dump_transfer_request(request)
    dispatch(session, master, transfer, request, canonical, now, actor, event=event)
    return transfer


def new_transfer(from_area: str, to_area: str, now: datetime, actor: Actor) -> Transfer:
    """An outbound transfer row in `draft`, not yet added to the session."""
    return Transfer(
        id=str(uuid.uuid4()),
        envelope_id="",
        area_code=from_area,
        peer_area=to_area,
        direction=OUTBOUND,
        status=DRAFT,
        failure_reason=None,
        created_at=now,
        updated_at=now,
        delivered_at=None,
        created_by=actor.id,
    )


def dispatch(
    session: Session,
    master: MasterKey,
    transfer: Transfer,
    request: TransferRequest,
    canonical: dict[str, Any],
    now: datetime,
    actor: Actor,
    *,
    event: Callable[[audit.Event], audit.Event] | None = None,
) -> None:
    """Take a transfer out of `draft`: seal it to the recipient, log the disclosure (or the
    hold for a chair), store the envelope and queue it; in the caller's transaction.
    `event` may reshape the disclosure event (a forward logs `forward.sent` with where the
    case came from)."""
    # Decided by the chair after the meeting: nothing leaves before a chair approves it.
    needs_approval = request.consent.decision_forum == "chair_after_meeting"
    transfer.restricted_reason = request.restricted_reason if request.restricted else None
    from_area, to_area = transfer.area_code, transfer.peer_area
    sender = current_secret_keys(session, master, from_area, now)
    sealed = seal_envelope(
        sender=sender,
        recipient=recipient_key(session, to_area, now),
        payload_type=TRANSFER_REQUEST,
        payload=canonical,
        created_at=now,
    )
    states.move(transfer, AWAITING_APPROVAL if needs_approval else QUEUED)
    transfer.envelope_id = sealed.id
    transfer.updated_at = now
    disclosure = send_event(request, transfer, sealed.id, sealed.digest, actor)
    if event is not None:
        disclosure = event(disclosure)
    recorded = audit.record(session, from_area, disclosure, now, master)
    wire = sealed.wire
    if not needs_approval:
        # The disclosure travels with the proof that it is in our signed log. A held
        # transfer gets its evidence when a chair approves it (workflow issue).
        proof = checkpoints.issue(session, master, from_area, now, sender)
        wire = {**wire, "evidence": evidence.build(recorded, proof)}
    envelope = Envelope(
        envelope_id=sealed.id,
        area_code=from_area,
        direction=OUTBOUND,
        type=TRANSFER_REQUEST,
        peer_area=to_area,
        in_reply_to=None,
        digest=sealed.digest,
        body=canonical_json(wire).decode("ascii"),
        self_sealed_key=sealed.self_sealed_key,
        receipt=None,
        created_at=now,
        purged_at=None,
    )
    session.add(envelope)
    session.add(transfer)
    session.flush()
    timeline.note(session, transfer, transfer.status, now, actor=actor, envelope_id=sealed.id)
    if not needs_approval:
        session.add(queue_item(envelope.pk, now))
    session.flush()


def send_event(
    request: TransferRequest, transfer: Transfer, envelope_id: str, digest: str, actor: Actor
) -> audit.Event:
    """The disclosure (or, while held, the hold): the same shape whether sent at once or
    released later by a chair's approval."""
    facts = audit.transfer_facts(request)
    return audit.Event(
        action=actions.TRANSFER_HELD
        if transfer.status == AWAITING_APPROVAL
        else actions.TRANSFER_SENT,
        actor=actor,
        peer_area=transfer.peer_area,
        objects={"transfer": transfer.id, "envelope": envelope_id},
        envelope_digest=digest,
        legal_basis=facts.legal_basis,
        consent=facts.consent,
        details={"type": TRANSFER_REQUEST, "restricted": request.restricted},
        personal=facts.personal,
    )


def queue_item(envelope_pk: int, now: datetime) -> OutboxItem:
    return OutboxItem(
        envelope_pk=envelope_pk,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        claimed_until=None,
        last_error=None,
        created_at=now,
        finished_at=None,
    )


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


# --- the application API's view (identity issue) ----------------------------------------


@dataclass(frozen=True)
class TransferPage:
    items: list[TransferView]
    # Keyset cursor: (created_at, id) of the last item, when there may be more.
    next: tuple[datetime, str] | None


@dataclass(frozen=True)
class OpenedTransfer:
    transfer: TransferView
    content: dict[str, Any]


def listing_area(principal: Principal, requested: str | None) -> str:
    """The area whose transfers the principal lists: the one asked for, or its only one."""
    return principal.choose_area(requested, METADATA_ROLES, TRANSFERS_READ)


def list_transfer_page(
    session: Session,
    area: str,
    *,
    direction: str | None,
    status: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> TransferPage:
    """Newest first, `limit` at a time; metadata only."""
    with session.begin():
        query = select(Transfer).where(Transfer.area_code == area)
        if direction:
            query = query.where(Transfer.direction == direction)
        if status:
            query = query.where(Transfer.status == status)
        if after is not None:
            created, ident = after
            query = query.where(
                (Transfer.created_at < created)
                | ((Transfer.created_at == created) & (Transfer.id < ident))
            )
        order = (Transfer.created_at.desc(), Transfer.id.desc())
        rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    items = [view(row) for row in rows[:limit]]
    more = len(rows) > limit and items
    return TransferPage(items, (items[-1].created_at, items[-1].id) if more else None)


def sending_area(principal: Principal, data: Mapping[str, Any]) -> str:
    """The caller's area is the sender: a client's own area; a user's area as the body
    names it, or their only area with the coordinator role."""
    allowed = principal.areas_for(SEND_ROLES, "transfers:write")
    named = data.get("from_area")
    if principal.kind == "client" or named is None:
        if len(allowed) == 1:
            return allowed[0]
        raise Invalid("Name the sending area.", errors={"from_area": ["Required."]})
    if named not in allowed:
        raise Forbidden("You may not send transfers for that area.")
    return str(named)


def send_as(
    session: Session,
    master: MasterKey,
    principal: Principal,
    data: Mapping[str, Any],
    now: datetime,
) -> TransferView:
    from_area, to_area, actor = addressed_by(principal, data)
    return send_transfer(
        session, master, data, from_area=from_area, to_area=to_area, now=now, actor=actor
    )


def addressed_by(principal: Principal, data: Mapping[str, Any]) -> tuple[str, str, Actor]:
    """The sending area the caller acts for, the recipient the body names, and the actor
    to record: shared by sending at once and saving a draft."""
    from_area = sending_area(principal, data)
    to_area = data.get("to_area")
    if not isinstance(to_area, str):
        raise Invalid("The transfer request is not valid.", errors={"to_area": ["Required."]})
    return from_area, to_area, principal.actor(from_area, SEND_ROLES)


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
        restricted.check_may_open(session, principal, row)
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


def transfer_timeline(
    session: Session, principal: Principal, transfer_id: str
) -> tuple[TransferView, list[timeline.Step]]:
    """The transfer's metadata and its content-free timeline, for anyone who may list the
    area's transfers; NotFound for everyone else, exactly as for a missing id."""
    with session.begin():
        row = listed_transfer(session, principal, transfer_id)
        return view(row), timeline.timeline(session, row)


def listed_transfer(session: Session, principal: Principal, transfer_id: str) -> Transfer:
    """The transfer, for anyone who may see the area's transfers (metadata); NotFound for
    everyone else, exactly as for a missing id, so other areas' ids cannot be probed."""
    row = session.get(Transfer, transfer_id)
    if row is None or not principal.may_list_transfers(row.area_code):
        raise NotFound("No such transfer.")
    return row

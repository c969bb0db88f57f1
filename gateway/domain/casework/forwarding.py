"""Forwarding a received case to a third area. What was shared
stays the property of the originating area (seed 000 4.19.2, 004 ISP 3.5), so the
receiving area may pass it on only with the originator's recorded permission:

1. the receiving coordinator asks (`forward_permission` kind `request`, naming the third
   area), recorded on both sides as `requested`;
2. the originating coordinator grants or refuses that request (kind `grant`/`refusal`),
   recorded on both sides;
3. with a grant for exactly that third area, the receiving coordinator forwards: the
   case is re-sealed as a new `transfer_request` from the receiving area to the third
   area (same content, new addressing), a new outbound transfer on this node that remembers
   where it came from. Forwarding is a new disclosure (seed 004 ISP 3.4, 3.5): it carries
   the forwarding area's own sender details and its own consent decision and lawful
   basis, and waits for its chair just as any transfer it sends would. One grant allows
   one forward. A grant may carry the originating area's terms (version 2): restrictions
   on the third area, which travel inside the forwarded case and bind there as a
   direct transfer's do, and the documents the forward may include, sent after it like
   any document. The inbound transfer keeps its own state (the area still holds its copy
   and its 12 months of responsibility, 001 5.0); its timeline says where the case went.

All envelopes reply to the transfer's own envelope, so retention purges them with it.
The permission records and receiving the envelopes are in `forward_permission`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Envelope, Transfer, TransferDocument
from adapters.db.models import ForwardPermission as PermissionRow
from gateway.domain import audit
from gateway.domain.areas.local_areas import secret_keys_by_id
from gateway.domain.areas.peers import recipient_key
from gateway.domain.audit import actions
from gateway.domain.casework import documents, forward_permission, replying
from gateway.domain.federation import envelope_writer
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import SEND_ROLES, Principal
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import restriction, states, timeline
from gateway.domain.transfers.reading import TransferView, check_content_held, of_transfer, view
from gateway.domain.transfers.sending import create_outbound
from gateway.errors import Conflict, Invalid, NotFound, field_errors
from keys import CryptoError, MasterKey, open_envelope, parse_envelope
from schemas.common import MEDIUM
from schemas.wire.addressed import body_values
from schemas.wire.forward_permission import (
    GRANT,
    GRANTED,
    REFUSAL,
    REQUEST,
    CoveredDocument,
    ForwardBody,
    ForwardDecisionBody,
    ForwardPermission,
    dump_forward_permission,
    load_forward_body,
    load_forward_decision_body,
    load_forward_permission,
    load_forward_request_body,
)
from schemas.wire.forward_permission import PAYLOAD_TYPE as FORWARD_PERMISSION
from schemas.wire.forward_permission import SCHEMA_VERSION as PERMISSION_VERSION
from schemas.wire.transfer_request import RESTRICTED_REASONS, load_transfer_request

# How the forwarded case states the originating area's restrictions, after the forwarding
# area's own (seed 004 ISP 3.4: a disclosure records the restrictions on its recipients).
ORIGINATOR_RESTRICTIONS = "Restrictions set by the originating area ({area}) on this forward: "


def _invalid(what: str, exc: ValidationError) -> Invalid:
    return Invalid(f"The {what} is not valid.", errors=field_errors(exc.messages))


def _payload(row: Transfer, **values: Any) -> dict[str, Any]:
    permission = ForwardPermission(
        schema_version=PERMISSION_VERSION,
        from_area=row.area_code,
        to_area=row.peer_area,
        **{
            "reason": None,
            "requested_by": None,
            "request_id": None,
            "decided_by": None,
            "note": None,
            "restrictions": None,
            "restricted": False,
            "restricted_reason": None,
            "documents": (),
            **values,
        },
    )
    canonical = dump_forward_permission(permission)
    try:
        load_forward_permission(canonical)  # what we send must be what a peer accepts
    except ValidationError as exc:
        raise _invalid("request", exc) from exc
    return canonical


# --- 1. the receiving area asks ------------------------------------------------------------


@owns_transaction
def request_permission(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    data: Mapping[str, Any],
    now: datetime,
) -> forward_permission.PermissionView:
    try:
        body = load_forward_request_body(data)
    except ValidationError as exc:
        raise _invalid("request", exc) from exc
    with session.begin():
        row = replying.locked_for_sender(session, principal, transfer_id)
        _check_forwardable(session, principal, row)
        if body.forward_to in (row.area_code, row.peer_area):
            raise Invalid(
                "Forwarding goes to a third area.",
                errors={"forward_to": ["Must name an area other than the two of this transfer."]},
            )
        _known_area(session, body.forward_to, now)
        actor = principal.actor(row.area_code, SEND_ROLES)
        values = body_values(body)
        sent = envelope_writer.write(
            session,
            master,
            row,
            envelope_writer.reply(
                row,
                FORWARD_PERMISSION,
                _payload(row, kind=REQUEST, **values),
                action=actions.FORWARD_REQUESTED,
                actor=actor,
                details={"kind": REQUEST, "forward_to": body.forward_to, "reason": body.reason},
                step=envelope_writer.Step(
                    "forward_requested", {"forward_to": body.forward_to, "reason": body.reason}
                ),
            ),
            now,
        )
        permission = forward_permission.new_permission(sent.envelope_id, row, body.forward_to, now)
        session.add(permission)
        session.flush()
        return forward_permission.permission_view(permission)


def _check_forwardable(session: Session, principal: Principal, row: Transfer) -> None:
    if row.direction != states.INBOUND:
        raise Conflict(
            "Only the area that received a case forwards it; "
            "the originating area sends its own transfer instead."
        )
    if row.status == states.WITHDRAWN:
        raise Conflict("The originating area withdrew this transfer; it cannot be forwarded.")
    restriction.check_may_open(session, principal, row)


def _known_area(session: Session, area: str, now: datetime) -> None:
    try:
        recipient_key(session, area, now)
    except NotFound as exc:
        raise Invalid(
            "The third area is not known to this node.",
            errors={"forward_to": ["Not a peer with a valid key; import its bundle first."]},
        ) from exc


# --- 2. the originating area answers -------------------------------------------------------


@owns_transaction
def decide(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    data: Mapping[str, Any],
    now: datetime,
) -> forward_permission.PermissionView:
    try:
        body = load_forward_decision_body(data)
    except ValidationError as exc:
        raise _invalid("decision", exc) from exc
    with session.begin():
        row = replying.locked_for_sender(session, principal, transfer_id)
        if row.direction != states.OUTBOUND:
            raise Conflict("Only the originating area answers a request to forward its case.")
        permission = session.get(
            PermissionRow, (body.request_id, row.area_code), with_for_update=True
        )
        if permission is None or permission.transfer_id != row.id:
            raise Invalid(
                "No such request to forward this transfer.",
                errors={"request_id": ["No request to forward this transfer has this id."]},
            )
        if permission.status != forward_permission.REQUESTED:
            raise Conflict(f"This request was already answered ('{permission.status}').")
        granted = body.decision == GRANTED
        if granted and row.status == states.WITHDRAWN:
            raise Conflict("This transfer was withdrawn; forwarding it cannot be granted.")
        kind = GRANT if granted else REFUSAL
        actor = principal.actor(row.area_code, SEND_ROLES)
        status = GRANTED if granted else forward_permission.REFUSED
        covered = _covered(session, row, body)
        sent = envelope_writer.write(
            session,
            master,
            row,
            envelope_writer.reply(
                row,
                FORWARD_PERMISSION,
                _payload(
                    row,
                    kind=kind,
                    forward_to=permission.forward_to,
                    request_id=permission.request_id,
                    decided_by=body.decided_by,
                    note=body.note,
                    restrictions=body.restrictions,
                    restricted=body.restricted,
                    restricted_reason=body.restricted_reason,
                    documents=covered,
                ),
                action=actions.FORWARD_GRANTED if granted else actions.FORWARD_REFUSED,
                actor=actor,
                details={
                    "kind": kind,
                    "forward_to": permission.forward_to,
                    "restricted": body.restricted,
                    "documents": len(covered),
                },
                objects={"request": permission.request_id},
                step=envelope_writer.Step(
                    f"forward_{status}",
                    {"forward_to": permission.forward_to, "request": permission.request_id},
                ),
            ),
            now,
        )
        permission.status = status
        permission.answer_id, permission.answered_at = sent.envelope_id, now
        session.flush()
        return forward_permission.permission_view(permission)


def _covered(
    session: Session, row: Transfer, body: ForwardDecisionBody
) -> tuple[CoveredDocument, ...]:
    """The documents a grant covers: each one already exchanged on this case (sent or
    received, never one still held), with its kind; Invalid naming `documents` otherwise."""
    found: list[CoveredDocument] = []
    for document_id in body.documents:
        record = session.get(TransferDocument, (document_id, row.area_code))
        if (
            record is None
            or record.transfer_id != row.id
            or record.direction not in (states.INBOUND, states.OUTBOUND)
        ):
            raise Invalid(
                "The grant names a document that was not exchanged on this case.",
                errors={"documents": ["Each must be a document sent or received on this case."]},
            )
        found.append(CoveredDocument(record.document_id, record.kind))
    return tuple(found)


# --- 3. the receiving area forwards --------------------------------------------------------


@owns_transaction
def forward(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    data: Mapping[str, Any],
    now: datetime,
) -> TransferView:
    """Forward with a grant for exactly `data`'s `to_area`, as the forwarding area's own
    disclosure (its `sender` and `consent`, validated whole; Invalid naming the field)."""
    try:
        body = load_forward_body(data)
    except ValidationError as exc:
        raise _invalid("forward", exc) from exc
    with session.begin():
        row = replying.locked_for_sender(session, principal, transfer_id)
        return _forward(
            session,
            master,
            row,
            principal,
            body,
            principal.actor(row.area_code, SEND_ROLES),
            now,
        )


def _forward(
    session: Session,
    master: MasterKey,
    row: Transfer,
    principal: Principal,
    body: ForwardBody,
    actor: Actor,
    now: datetime,
) -> TransferView:
    to_area = body.to_area
    _check_forwardable(session, principal, row)
    permission = _grant_for(session, row, to_area)
    check_content_held(row)
    terms = grant_of(session, master, row, permission)
    if terms is None:
        # Forwarding without reading the grant could drop the originator's restrictions.
        raise Conflict(
            "The originating area's permission can no longer be read here; ask for it again."
        )
    included = _included(session, row, body, terms)
    request = _readdressed(session, master, row, body, terms)
    originating = row.peer_area

    def as_forward(event: audit.Event) -> audit.Event:
        return dataclasses.replace(
            event,
            action=actions.FORWARD_SENT,
            objects={
                **event.objects,
                "forwarded_from": row.id,
                "permission": str(permission.answer_id),
            },
            details={
                **event.details,
                "originating_area": originating,
                "documents": len(included),
            },
        )

    forwarded = create_outbound(
        session, master, request, to_area=to_area, now=now, actor=actor, event=as_forward
    )
    forwarded.forwarded_from = row.id
    permission.used_by = forwarded.id
    timeline.note(
        session,
        forwarded,
        "forwarded_from",
        now,
        actor=actor,
        envelope_id=permission.answer_id,
        originating_area=originating,
        transfer=row.id,
    )
    timeline.note(
        session,
        row,
        "forwarded",
        now,
        actor=actor,
        envelope_id=forwarded.envelope_id,
        forward_to=to_area,
        transfer=forwarded.id,
        permission=permission.answer_id,
    )
    # The covered documents follow the forward: held beside it and sent once it has
    # reached the third area, sealed to it like any document (documents.release_held).
    for record in included:
        document = documents.opened_record(session, master, record)
        documents.hold(session, master, forwarded, document, actor, now)
    row.updated_at = now
    session.flush()
    return view(forwarded)


@dataclass(frozen=True)
class GrantTerms:
    """What one unused grant allows: where to, the originating area's restrictions, and
    the documents that may go (id and kind)."""

    forward_to: str
    restrictions: str | None
    restricted_reason: str | None
    documents: tuple[CoveredDocument, ...]


@owns_transaction
def granted_terms(
    session: Session, master: MasterKey, principal: Principal, transfer_id: str
) -> list[GrantTerms]:
    """The terms of every unused grant to forward this received case, for whoever may
    open it (the restrictions are case content, opened in memory)."""
    with session.begin():
        row = session.get(Transfer, transfer_id)
        if row is None or not principal.may_read_content(row.area_code):
            raise NotFound("No such transfer.")
        restriction.check_may_open(session, principal, row)
        found = session.scalars(
            of_transfer(PermissionRow, row)
            .where(
                PermissionRow.status == GRANTED,
                PermissionRow.used_by.is_(None),
            )
            .order_by(PermissionRow.answered_at)
        )
        result = []
        for permission in found:
            terms = grant_of(session, master, row, permission)
            result.append(
                GrantTerms(
                    permission.forward_to,
                    terms.restrictions if terms else None,
                    terms.restricted_reason if terms and terms.restricted else None,
                    terms.documents if terms else (),
                )
            )
        return result


def grant_of(
    session: Session, master: MasterKey, row: Transfer, permission: PermissionRow
) -> ForwardPermission | None:
    """The grant as the originating area sent it (its terms), opened in memory from the
    envelope this node received; None when its content is no longer held."""
    envelope = session.scalars(
        select(Envelope).where(
            Envelope.envelope_id == permission.answer_id, Envelope.area_code == row.area_code
        )
    ).one_or_none()
    if envelope is None or envelope.purged_at is not None:
        return None
    wire = json.loads(envelope.body)
    try:
        keys = secret_keys_by_id(session, master, parse_envelope(wire).to_key)
        if keys is None:
            return None
        return load_forward_permission(open_envelope(wire, keys))
    except (CryptoError, ValidationError):
        return None


def _included(
    session: Session, row: Transfer, body: ForwardBody, terms: ForwardPermission
) -> list[TransferDocument]:
    """The documents the forward includes: each covered by the grant and held here;
    Invalid naming `documents` otherwise (seed 004 ISP 3.5: nothing the originator did
    not permit goes on)."""
    covered = {d.id for d in terms.documents}
    refused = [d for d in body.documents if d not in covered]
    if refused:
        raise Invalid(
            "The forward includes documents the originating area's permission does not cover.",
            errors={
                "documents": [
                    f"{len(refused)} of them not covered by the grant; include only "
                    "documents it names."
                ]
            },
        )
    found: list[TransferDocument] = []
    for document_id in body.documents:
        record = session.get(TransferDocument, (document_id, row.area_code))
        if record is None or record.transfer_id != row.id or record.direction == documents.HELD:
            raise Conflict("A document the grant covers is not held here; it cannot be included.")
        found.append(record)
    return found


def _grant_for(session: Session, row: Transfer, to_area: str) -> PermissionRow:
    found = list(
        session.scalars(
            of_transfer(PermissionRow, row)
            .where(
                PermissionRow.forward_to == to_area,
                PermissionRow.status == GRANTED,
            )
            .order_by(PermissionRow.answered_at)
            .with_for_update()
        )
    )
    unused = [p for p in found if p.used_by is None]
    if unused:
        return unused[0]
    if found:
        raise Conflict(
            f"The originating area's permission to forward this case to '{to_area}' was "
            "already used; ask again to forward it again."
        )
    raise Conflict(
        f"No permission from the originating area to forward this case to '{to_area}' is "
        "recorded; ask for it first (POST .../forward-permission-requests)."
    )


def _readdressed(
    session: Session,
    master: MasterKey,
    row: Transfer,
    body: ForwardBody,
    terms: ForwardPermission | None = None,
) -> Any:
    """The received content, opened in memory, addressed from us to the third area with
    our own sender details and consent decision and the originating area's terms, and
    validated whole; dropped once re-sealed."""
    envelope = session.scalars(
        select(Envelope).where(
            Envelope.envelope_id == row.envelope_id, Envelope.area_code == row.area_code
        )
    ).one()
    wire = json.loads(envelope.body)
    try:
        keys = secret_keys_by_id(session, master, parse_envelope(wire).to_key)
        if keys is None:
            raise CryptoError("key gone")
        content = open_envelope(wire, keys)
    except CryptoError as exc:
        raise Conflict(
            "This transfer's content is no longer held; it cannot be forwarded."
        ) from exc
    content = _with_terms(
        {
            **content,
            "from_area": row.area_code,
            "to_area": body.to_area,
            "sender": body.sender,
            "consent": body.consent,
        },
        row.peer_area,
        terms,
    )
    try:
        return load_transfer_request(content)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {}
        ours = {k: v for k, v in messages.items() if k in ("sender", "consent")}
        if ours:
            # Our own answers do not fit the case's version (a version 1 consent for a
            # version 2 case, say): the forwarder fixes them, naming the field.
            raise _invalid("forward", ValidationError(ours)) from exc
        raise Conflict(
            "The case is no longer valid as it stands (a date in it has passed, say); "
            "ask the originating area to send it afresh."
        ) from exc


def _with_terms(
    content: dict[str, Any], originating: str, terms: ForwardPermission | None
) -> dict[str, Any]:
    """The originating area's restrictions written into the forwarded case in the words a
    direct transfer uses, so the third area shows and enforces them as it would a
    transfer's, whatever its release: the text after the forwarder's own
    `consent.restrictions` (first on the case page), a restricted case as `restricted`
    (only named users open it there)."""
    if terms is None or not (terms.restrictions or terms.restricted):
        return content
    consent = dict(content["consent"])
    if terms.restrictions:
        theirs = ORIGINATOR_RESTRICTIONS.format(area=originating) + terms.restrictions
        own = consent.get("restrictions")
        consent["restrictions"] = f"{own}\n\n{theirs}" if own else theirs
        if len(consent["restrictions"]) > MEDIUM:
            raise Invalid(
                "Your restrictions and the originating area's together are too long.",
                errors={
                    "consent": {
                        "restrictions": [
                            f"With the originating area's restrictions added, at most "
                            f"{MEDIUM} characters: shorten your own."
                        ]
                    }
                },
            )
    result = {**content, "consent": consent}
    if terms.restricted and not content.get("restricted"):
        reason = terms.restricted_reason
        if content.get("schema_version", 1) == 1 and reason not in RESTRICTED_REASONS:
            raise Conflict(
                "The case is transfer_request version 1, which has no place for the "
                "originating area's restriction reason; ask it to grant with another.",
                errors={"restricted_reason": ["Not a version 1 reason."]},
            )
        result["restricted"], result["restricted_reason"] = True, reason
    return result

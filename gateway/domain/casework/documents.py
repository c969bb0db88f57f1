"""Documents in reply to a transfer (DESIGN sections 2 and 5).

Either side of a transfer may send a document about it: the minutes, the original
referral, a completed MARAC referral form, a DASH checklist or anything else, as a file
(its media type detected from the bytes, checked against the allow-list, its size
bounded) or as structured minutes. Each travels as its own sealed `document` envelope in
reply to the transfer, with its SHA-256 and size inside the signed payload.

At rest the bytes exist only inside the sealed envelope; the `documents` table holds
metadata (kind, media type, size, digest, direction), keyed by the envelope id, which is
the document's id on both nodes. A download opens the envelope in memory, checks the bytes
against the signed digest and size, and is audited. No filename is ever kept or used.

A document added to an outbound transfer that has not reached the other area yet (a draft,
one waiting for a chair, one still queued) is HELD: sealed to the area's own key, listed
with direction `held`, and sent by `release_held` the moment the transfer's delivery
receipt is recorded, so it can never arrive before the transfer it replies to.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from adapters.db.models import Envelope, InformationRequest, Transfer, TransferDocument
from gateway.domain import audit
from gateway.domain.areas.local_areas import secret_keys_by_id
from gateway.domain.audit import actions
from gateway.domain.casework import media_types, replying
from gateway.domain.federation import envelope_writer, handlers
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import CONTENT_ROLES, SEND_ROLES, Principal
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import restriction, states, timeline
from gateway.domain.transfers.reading import (
    TransferView,
    check_content_held,
    listed_transfer,
    of_transfer,
    view,
)
from gateway.errors import (
    Conflict,
    DomainError,
    Invalid,
    NotFound,
    Refused,
    UnsupportedMediaType,
    field_errors,
)
from keys import CryptoError, MasterKey, canonical_json, open_envelope, open_own_copy, sha256_hex
from schemas.wire.document import (
    MINUTES,
    MINUTES_JSON,
    SCHEMA_VERSION,
    Document,
    dump_document,
    load_document,
    minutes_version,
)
from schemas.wire.document import PAYLOAD_TYPE as DOCUMENT
from schemas.wire.minutes import VERSION_2 as MINUTES_VERSION_2
from schemas.wire.minutes import load_minutes, load_posted_minutes

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
OPEN, ANSWERED = "open", "answered"
# The direction of a document kept with an outbound transfer until it is delivered.
HELD = "held"
# Its envelope: the document payload wrapped and sealed to the area itself (like a draft).
HELD_TYPE = "document_held"
HOLDABLE = frozenset({states.DRAFT, states.AWAITING_APPROVAL, states.QUEUED, states.FAILED})

# A document follows its transfer: it is sent once the transfer has reached the peer, so
# it can never arrive before the transfer it replies to (and be refused for good).
SENDABLE = {
    states.OUTBOUND: frozenset(
        {states.DELIVERED, states.INFORMATION_REQUESTED, states.ACKNOWLEDGED, states.REDIRECTED}
    ),
    states.INBOUND: frozenset({states.RECEIVED, states.ACKNOWLEDGED, states.REDIRECTED}),
}
# What a node accepts a document for: the peer can only write about a transfer it holds.
RECEIVABLE = {
    states.OUTBOUND: frozenset(
        {
            states.QUEUED,
            states.FAILED,
            states.DELIVERED,
            states.INFORMATION_REQUESTED,
            states.ACKNOWLEDGED,
            states.REDIRECTED,
        }
    ),
    states.INBOUND: frozenset({states.RECEIVED, states.ACKNOWLEDGED, states.REDIRECTED}),
}


class TooLarge(DomainError):
    status, slug, title = 413, "too-large", "Document too large"
    explanation = (
        "The document is larger than this node sends or accepts (GATEWAY_DOCUMENT_MAX_BYTES)."
    )


@dataclass(frozen=True)
class DocumentView:
    """What anyone who may see the transfer's metadata may see of a document."""

    id: str
    transfer_id: str
    direction: str
    kind: str
    media_type: str
    size: int
    sha256: str
    answers: str | None
    created_at: datetime


@dataclass(frozen=True)
class OpenedDocument:
    document: DocumentView
    content: bytes


def document_view(row: TransferDocument) -> DocumentView:
    return DocumentView(
        id=row.document_id,
        transfer_id=row.transfer_id,
        direction=row.direction,
        kind=row.kind,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        answers=row.answers,
        created_at=row.created_at,
    )


# --- sending -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    kind: str
    content: bytes
    media_type: str
    answers: str | None = None


def file_upload(kind: str, content: bytes, answers: str | None, max_bytes: int) -> Outgoing:
    """An uploaded file: bounded, and typed by what its bytes are (never by its name)."""
    if len(content) > max_bytes:
        raise TooLarge(f"Documents are limited to {max_bytes} bytes on this node.")
    if not content:
        raise Invalid("The document is empty.", errors={"file": ["May not be empty."]})
    detected = media_types.detect(content)
    if detected is None:
        raise UnsupportedMediaType(
            "Only PDF, DOCX, ODT, RTF, plain text (UTF-8), PNG and JPEG documents are "
            "accepted; this file's content is none of them."
        )
    return Outgoing(kind, content, detected, answers)


def minutes_upload(data: Mapping[str, Any], max_bytes: int) -> Outgoing:
    """Structured minutes: `{"kind": "minutes", "minutes": {...}, "answers"?}`; their
    canonical JSON becomes the document's bytes."""
    unknown = set(data) - {"kind", "minutes", "answers"}
    errors: dict[str, Any] = {name: ["Unknown field."] for name in sorted(unknown)}
    if data.get("kind") != MINUTES:
        errors["kind"] = ["Structured documents must be of kind minutes."]
    answers = data.get("answers")
    if answers is not None and not isinstance(answers, str):
        errors["answers"] = ["Not a valid UUID."]
    minutes = data.get("minutes")
    if not isinstance(minutes, dict):
        errors["minutes"] = ["Required: an object following the minutes checklist."]
    if errors:
        raise Invalid("The minutes are not valid.", errors=errors)
    assert isinstance(minutes, dict)  # noqa: S101 - checked just above, for mypy
    try:
        # Format version 2 in a document version 2; a peer that reads only version 1 is
        # sent them rewritten when they are sent (negotiation, docs/contract.md).
        content = canonical_json(load_posted_minutes(minutes))
    except ValidationError as exc:
        raise Invalid(
            "The minutes are not valid.", errors={"minutes": field_errors(exc.messages)}
        ) from exc
    if len(content) > max_bytes:
        raise TooLarge(f"Documents are limited to {max_bytes} bytes on this node.")
    return Outgoing(MINUTES, content, MINUTES_JSON, answers)


@owns_transaction
def send_document(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    outgoing: Outgoing,
    now: datetime,
) -> DocumentView:
    """Seal the document to the transfer's peer, log it, store its metadata and queue it,
    in ONE transaction; a document answering an information request closes it. On an
    outbound transfer that has not reached the peer yet the document is held instead and
    follows the transfer once it is delivered."""
    with session.begin():
        row = replying.locked_for_sender(session, principal, transfer_id)
        actor = principal.actor(row.area_code, SEND_ROLES)
        if row.direction == states.OUTBOUND and row.status in HOLDABLE and not outgoing.answers:
            return _hold(session, master, row, outgoing, actor, now)
        if row.status not in SENDABLE.get(row.direction, frozenset()):
            raise Conflict(
                f"Documents follow a transfer once it has reached the other area; this "
                f"{row.direction} transfer is '{row.status}'."
            )
        return _send(session, master, row, outgoing, actor, now)


def _send(
    session: Session,
    master: MasterKey,
    row: Transfer,
    outgoing: Outgoing,
    actor: Actor,
    now: datetime,
) -> DocumentView:
    request = _answered_request(session, row, outgoing.answers)
    # Negotiated here, not only by the writer: the record keeps the digest and size of the
    # bytes the peer gets (version 2 minutes rewritten as version 1 differ).
    payload = envelope_writer.negotiated_payload(
        session, row.peer_area, DOCUMENT, _payload(row, outgoing)
    )
    sent = envelope_writer.write(
        session,
        master,
        row,
        envelope_writer.reply(
            row,
            DOCUMENT,
            payload,
            action=actions.DOCUMENT_SENT,
            actor=actor,
            details={
                "kind": outgoing.kind,
                "media_type": outgoing.media_type,
                "size": payload["size"],
            },
            objects={"answers": outgoing.answers} if outgoing.answers else {},
            step=envelope_writer.Step(
                "document_sent",
                {"document_kind": outgoing.kind, "answers": outgoing.answers},
            ),
        ),
        now,
    )
    record = _record(row, sent.envelope_id, states.OUTBOUND, outgoing, payload, now)
    session.add(record)
    if request is not None:
        _close_request(session, row, request, sent.envelope_id, now, actor)
    session.flush()
    return document_view(record)


def _record(
    row: Transfer,
    document_id: str,
    direction: str,
    outgoing: Outgoing,
    payload: Mapping[str, Any],
    now: datetime,
) -> TransferDocument:
    return TransferDocument(
        document_id=document_id,
        area_code=row.area_code,
        transfer_id=row.id,
        direction=direction,
        kind=outgoing.kind,
        media_type=outgoing.media_type,
        size=payload["size"],
        sha256=payload["sha256"],
        answers=outgoing.answers,
        created_at=now,
    )


def _hold(
    session: Session,
    master: MasterKey,
    row: Transfer,
    outgoing: Outgoing,
    actor: Actor,
    now: datetime,
) -> DocumentView:
    """Keep the document sealed to our own area beside the transfer (nothing leaves; the
    log notes that it is held, which discloses nothing)."""
    payload = _payload(row, outgoing)
    kept = envelope_writer.write(
        session,
        master,
        row,
        envelope_writer.Outgoing(
            payload_type=HELD_TYPE,
            payload={"from_area": row.area_code, "to_area": row.area_code, DOCUMENT: payload},
            event=audit.Event(
                action=actions.DOCUMENT_HELD,
                actor=actor,
                peer_area=row.peer_area,
                details={"kind": outgoing.kind, "size": len(outgoing.content)},
            ),
            step=envelope_writer.Step("document_held", {"document_kind": outgoing.kind}),
            mode=envelope_writer.KEEP,
        ),
        now,
    )
    record = _record(row, kept.envelope_id, HELD, outgoing, payload, now)
    session.add(record)
    session.flush()
    return document_view(record)


def opened_record(session: Session, master: MasterKey, record: TransferDocument) -> Document:
    """A document this area holds, opened in memory and checked against its signed digest
    (a forward includes it); Conflict when its content was purged."""
    envelope = _stored(session, record)
    if envelope.purged_at is not None:
        raise Conflict("A document was purged under the retention schedule; it cannot be sent.")
    return _open(session, master, envelope, record)


def hold(
    session: Session,
    master: MasterKey,
    row: Transfer,
    document: Document,
    actor: Actor,
    now: datetime,
) -> DocumentView:
    """Hold an opened document beside an outbound transfer that has not reached its peer
    (a forward), to be sent by `release_held`; in the caller's transaction."""
    outgoing = Outgoing(document.kind, document.content, document.media_type)
    return _hold(session, master, row, outgoing, actor, now)


def release_held(session: Session, master: MasterKey, row: Transfer, now: datetime) -> int:
    """Send every document held for `row`, now that the transfer has been delivered: each
    opened from our own sealed copy and sent exactly as a document sent now; in the
    caller's transaction. Returns how many were sent."""
    held = _held(session, row)
    for record in held:
        envelope = _stored(session, record)
        document = _open(session, master, envelope, record)
        outgoing = Outgoing(document.kind, document.content, document.media_type)
        session.delete(record)
        session.delete(envelope)
        session.flush()
        _send(session, master, row, outgoing, Actor.system(), now)
    return len(held)


def holds_documents() -> ColumnElement[bool]:
    """A column for a query that selects `Transfer`: whether documents are held for it,
    so a batch of receipts looks for what to release only where there is some."""
    return (
        select(TransferDocument.document_id)
        .where(
            TransferDocument.transfer_id == Transfer.id,
            TransferDocument.area_code == Transfer.area_code,
            TransferDocument.direction == HELD,
        )
        .exists()
    )


def drop_held(session: Session, row: Transfer) -> None:
    """Forget the documents held for a transfer that will never be sent (a deleted
    draft); in the caller's transaction."""
    for record in _held(session, row):
        session.delete(_stored(session, record))
        session.delete(record)
    session.flush()


def _held(session: Session, row: Transfer) -> list[TransferDocument]:
    """The documents held for `row`, oldest first."""
    return list(
        session.scalars(
            of_transfer(TransferDocument, row)
            .where(
                TransferDocument.direction == HELD,
            )
            .order_by(TransferDocument.created_at, TransferDocument.document_id)
        )
    )


def _stored(session: Session, record: TransferDocument) -> Envelope:
    return session.scalars(
        select(Envelope).where(
            Envelope.envelope_id == record.document_id, Envelope.area_code == record.area_code
        )
    ).one()


def _answered_request(
    session: Session, row: Transfer, answers: str | None
) -> InformationRequest | None:
    """The request a document answers: one the peer asked of us about this transfer."""
    if answers is None:
        return None
    found = session.get(InformationRequest, (answers, row.area_code))
    if found is None or found.transfer_id != row.id or found.direction != states.INBOUND:
        raise Invalid(
            "The document answers no information request made of this area about this transfer.",
            errors={"answers": ["No such information request on this transfer."]},
        )
    return found


def _close_request(
    session: Session,
    row: Transfer,
    request: InformationRequest,
    document_id: str,
    now: datetime,
    actor: Actor,
) -> None:
    """Mark the request answered (more documents may follow it); once none is left
    open, the transfer goes back to awaiting the receiving area's acknowledgement."""
    if request.status == OPEN:
        request.status, request.answered_at, request.answered_by = ANSWERED, now, document_id
        session.flush()
    still_open = session.scalar(
        select(InformationRequest.request_id).where(
            InformationRequest.transfer_id == row.id,
            InformationRequest.area_code == row.area_code,
            InformationRequest.status == OPEN,
        )
    )
    if row.status == states.INFORMATION_REQUESTED and still_open is None:
        states.move(row, states.DELIVERED)
        timeline.note(
            session,
            row,
            states.DELIVERED,
            now,
            actor=actor,
            envelope_id=document_id,
            reason="information_supplied",
        )
    row.updated_at = now


def _payload(row: Transfer, outgoing: Outgoing) -> dict[str, Any]:
    # Minutes of format version 1 (received from an older node, say, and forwarded) go in
    # a version 1 document: a version 2 document's minutes are version 2.
    version = SCHEMA_VERSION
    if outgoing.media_type == MINUTES_JSON and _minutes_format(outgoing.content) == 1:
        version = 1
    document = Document(
        schema_version=version,
        from_area=row.area_code,
        to_area=row.peer_area,
        kind=outgoing.kind,
        media_type=outgoing.media_type,
        sha256=sha256_hex(outgoing.content),
        size=len(outgoing.content),
        content=outgoing.content,
        answers=outgoing.answers,
    )
    return replying.checked_payload(dump_document(document), load_document, "document")


def _minutes_format(content: bytes) -> int:
    try:
        return minutes_version(content)
    except ValueError:
        return 0


# --- listing and downloading ---------------------------------------------------------------


@owns_transaction
def list_documents(
    session: Session, principal: Principal, transfer_id: str
) -> tuple[TransferView, list[DocumentView]]:
    """Metadata of every document of the transfer, both directions, oldest first."""
    with session.begin():
        row = listed_transfer(session, principal, transfer_id)
        rows = session.scalars(
            of_transfer(TransferDocument, row).order_by(
                TransferDocument.created_at, TransferDocument.document_id
            )
        )
        return view(row), [document_view(found) for found in rows]


@owns_transaction
def open_document(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    document_id: str,
    now: datetime,
) -> OpenedDocument:
    """The document's bytes, decrypted in memory and checked against the signed digest and
    size; audited. Coordinators and chairs of the area, clients with transfers:read."""
    with session.begin():
        row = session.get(Transfer, transfer_id)
        if row is None or not principal.may_read_content(row.area_code):
            raise NotFound("No such document.")
        record = session.get(TransferDocument, (document_id, row.area_code))
        if record is None or record.transfer_id != row.id:
            raise NotFound("No such document.")
        # A document is the case's content: withdrawal and restriction apply to it too.
        check_content_held(row)
        restriction.check_may_open(session, principal, row)
        envelope = _stored(session, record)
        if envelope.purged_at is not None:
            raise NotFound("This document was purged under the retention schedule.")
        document = _open(session, master, envelope, record)
        if row.direction == states.INBOUND and row.opened_at is None:
            # From now on a withdrawal leaves the area what it has already read.
            row.opened_at = now
        audit.record(
            session,
            row.area_code,
            audit.Event(
                action=actions.DOCUMENT_DOWNLOADED,
                actor=principal.actor(row.area_code, CONTENT_ROLES),
                peer_area=row.peer_area,
                objects={"transfer": row.id, "envelope": document_id},
                envelope_digest=envelope.digest,
                details={"kind": record.kind, "direction": record.direction},
            ),
            now,
        )
        return OpenedDocument(document_view(record), document.content)


def _open(
    session: Session, master: MasterKey, envelope: Envelope, record: TransferDocument
) -> Document:
    wire = json.loads(envelope.body)
    outbound = envelope.direction == states.OUTBOUND
    key_id = wire["from"]["key"] if outbound else wire["to"]["key"]
    keys = secret_keys_by_id(session, master, key_id)
    if keys is None or (outbound and envelope.self_sealed_key is None):
        raise NotFound("The keys for this document are no longer held.")
    try:
        if outbound and envelope.self_sealed_key is not None:
            payload = open_own_copy(wire, envelope.self_sealed_key, keys)
        else:
            payload = open_envelope(wire, keys)
        # A held document is wrapped like a draft: {from_area, to_area, document}.
        inner = payload.get(DOCUMENT) if envelope.type == HELD_TYPE else payload
        document = load_document(inner if isinstance(inner, dict) else {})
    except (CryptoError, ValidationError) as exc:
        raise NotFound("This document can no longer be opened.") from exc
    # The bytes must be exactly what was signed and what we recorded, or nothing is served.
    if (
        len(document.content) != document.size
        or sha256_hex(document.content) != document.sha256
        or (document.sha256, document.size) != (record.sha256, record.size)
    ):
        raise Conflict("The stored document does not match its signed digest; not served.")
    return document


# --- receiving -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrived:
    """What outlives the plaintext of a received document: metadata, never its bytes."""

    kind: str
    media_type: str
    size: int
    sha256: str
    answers: str | None


def load_received(payload: Mapping[str, Any]) -> Document:
    """Validate a received document: its shape, then that its bytes are what the signed
    payload claims (size, SHA-256) and one of the allowed types. Anything else is
    refused before anything is stored."""
    document = load_document(payload)
    if len(document.content) != document.size or sha256_hex(document.content) != document.sha256:
        raise Refused(
            "The document's bytes do not match the size and SHA-256 it claims.",
            reason="document-mismatch",
        )
    if document.media_type == MINUTES_JSON:
        _check_minutes(document)
    elif media_types.detect(document.content) != document.media_type:
        raise Refused(
            "The document's bytes are not of the allowed media type it claims.",
            reason="unsupported-media-type",
        )
    return document


def _check_minutes(document: Document) -> None:
    """Received minutes are judged by their own format's rules, the sharing agreement of
    version 2 included (seed 002 appendix 3 II): refused naming the fields, and for
    `sharing_agreed_by` the agencies missing from it (agency names, never a person). A
    version 2 document carries version 2 minutes; a version 1 document carried either
    before this release, and still may."""
    try:
        version = minutes_version(document.content)
        if document.schema_version >= MINUTES_VERSION_2 and version != MINUTES_VERSION_2:
            raise Refused(
                "A document of version 2 carries structured minutes of format version 2.",
                reason="invalid-payload",
            )
        load_minutes(json.loads(document.content))
    except ValidationError as exc:
        problems = "; ".join(_flat(field_errors(exc.messages)))
        raise Refused(
            f"The structured minutes are not valid: {problems}", reason="invalid-payload"
        ) from exc
    except ValueError as exc:
        raise Refused("The structured minutes are not valid.", reason="invalid-payload") from exc


def _flat(messages: Any, prefix: str = "minutes") -> list[str]:
    """Marshmallow's messages as `field.path: message` lines (they never echo a value)."""
    if isinstance(messages, dict):
        return [
            line
            for key, value in sorted(messages.items())
            for line in _flat(value, f"{prefix}.{key}")
        ]
    if isinstance(messages, list):
        return [line for item in messages for line in _flat(item, prefix)]
    return [f"{prefix}: {messages}"]


def _arrived(loaded: object) -> Arrived | None:
    if isinstance(loaded, Document):
        fields = {f.name: getattr(loaded, f.name) for f in dataclasses.fields(Arrived)}
        return Arrived(**fields)
    return None


def concerned_transfer(session: Session, inbound: handlers.Inbound) -> Transfer:
    """The transfer, either direction, between this area and the sender, that the envelope
    replies to; refused otherwise."""
    for direction in (states.INBOUND, states.OUTBOUND):
        row = handlers.replied_transfer(session, inbound, direction=direction)
        if row is not None and row.status in RECEIVABLE[direction]:
            return row
        if row is not None:
            raise Refused(
                f"The transfer is '{row.status}' here; it takes no more documents.",
                reason="unexpected-document",
            )
    raise Refused(
        "The envelope replies to no transfer between these two areas.",
        reason="unknown-transfer",
    )


def _target(session: Session, inbound: handlers.Inbound) -> str:
    row = concerned_transfer(session, inbound)
    arrived = inbound.summary
    if isinstance(arrived, Arrived) and arrived.answers is not None:
        found = session.get(InformationRequest, (arrived.answers, row.area_code))
        if found is None or found.transfer_id != row.id or found.direction != states.OUTBOUND:
            raise Refused(
                "The document answers no information request this area made.",
                reason="unknown-request",
            )
    return row.id


def _apply(session: Session, inbound: handlers.Inbound, transfer_id: str | None) -> None:
    row = session.get(Transfer, transfer_id)
    arrived = inbound.summary
    if row is None or not isinstance(arrived, Arrived):
        raise Refused("The document cannot be applied.", reason="invalid-payload")
    proves_delivery(session, row, inbound)
    session.add(
        TransferDocument(
            document_id=inbound.envelope_id,
            area_code=row.area_code,
            transfer_id=row.id,
            direction=states.INBOUND,
            kind=arrived.kind,
            media_type=arrived.media_type,
            size=arrived.size,
            sha256=arrived.sha256,
            answers=arrived.answers,
            created_at=inbound.now,
        )
    )
    if arrived.answers is not None:
        request = session.get(InformationRequest, (arrived.answers, row.area_code))
        if request is not None and request.status == OPEN:
            request.status, request.answered_at = ANSWERED, inbound.now
            request.answered_by = inbound.envelope_id
    handlers.record_received(
        session,
        inbound,
        row,
        kind="document_received",
        action=actions.DOCUMENT_RECEIVED,
        objects={"envelope": inbound.envelope_id},
        details={"kind": arrived.kind, "media_type": arrived.media_type, "size": arrived.size},
        step={"document_kind": arrived.kind, "answers": arrived.answers},
    )


def proves_delivery(session: Session, row: Transfer, inbound: handlers.Inbound) -> None:
    """A reply from the peer proves it holds our transfer, even if our record of the
    receipt has not caught up (as for an acknowledgement that overtakes it)."""
    if row.direction == states.OUTBOUND and row.status in (states.QUEUED, states.FAILED):
        states.move(row, states.DELIVERED)
        row.failure_reason = None
        row.delivered_at = row.delivered_at or inbound.now
        timeline.note(
            session,
            row,
            states.DELIVERED,
            inbound.now,
            actor=Actor.peer(inbound.sender),
            envelope_id=inbound.envelope_id,
            reason="reply_received",
        )


HANDLER = handlers.Handler(load=load_received, target=_target, summary=_arrived, apply=_apply)

"""`/api/v1/transfers`: send, list (metadata), open (content), approve, acknowledge."""

from __future__ import annotations

from flask import Response, jsonify, request, url_for
from marshmallow import ValidationError

from gateway.domain.casework import acknowledgements, chair_approval
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import (
    AUDITOR,
    CHAIR,
    COORDINATOR,
    TRANSFERS_READ,
    TRANSFERS_WRITE,
)
from gateway.domain.transfers import drafts, reading, sending
from gateway.errors import Invalid, field_errors
from gateway.web import node
from gateway.web.api.common import (
    api,
    canonical_id,
    json_object,
    transfer_item,
    transfer_items,
)
from gateway.web.api.declarations import JSON, documented
from gateway.web.guard import current_principal, requires
from schemas.api.pages import encode_cursor
from schemas.api.transfers import (
    CreateQuerySchema,
    TimelineSchema,
    TimelineStepSchema,
    TransferDetailSchema,
    TransferItemSchema,
    TransferPageSchema,
    TransferQuerySchema,
    load_create_query,
    load_transfer_query,
)
from schemas.wire.acknowledgement import AcknowledgementBodySchema
from schemas.wire.transfer_request import TransferRequestSchema, TransferRequestV2Schema


@api.post("/transfers")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
@documented(
    "createTransfer",
    "Validate, seal and queue a transfer from the caller's area (with draft=true: save it "
    "as a draft sealed to the area's own key, not sent). The body is a transfer_request of "
    "schema_version 2 or 1 (docs/contract.md); it is sent as the newest version the "
    "receiving area accepts, down-converted if its content fits, else refused with 409 "
    "naming the versions that area accepts and the fields they have no place for.",
    ok=(201, "Queued, awaiting a chair's approval, or a draft"),
    answer=TransferItemSchema,
    problems=(400, 401, 403, 404, 409, 422),
    query=CreateQuerySchema,
    body={JSON: {"oneOf": [TransferRequestV2Schema, TransferRequestSchema]}},
)
def create_transfer() -> tuple[Response, int, dict[str, str]]:
    try:
        draft = load_create_query(request.args.to_dict(flat=True))
    except ValidationError as exc:
        raise Invalid("The query is not valid.", errors=field_errors(exc.messages)) from exc
    data = json_object()
    current = node()
    save = drafts.save_draft if draft else sending.send
    with current.sessions() as db:
        sent = save(db, current.master, current_principal(), data, utcnow())
    location = url_for("api.get_transfer", transfer_id=sent.id)
    return jsonify(transfer_item(sent)), 201, {"Location": location}


@api.get("/transfers")
@requires(roles=[COORDINATOR, CHAIR, AUDITOR], scopes=[TRANSFERS_READ])
@documented(
    "listTransfers",
    "Transfers of one area, newest first; metadata only.",
    ok=(200, "One page"),
    answer=TransferPageSchema,
    problems=(401, 403, 404, 422),
    query=TransferQuerySchema,
)
def list_transfers() -> Response:
    try:
        query = load_transfer_query(request.args.to_dict(flat=True))
    except ValidationError as exc:
        raise Invalid("The query is not valid.", errors=field_errors(exc.messages)) from exc
    area = reading.listing_area(current_principal(), query.area)
    with node().sessions() as db:
        page = reading.list_transfer_page(
            db,
            area,
            direction=query.direction,
            status=query.status,
            after=query.cursor,
            limit=query.limit,
        )
    return jsonify(
        items=transfer_items(page.items),
        next=encode_cursor(*page.next) if page.next else None,
    )


@api.get("/transfers/<transfer_id>")
@requires(roles=[COORDINATOR, CHAIR], scopes=[TRANSFERS_READ])
@documented(
    "getTransfer",
    "One transfer with its decrypted content.",
    ok=(200, "Metadata and content"),
    answer=TransferDetailSchema,
    problems=(401, 403, 404, 410),
)
def get_transfer(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    current = node()
    with current.sessions() as db:
        opened = reading.open_transfer(
            db, current.master, current_principal(), transfer_id, now=utcnow()
        )
    return jsonify(transfer=transfer_item(opened.transfer), content=opened.content)


@api.get("/transfers/<transfer_id>/timeline")
@requires(roles=[COORDINATOR, CHAIR, AUDITOR], scopes=[TRANSFERS_READ])
@documented(
    "getTimeline",
    "Every step of one transfer as this area saw it; metadata only.",
    ok=(200, "Metadata and the timeline"),
    answer=TimelineSchema,
    problems=(401, 403, 404),
)
def get_timeline(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    with node().sessions() as db:
        found, steps = reading.transfer_timeline(db, current_principal(), transfer_id)
    return jsonify(
        transfer=transfer_item(found), timeline=TimelineStepSchema(many=True).dump(steps)
    )


@api.post("/transfers/<transfer_id>/approve")
@requires(roles=[CHAIR])
@documented(
    "approveTransfer",
    "A chair of the sending area releases a transfer held for approval (never the person "
    "who created it).",
    ok=(200, "Queued for delivery"),
    answer=TransferItemSchema,
    problems=(401, 403, 404, 409),
)
def approve_transfer(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    current = node()
    with current.sessions() as db:
        approved = chair_approval.approve(
            db, current.master, current_principal(), transfer_id, utcnow()
        )
    return jsonify(transfer_item(approved))


@api.post("/transfers/<transfer_id>/acknowledgement")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
@documented(
    "acknowledgeTransfer",
    "A coordinator of the receiving area accepts (and lists) or redirects an inbound "
    "transfer; the answer travels back to the sender.",
    ok=(200, "Acknowledged or redirected; the answer is queued"),
    answer=TransferItemSchema,
    problems=(400, 401, 403, 404, 409, 422),
    body=AcknowledgementBodySchema,
)
def acknowledge_transfer(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    data = json_object()
    current = node()
    with current.sessions() as db:
        answered = acknowledgements.acknowledge(
            db, current.master, current_principal(), transfer_id, data, utcnow()
        )
    return jsonify(transfer_item(answered))


@api.post("/transfers/<transfer_id>/send")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
@documented(
    "sendDraft",
    "Send a draft: sealed to the recipient and queued, or held for a chair's approval, "
    "exactly as a transfer sent at once.",
    ok=(200, "Queued (or awaiting a chair's approval)"),
    answer=TransferItemSchema,
    problems=(401, 403, 404, 409, 422),
)
def send_draft(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    current = node()
    with current.sessions() as db:
        sent = drafts.send_draft(db, current.master, current_principal(), transfer_id, utcnow())
    return jsonify(transfer_item(sent))

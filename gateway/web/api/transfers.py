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
from gateway.web.api.common import api, canonical_id, json_object, transfer_item
from gateway.web.guard import current_principal, requires
from schemas.api.pages import encode_cursor
from schemas.api.transfers import TimelineStepSchema, load_create_query, load_transfer_query


@api.post("/transfers")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
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
        items=[transfer_item(view) for view in page.items],
        next=encode_cursor(*page.next) if page.next else None,
    )


@api.get("/transfers/<transfer_id>")
@requires(roles=[COORDINATOR, CHAIR], scopes=[TRANSFERS_READ])
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
def get_timeline(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    with node().sessions() as db:
        found, steps = reading.transfer_timeline(db, current_principal(), transfer_id)
    return jsonify(
        transfer=transfer_item(found), timeline=TimelineStepSchema(many=True).dump(steps)
    )


@api.post("/transfers/<transfer_id>/approve")
@requires(roles=[CHAIR])
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
def send_draft(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    current = node()
    with current.sessions() as db:
        sent = drafts.send_draft(db, current.master, current_principal(), transfer_id, utcnow())
    return jsonify(transfer_item(sent))

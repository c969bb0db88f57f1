"""`/api/v1/transfers`: send, list (metadata), open (content), approve, acknowledge."""

from __future__ import annotations

import uuid
from typing import Any

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
from gateway.errors import Invalid, Malformed, NotFound, field_errors
from gateway.security import current_principal, requires
from gateway.web import node
from gateway.web.api import api
from schemas.api import (
    TimelineStepSchema,
    TransferItemSchema,
    encode_cursor,
    load_create_query,
    load_transfer_query,
)


def _json_object() -> dict[str, Any]:
    if not request.is_json:
        raise Malformed("Send a JSON object (Content-Type: application/json).")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Malformed("The body is not a JSON object.")
    return body


def _item(view: reading.TransferView) -> dict[str, Any]:
    dumped: dict[str, Any] = TransferItemSchema().dump(view)
    return dumped


@api.post("/transfers")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
def create_transfer() -> tuple[Response, int, dict[str, str]]:
    try:
        draft = load_create_query(request.args.to_dict(flat=True))
    except ValidationError as exc:
        raise Invalid("The query is not valid.", errors=field_errors(exc.messages)) from exc
    data = _json_object()
    current = node()
    save = drafts.draft_as if draft else sending.send_as
    with current.sessions() as db:
        sent = save(db, current.master, current_principal(), data, utcnow())
    location = url_for("api.get_transfer", transfer_id=sent.id)
    return jsonify(_item(sent)), 201, {"Location": location}


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
        items=[_item(view) for view in page.items],
        next=encode_cursor(*page.next) if page.next else None,
    )


@api.get("/transfers/<transfer_id>")
@requires(roles=[COORDINATOR, CHAIR], scopes=[TRANSFERS_READ])
def get_transfer(transfer_id: str) -> Response:
    _canonical_id(transfer_id)
    current = node()
    with current.sessions() as db:
        opened = reading.open_transfer(
            db, current.master, current_principal(), transfer_id, now=utcnow()
        )
    return jsonify(transfer=_item(opened.transfer), content=opened.content)


@api.get("/transfers/<transfer_id>/timeline")
@requires(roles=[COORDINATOR, CHAIR, AUDITOR], scopes=[TRANSFERS_READ])
def get_timeline(transfer_id: str) -> Response:
    _canonical_id(transfer_id)
    with node().sessions() as db:
        found, steps = reading.transfer_timeline(db, current_principal(), transfer_id)
    return jsonify(transfer=_item(found), timeline=TimelineStepSchema(many=True).dump(steps))


def _canonical_id(transfer_id: str) -> None:
    """Only canonical UUIDs name a transfer; anything else cannot exist here."""
    try:
        canonical = str(uuid.UUID(transfer_id)) == transfer_id
    except ValueError:
        canonical = False
    if not canonical:
        raise NotFound("No such transfer.")


@api.post("/transfers/<transfer_id>/approve")
@requires(roles=[CHAIR])
def approve_transfer(transfer_id: str) -> Response:
    _canonical_id(transfer_id)
    current = node()
    with current.sessions() as db:
        approved = chair_approval.approve(
            db, current.master, current_principal(), transfer_id, utcnow()
        )
    return jsonify(_item(approved))


@api.post("/transfers/<transfer_id>/acknowledgement")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
def acknowledge_transfer(transfer_id: str) -> Response:
    _canonical_id(transfer_id)
    data = _json_object()
    current = node()
    with current.sessions() as db:
        answered = acknowledgements.acknowledge(
            db, current.master, current_principal(), transfer_id, data, utcnow()
        )
    return jsonify(_item(answered))


@api.post("/transfers/<transfer_id>/send")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
def send_draft(transfer_id: str) -> Response:
    _canonical_id(transfer_id)
    current = node()
    with current.sessions() as db:
        sent = drafts.send_draft_as(db, current.master, current_principal(), transfer_id, utcnow())
    return jsonify(_item(sent))

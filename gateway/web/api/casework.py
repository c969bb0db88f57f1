"""`/api/v1/transfers/<id>/...` casework after a transfer:
withdrawal, forwarding with the originating area's permission, repeat-incident notices,
and who may open a restricted case. Thin handlers over the domain services."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, url_for
from marshmallow import ValidationError

from gateway.domain.casework import forward_permission, forwarding, repeat_incidents, withdrawal
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import (
    AUDITOR,
    CHAIR,
    COORDINATOR,
    TRANSFERS_READ,
    TRANSFERS_WRITE,
)
from gateway.domain.transfers import restriction
from gateway.errors import Invalid, field_errors
from gateway.web import node
from gateway.web.api.common import api, canonical_id, json_object, transfer_item
from gateway.web.guard import current_principal, requires
from schemas.api.restricted_access import NamedUsersViewSchema, load_named_users
from schemas.wire.forward_permission import PermissionViewSchema, load_forward_body


def _permission(view: forward_permission.PermissionView) -> dict[str, Any]:
    dumped: dict[str, Any] = PermissionViewSchema().dump(view)
    return dumped


def _naming(found: restriction.Naming) -> dict[str, Any]:
    dumped: dict[str, Any] = NamedUsersViewSchema().dump(found)
    return dumped


@api.post("/transfers/<transfer_id>/withdrawal")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
def withdraw_transfer(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    data = json_object()
    current = node()
    with current.sessions() as db:
        withdrawn = withdrawal.withdraw(
            db, current.master, current_principal(), transfer_id, data, utcnow()
        )
    return jsonify(transfer_item(withdrawn))


@api.post("/transfers/<transfer_id>/forward-permission-requests")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
def request_forward_permission(transfer_id: str) -> tuple[Response, int]:
    canonical_id(transfer_id)
    data = json_object()
    current = node()
    with current.sessions() as db:
        asked = forwarding.request_permission(
            db, current.master, current_principal(), transfer_id, data, utcnow()
        )
    return jsonify(_permission(asked)), 201


@api.post("/transfers/<transfer_id>/forward-permission")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
def decide_forward_permission(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    data = json_object()
    current = node()
    with current.sessions() as db:
        answered = forwarding.decide(
            db, current.master, current_principal(), transfer_id, data, utcnow()
        )
    return jsonify(_permission(answered))


@api.get("/transfers/<transfer_id>/forward-permissions")
@requires(roles=[COORDINATOR, CHAIR, AUDITOR], scopes=[TRANSFERS_READ])
def list_forward_permissions(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    with node().sessions() as db:
        found = forward_permission.permissions(db, current_principal(), transfer_id)
    return jsonify(items=[_permission(view) for view in found])


@api.post("/transfers/<transfer_id>/forward")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
def forward_transfer(transfer_id: str) -> tuple[Response, int, dict[str, str]]:
    canonical_id(transfer_id)
    try:
        body = load_forward_body(json_object())
    except ValidationError as exc:
        raise Invalid("The forward is not valid.", errors=field_errors(exc.messages)) from exc
    current = node()
    with current.sessions() as db:
        sent = forwarding.forward(
            db, current.master, current_principal(), transfer_id, body.to_area, utcnow()
        )
    location = url_for("api.get_transfer", transfer_id=sent.id)
    return jsonify(transfer_item(sent)), 201, {"Location": location}


@api.post("/transfers/<transfer_id>/repeat-incidents")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
def report_repeat_incident(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    data = json_object()
    current = node()
    with current.sessions() as db:
        reported = repeat_incidents.report(
            db, current.master, current_principal(), transfer_id, data, utcnow()
        )
    return jsonify(transfer_item(reported))


@api.post("/transfers/<transfer_id>/access")
@requires(roles=[COORDINATOR])
def name_transfer_users(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    try:
        body = load_named_users(json_object())
    except ValidationError as exc:
        raise Invalid("The list is not valid.", errors=field_errors(exc.messages)) from exc
    with node().sessions() as db:
        named = restriction.name_users(db, current_principal(), transfer_id, body.users, utcnow())
    return jsonify(_naming(named))


@api.get("/transfers/<transfer_id>/access")
@requires(roles=[COORDINATOR, CHAIR, AUDITOR], scopes=[TRANSFERS_READ])
def get_transfer_access(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    with node().sessions() as db:
        found = restriction.view(db, current_principal(), transfer_id)
    return jsonify(_naming(found))

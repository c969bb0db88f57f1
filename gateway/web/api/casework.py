"""`/api/v1/transfers/<id>/...` casework after a transfer:
withdrawal, forwarding with the originating area's permission, repeat-incident notices,
and who may open a restricted case. Thin handlers over the domain services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flask import Response, jsonify, url_for
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from gateway.domain.casework import (
    forward_permission,
    forwarding,
    idva_referrals,
    repeat_incidents,
    withdrawal,
)
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import (
    AUDITOR,
    CHAIR,
    COORDINATOR,
    TRANSFERS_READ,
    TRANSFERS_WRITE,
    Principal,
)
from gateway.domain.transfers import restriction
from gateway.errors import Invalid, field_errors
from gateway.web import node
from gateway.web.api.common import api, canonical_id, json_object, transfer_item
from gateway.web.api.declarations import documented
from gateway.web.guard import current_principal, requires
from keys import MasterKey
from schemas.api.restricted_access import (
    NamedUsersSchema,
    NamedUsersViewSchema,
    RestrictionSchema,
    load_named_users,
    load_restriction,
)
from schemas.api.transfers import TransferItemSchema
from schemas.wire.forward_permission import (
    ForwardBodySchema,
    ForwardDecisionBodySchema,
    ForwardRequestBodySchema,
    PermissionListSchema,
    PermissionViewSchema,
)
from schemas.wire.idva_referral import IdvaReferralBodySchema
from schemas.wire.repeat_incident import RepeatIncidentBodySchema
from schemas.wire.withdrawal import WithdrawalBodySchema

# What every casework step may answer besides its success.
STEP_PROBLEMS = (400, 401, 403, 404, 409, 410, 422)
T = TypeVar("T")


# A casework step: one domain call on a transfer with the posted body and the master key.
Step = Callable[[Session, MasterKey, Principal, str, dict[str, Any], datetime], T]


def _step(step: Step[T], transfer_id: str) -> T:
    """Run one casework step: the id checked, the posted JSON object passed on as it came."""
    canonical_id(transfer_id)
    data = json_object()
    current = node()
    with current.sessions() as db:
        return step(db, current.master, current_principal(), transfer_id, data, utcnow())


def _permission(view: forward_permission.PermissionView) -> dict[str, Any]:
    dumped: dict[str, Any] = PermissionViewSchema().dump(view)
    return dumped


def _naming(found: restriction.Naming) -> dict[str, Any]:
    dumped: dict[str, Any] = NamedUsersViewSchema().dump(found)
    return dumped


@api.post("/transfers/<transfer_id>/withdrawal")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
@documented(
    "withdrawTransfer",
    "The sending area takes a transfer back, with a reason; the receiving area is told if "
    "the transfer may have reached it.",
    ok=(200, "Withdrawn"),
    answer=TransferItemSchema,
    problems=STEP_PROBLEMS,
    body=WithdrawalBodySchema,
)
def withdraw_transfer(transfer_id: str) -> Response:
    withdrawn = _step(withdrawal.withdraw, transfer_id)
    return jsonify(transfer_item(withdrawn))


@api.post("/transfers/<transfer_id>/forward-permission-requests")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
@documented(
    "requestForwardPermission",
    "The receiving area asks the originating area for permission to forward the case to a "
    "third area.",
    ok=(201, "Asked; the request is queued"),
    answer=PermissionViewSchema,
    problems=STEP_PROBLEMS,
    body=ForwardRequestBodySchema,
)
def request_forward_permission(transfer_id: str) -> tuple[Response, int]:
    asked = _step(forwarding.request_permission, transfer_id)
    return jsonify(_permission(asked)), 201


@api.post("/transfers/<transfer_id>/forward-permission")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
@documented(
    "decideForwardPermission",
    "The originating area grants or refuses a request to forward its case.",
    ok=(200, "Answered; the answer is queued"),
    answer=PermissionViewSchema,
    problems=STEP_PROBLEMS,
    body=ForwardDecisionBodySchema,
)
def decide_forward_permission(transfer_id: str) -> Response:
    answered = _step(forwarding.decide, transfer_id)
    return jsonify(_permission(answered))


@api.get("/transfers/<transfer_id>/forward-permissions")
@requires(roles=[COORDINATOR, CHAIR, AUDITOR], scopes=[TRANSFERS_READ])
@documented(
    "listForwardPermissions",
    "Requests to forward this transfer and their answers; metadata only.",
    ok=(200, "The requests"),
    answer=PermissionListSchema,
    problems=(401, 403, 404),
)
def list_forward_permissions(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    with node().sessions() as db:
        found = forward_permission.permissions(db, current_principal(), transfer_id)
    return jsonify(items=[_permission(view) for view in found])


@api.post("/transfers/<transfer_id>/forward")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
@documented(
    "forwardTransfer",
    "The receiving area forwards the case to a third area, with a recorded grant for "
    "exactly that area; a new outbound transfer.",
    ok=(201, "The forwarded transfer, queued"),
    answer=TransferItemSchema,
    problems=STEP_PROBLEMS,
    body=ForwardBodySchema,
)
def forward_transfer(transfer_id: str) -> tuple[Response, int, dict[str, str]]:
    sent = _step(forwarding.forward, transfer_id)
    location = url_for("api.get_transfer", transfer_id=sent.id)
    return jsonify(transfer_item(sent)), 201, {"Location": location}


@api.post("/transfers/<transfer_id>/idva-referral")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
@documented(
    "reportIdvaReferral",
    "The receiving area tells the sending area, after accepting the case, that the victim "
    "was referred to its IDVA service (the `idva_referral` reply, docs/contract.md). A "
    "sending area whose gateway does not list `idva_referral` is never sent it (409).",
    ok=(200, "The report is queued"),
    answer=TransferItemSchema,
    problems=STEP_PROBLEMS,
    body=IdvaReferralBodySchema,
)
def report_idva_referral(transfer_id: str) -> Response:
    reported = _step(idva_referrals.report, transfer_id)
    return jsonify(transfer_item(reported))


@api.post("/transfers/<transfer_id>/repeat-incidents")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
@documented(
    "reportRepeatIncident",
    "Either area of a transfer tells the other of an incident within 12 months of the "
    "last MARAC referral, while the receiving area holds the case.",
    ok=(200, "The notice is queued"),
    answer=TransferItemSchema,
    problems=STEP_PROBLEMS,
    body=RepeatIncidentBodySchema,
)
def report_repeat_incident(transfer_id: str) -> Response:
    reported = _step(repeat_incidents.report, transfer_id)
    return jsonify(transfer_item(reported))


@api.post("/transfers/<transfer_id>/access")
@requires(roles=[COORDINATOR, CHAIR])
@documented(
    "nameTransferUsers",
    "The area's chair names who may open a restricted case (the list replaces the "
    "previous one); a coordinator is refused (403 chair-decides, seed 001 4.5.3).",
    ok=(200, "Who is named (user ids)"),
    answer=NamedUsersViewSchema,
    problems=STEP_PROBLEMS,
    body=NamedUsersSchema,
)
def name_transfer_users(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    try:
        body = load_named_users(json_object())
    except ValidationError as exc:
        raise Invalid("The list is not valid.", errors=field_errors(exc.messages)) from exc
    with node().sessions() as db:
        named = restriction.name_users(db, current_principal(), transfer_id, body.users, utcnow())
    return jsonify(_naming(named))


@api.post("/transfers/<transfer_id>/restriction")
@requires(roles=[CHAIR])
@documented(
    "restrictTransfer",
    "A chair of the transfer's area restricts this node's copy: a received case after "
    "arrival, or the sending area's own copy. Only named users open it from then on.",
    ok=(200, "Restricted, and who is named (user ids)"),
    answer=NamedUsersViewSchema,
    problems=(400, 401, 403, 404, 422),
    body=RestrictionSchema,
)
def restrict_transfer(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    try:
        body = load_restriction(json_object())
    except ValidationError as exc:
        raise Invalid("The restriction is not valid.", errors=field_errors(exc.messages)) from exc
    with node().sessions() as db:
        found = restriction.restrict(db, current_principal(), transfer_id, body.reason, utcnow())
    return jsonify(_naming(found))


@api.get("/transfers/<transfer_id>/access")
@requires(roles=[COORDINATOR, CHAIR, AUDITOR], scopes=[TRANSFERS_READ])
@documented(
    "getTransferAccess",
    "Whether the transfer is restricted and who is named (user ids).",
    ok=(200, "Who is named"),
    answer=NamedUsersViewSchema,
    problems=(401, 403, 404),
)
def get_transfer_access(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    with node().sessions() as db:
        found = restriction.view(db, current_principal(), transfer_id)
    return jsonify(_naming(found))

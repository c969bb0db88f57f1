"""`GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the application API, built with
apispec from the `@documented(...)` on each view of the `api` blueprint (declarations.py)
and the marshmallow schemas the views load and dump. What operations share is said once,
here: problem responses by status, the security schemes (an operation's requirement follows
from its route's `@requires`, gateway/web/guard.py) and path parameters (read off the
route). Built once per app and cached."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin, resolver
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Flask, Response, current_app, jsonify
from marshmallow import Schema
from werkzeug.routing import Rule

from gateway.web.api.common import api
from gateway.web.api.declarations import DECLARATION, JSON, Body, Operation, Security, documented
from gateway.web.guard import ACCESS_ATTRIBUTE, PUBLIC_ENDPOINTS, SAFE_METHODS
from schemas.api import documents, pages
from schemas.wire import (
    acknowledgement,
    flags,
    forward_permission,
    idva_referral,
    payload_versions,
    repeat_incident,
    transfer_request,
    withdrawal,
)

PROBLEM = "application/problem+json"
ROUTE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

PROBLEMS = {
    400: "Malformed request",
    401: "Not authenticated (no, or an invalid, token or session)",
    403: "Authenticated but not allowed (or the CSRF token is missing or wrong)",
    404: "No such resource for this caller",
    409: "Conflict",
    410: "Gone: withdrawn by its sender before it was opened",
    413: "Too large",
    415: "Unsupported media type",
    422: "Validation failed; `errors` names the fields",
    429: "Too many requests",
    503: "A remote role (linkage authority, flag index) is unavailable; nothing changed",
}
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "cookie": {"type": "apiKey", "in": "cookie", "name": "__Host-gw-session"},
    "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
    "basic": {"type": "http", "scheme": "basic"},
}
# Published under a name other than their class's; kept so generated clients don't change.
NAMES: dict[type[Schema], str] = {
    acknowledgement.AcknowledgementBodySchema: "Acknowledgement",
    documents.UploadFormSchema: "DocumentUpload",
    withdrawal.WithdrawalBodySchema: "Withdrawal",
    forward_permission.ForwardRequestBodySchema: "ForwardPermissionRequest",
    forward_permission.ForwardDecisionBodySchema: "ForwardPermissionDecision",
    forward_permission.PermissionViewSchema: "ForwardPermission",
    forward_permission.PermissionListSchema: "ForwardPermissionList",
    forward_permission.ForwardBodySchema: "Forward",
    repeat_incident.RepeatIncidentBodySchema: "RepeatIncident",
    idva_referral.IdvaReferralBodySchema: "IdvaReferral",
    flags.ReviewSchema: "FlagReview",
    flags.PersonSchema: "LookupPerson",
    flags.VerificationBodySchema: "VerificationRequest",
    transfer_request.TransferRequestSchema: "TransferRequest",
    transfer_request.TransferRequestV2Schema: "TransferRequestV2",
    documents.PostedMinutesSchema: "MinutesV2",
}


def _name(schema: Any) -> str:
    cls = resolve_schema_cls(schema)
    found: str = (NAMES.get(cls) if isinstance(cls, type) else None) or resolver(schema)
    return found


def _content(body: Body) -> dict[str, Any]:
    media = {JSON: body} if isinstance(body, type) else body
    return {kind: {"schema": schema} for kind, schema in media.items()}


def _security(declared: Operation, endpoint: str, method: str, view: Any) -> Security:
    if declared.security is not None:
        return declared.security
    if endpoint in PUBLIC_ENDPOINTS:
        return [{}]
    access = getattr(view, ACCESS_ATTRIBUTE)
    # Clients present scopes with a bearer token; users hold roles in a session, which
    # needs the CSRF token to change anything.
    found: Security = [{"bearer": []}] if access.scopes else []
    if access.roles:
        found.append({"cookie": []} if method in SAFE_METHODS else {"cookie": [], "csrf": []})
    return found


def _operation(declared: Operation, rule: Rule, method: str, view: Any) -> dict[str, Any]:
    # Every `<..._id>` of our routes is a canonical UUID (common.canonical_id).
    parameters: list[dict[str, Any]] = [
        {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
        | ({"schema": {"type": "string", "format": "uuid"}} if name.endswith("_id") else {})
        for name in ROUTE_ARGUMENT.findall(rule.rule)
    ]
    query = declared.query
    if query is not None:
        parameters.append({"in": "query", "schema": query} if isinstance(query, type) else query)
    operation: dict[str, Any] = {
        "operationId": declared.operation_id,
        "summary": declared.summary,
        "security": _security(declared, str(rule.endpoint), method, view),
    }
    if parameters:
        operation["parameters"] = parameters
    if declared.body is not None:
        operation["requestBody"] = {"required": True, "content": _content(declared.body)}
    status, description = declared.ok
    success: dict[str, Any] = {"description": description}
    if declared.answer is not None:
        success["content"] = _content(declared.answer)
    problem = {PROBLEM: {"schema": pages.ProblemSchema}}
    operation["responses"] = {str(status): success} | {
        str(code): {"description": PROBLEMS[code], "content": problem} for code in declared.problems
    }
    return operation


def build_spec(app: Flask) -> dict[str, Any]:
    """The document of every route on the `api` blueprint that declares its operation."""
    spec = APISpec(
        title="MARAC Exchange Gateway API",
        version="1",
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin(schema_name_resolver=_name)],
        info={
            "description": "Application API of one gateway node. Lists carry metadata "
            "only; content is returned to coordinators and chairs of the transfer's own "
            "area and to clients of that area with transfers:read. Wire payload versions "
            "this release sends and accepts are listed in x-payload-versions "
            "(docs/contract.md describes each; a peer is sent the newest it accepts).",
            "x-payload-versions": {
                kind: list(versions.all) for kind, versions in payload_versions.REGISTRY.items()
            },
        },
    )
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        declared = getattr(view, DECLARATION, None)
        if not rule.endpoint.startswith(api.name + ".") or declared is None:
            continue
        path = ROUTE_ARGUMENT.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            # apispec merges the operations that several views declare on one path.
            spec.path(path, operations={method.lower(): _operation(declared, rule, method, view)})
    return spec.to_dict()


@api.get("/openapi.json")
@documented("openapi", "This document.", ok=(200, "The OpenAPI 3.1 document"))
def openapi() -> Response:
    cached = current_app.extensions.get("gateway.openapi")
    if cached is None:
        cached = current_app.extensions["gateway.openapi"] = build_spec(current_app)
    return jsonify(cached)

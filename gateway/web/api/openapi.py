"""`GET /api/v1/openapi.json`: the OpenAPI 3.1 document, generated with apispec from the
same marshmallow schemas the handlers load and dump (schemas/api.py,
schemas/transfer_request.py). Built once per app and cached."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Response, current_app, jsonify

from gateway.web.api import api
from schemas.acknowledgement import AcknowledgementBodySchema
from schemas.api import (
    ProblemSchema,
    TokenRequestSchema,
    TokenResponseSchema,
    TransferDetailSchema,
    TransferItemSchema,
    TransferPageSchema,
    TransferQuerySchema,
)
from schemas.audit_api import (
    AreaQuerySchema,
    AuditPageSchema,
    AuditQuerySchema,
    DisclosureReportSchema,
    ReportQuerySchema,
    SubjectAccessSchema,
    SubjectRequestSchema,
    VerifyReportSchema,
)
from schemas.transfer_request import TransferRequestSchema

PROBLEM = "application/problem+json"
READ_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"cookie": []}]
WRITE_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"cookie": [], "csrf": []}]


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": "Problem"}}}


def _problems(*statuses: int) -> dict[str, Any]:
    texts = {
        400: "Malformed request",
        401: "Not authenticated (no, or an invalid, token or session)",
        403: "Authenticated but not allowed (or the CSRF token is missing or wrong)",
        404: "No such resource for this caller",
        409: "Conflict",
        415: "Unsupported media type",
        422: "Validation failed; `errors` names the fields",
        429: "Too many requests",
    }
    return {str(status): _problem(texts[status]) for status in statuses}


def build_spec() -> dict[str, Any]:
    spec = APISpec(
        title="MARAC Exchange Gateway API",
        version="1",
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Application API of one gateway node. Lists carry metadata "
            "only; content is returned to coordinators and chairs of the transfer's own "
            "area and to clients of that area with transfers:read."
        },
    )
    spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    spec.components.security_scheme(
        "cookie", {"type": "apiKey", "in": "cookie", "name": "__Host-gw-session"}
    )
    spec.components.security_scheme(
        "csrf", {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"}
    )
    spec.components.security_scheme("basic", {"type": "http", "scheme": "basic"})
    for name, schema in (
        ("Problem", ProblemSchema),
        ("TransferRequest", TransferRequestSchema),
        ("TransferItem", TransferItemSchema),
        ("TransferPage", TransferPageSchema),
        ("TransferDetail", TransferDetailSchema),
        ("TokenRequest", TokenRequestSchema),
        ("TokenResponse", TokenResponseSchema),
    ):
        spec.components.schema(name, schema=schema)
    spec.path(
        path="/api/v1/transfers",
        operations={
            "post": {
                "operationId": "createTransfer",
                "summary": "Validate, seal and queue a transfer from the caller's area.",
                "security": WRITE_SECURITY,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "TransferRequest"}},
                },
                "responses": {
                    "201": {
                        "description": "Queued (or awaiting a chair's approval)",
                        "content": {"application/json": {"schema": "TransferItem"}},
                    },
                    **_problems(400, 401, 403, 404, 422),
                },
            },
            "get": {
                "operationId": "listTransfers",
                "summary": "Transfers of one area, newest first; metadata only.",
                "security": READ_SECURITY,
                "parameters": [{"in": "query", "schema": TransferQuerySchema}],
                "responses": {
                    "200": {
                        "description": "One page",
                        "content": {"application/json": {"schema": "TransferPage"}},
                    },
                    **_problems(401, 403, 404, 422),
                },
            },
        },
    )
    spec.path(
        path="/api/v1/transfers/{transfer_id}",
        operations={
            "get": {
                "operationId": "getTransfer",
                "summary": "One transfer with its decrypted content.",
                "security": READ_SECURITY,
                "parameters": [
                    {
                        "in": "path",
                        "name": "transfer_id",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "Metadata and content",
                        "content": {"application/json": {"schema": "TransferDetail"}},
                    },
                    **_problems(401, 403, 404),
                },
            },
        },
    )
    _workflow_paths(spec)
    spec.path(
        path="/api/v1/oauth/token",
        operations={
            "post": {
                "operationId": "issueToken",
                "summary": "Client credentials grant: a short-lived bearer token.",
                "security": [{"basic": []}, {}],
                "requestBody": {
                    "required": True,
                    "content": {"application/x-www-form-urlencoded": {"schema": "TokenRequest"}},
                },
                "responses": {
                    "200": {
                        "description": "An access token",
                        "content": {"application/json": {"schema": "TokenResponse"}},
                    },
                    **_problems(400, 401),
                },
            },
        },
    )
    _audit_paths(spec)
    spec.path(
        path="/api/v1/openapi.json",
        operations={
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "security": [{}],
                "responses": {"200": {"description": "The OpenAPI 3.1 document"}},
            }
        },
    )
    document: dict[str, Any] = spec.to_dict()
    return document


TRANSFER_ID = {
    "in": "path",
    "name": "transfer_id",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


def _workflow_paths(spec: APISpec) -> None:
    """Steps of the conversation after the first envelope (workflow issue)."""
    spec.components.schema("Acknowledgement", schema=AcknowledgementBodySchema)
    spec.path(
        path="/api/v1/transfers/{transfer_id}/approve",
        operations={
            "post": {
                "operationId": "approveTransfer",
                "summary": "A chair of the sending area releases a transfer held for "
                "approval (never the person who created it).",
                "security": WRITE_SECURITY,
                "parameters": [TRANSFER_ID],
                "responses": {
                    "200": {
                        "description": "Queued for delivery",
                        "content": {"application/json": {"schema": "TransferItem"}},
                    },
                    **_problems(401, 403, 404, 409),
                },
            }
        },
    )
    spec.path(
        path="/api/v1/transfers/{transfer_id}/acknowledgement",
        operations={
            "post": {
                "operationId": "acknowledgeTransfer",
                "summary": "A coordinator of the receiving area accepts (and lists) or "
                "redirects an inbound transfer; the answer travels back to the sender.",
                "security": WRITE_SECURITY,
                "parameters": [TRANSFER_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "Acknowledgement"}},
                },
                "responses": {
                    "200": {
                        "description": "Acknowledged or redirected; the answer is queued",
                        "content": {"application/json": {"schema": "TransferItem"}},
                    },
                    **_problems(400, 401, 403, 404, 409, 422),
                },
            }
        },
    )


def _get(operation_id: str, summary: str, query: Any, schema: str) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "security": READ_SECURITY,
            "parameters": [{"in": "query", "schema": query}],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": schema}},
                },
                **_problems(401, 403, 404, 422),
            },
        }
    }


def _audit_paths(spec: APISpec) -> None:
    """Auditors (and clients with audit:read) of the area; content-free answers."""
    for name, schema in (
        ("AuditPage", AuditPageSchema),
        ("VerifyReport", VerifyReportSchema),
        ("DisclosureReport", DisclosureReportSchema),
        ("SubjectRequest", SubjectRequestSchema),
        ("SubjectAccess", SubjectAccessSchema),
    ):
        spec.components.schema(name, schema=schema)
    spec.path(
        path="/api/v1/audit",
        operations=_get(
            "listAudit", "The area's audit events, oldest first.", AuditQuerySchema, "AuditPage"
        ),
    )
    spec.path(
        path="/api/v1/audit/verify",
        operations=_get(
            "verifyAudit",
            "Recompute the area's Merkle log and check every checkpoint.",
            AreaQuerySchema,
            "VerifyReport",
        ),
    )
    spec.path(
        path="/api/v1/reports/disclosures",
        operations=_get(
            "disclosureReport",
            "Disclosures by period, peer area, legal basis and consent; delivery times.",
            ReportQuerySchema,
            "DisclosureReport",
        ),
    )
    spec.path(
        path="/api/v1/audit/subject-access",
        operations={
            "post": {
                "operationId": "subjectAccess",
                "summary": "Every disclosure concerning a person (subject access, court "
                "orders); the search is audited with its match count only.",
                "security": WRITE_SECURITY,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "SubjectRequest"}},
                },
                "responses": {
                    "200": {
                        "description": "The disclosures found",
                        "content": {"application/json": {"schema": "SubjectAccess"}},
                    },
                    **_problems(400, 401, 403, 404, 422),
                },
            }
        },
    )


@api.get("/openapi.json")
def openapi() -> Response:
    cached = current_app.extensions.get("gateway.openapi")
    if cached is None:
        cached = current_app.extensions["gateway.openapi"] = build_spec()
    return jsonify(cached)

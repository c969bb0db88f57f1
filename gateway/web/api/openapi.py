"""`GET /api/v1/openapi.json`: the OpenAPI 3.1 document, generated with apispec from the
same marshmallow schemas the handlers load and dump (schemas/api.py,
schemas/transfer_request.py). Built once per app and cached."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Response, current_app, jsonify

from gateway.web.api.common import api
from schemas.api.areas import (
    AreaSettingsSchema,
    MeetingDatesSchema,
    MeetingsViewSchema,
    SettingsViewSchema,
)
from schemas.api.audit import (
    AreaQuerySchema,
    AuditPageSchema,
    AuditQuerySchema,
    DisclosureReportSchema,
    ReportQuerySchema,
    SubjectAccessSchema,
    SubjectRequestSchema,
    VerifyReportSchema,
)
from schemas.api.documents import (
    DocumentItemSchema,
    DocumentListSchema,
    InformationRequestItemSchema,
    InformationRequestListSchema,
    MinutesUploadSchema,
    UploadFormSchema,
)
from schemas.api.messages import MessageDetailSchema, MessageItemSchema, MessageListSchema
from schemas.api.oauth import TokenRequestSchema, TokenResponseSchema
from schemas.api.pages import ProblemSchema
from schemas.api.restricted_access import NamedUsersSchema, NamedUsersViewSchema
from schemas.api.transfers import (
    CreateQuerySchema,
    TimelineSchema,
    TransferDetailSchema,
    TransferItemSchema,
    TransferPageSchema,
    TransferQuerySchema,
)
from schemas.wire.acknowledgement import AcknowledgementBodySchema
from schemas.wire.flags import (
    FlagItemSchema,
    FlagPageSchema,
    FlagQuerySchema,
    LookupAnswerSchema,
    NewFlagSchema,
    PersonSchema,
    ReviewSchema,
    VerificationBodySchema,
    VerificationPageSchema,
)
from schemas.wire.forward_permission import (
    ForwardBodySchema,
    ForwardDecisionBodySchema,
    ForwardRequestBodySchema,
    PermissionListSchema,
    PermissionViewSchema,
)
from schemas.wire.information_request import InformationRequestBodySchema
from schemas.wire.repeat_incident import RepeatIncidentBodySchema
from schemas.wire.transfer_request import TransferRequestSchema
from schemas.wire.withdrawal import WithdrawalBodySchema

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
        413: "Too large",
        410: "Gone: withdrawn by its sender before it was opened",
        415: "Unsupported media type",
        422: "Validation failed; `errors` names the fields",
        429: "Too many requests",
        503: "A remote role (linkage authority, flag index) is unavailable; nothing changed",
    }
    return {str(status): _problem(texts[status]) for status in statuses}


JSON = "application/json"
TRANSFER_ID = {
    "in": "path",
    "name": "transfer_id",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


def _operation(
    operation_id: str,
    summary: str,
    security: list[dict[str, list[str]]],
    ok: tuple[str, str, str | None],
    problems: tuple[int, ...],
    *,
    parameters: list[dict[str, Any]] | None = None,
    body: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """One operation: `ok` is (status, description, response schema or None), `body` is
    (media type, request schema)."""
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "security": security,
    }
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = {"required": True, "content": {body[0]: {"schema": body[1]}}}
    status, description, schema = ok
    success: dict[str, Any] = {"description": description}
    if schema:
        success["content"] = {JSON: {"schema": schema}}
    operation["responses"] = {status: success, **_problems(*problems)}
    return operation


def _query(schema: Any) -> list[dict[str, Any]]:
    return [{"in": "query", "schema": schema}]


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
    _transfer_paths(spec)
    _workflow_paths(spec)
    _document_paths(spec)
    _casework_paths(spec)
    _draft_and_schedule_paths(spec)
    _flag_paths(spec)
    _verification_paths(spec)
    _message_paths(spec)
    spec.path(
        path="/api/v1/oauth/token",
        operations={
            "post": _operation(
                "issueToken",
                "Client credentials grant: a short-lived bearer token.",
                [{"basic": []}, {}],
                ("200", "An access token", "TokenResponse"),
                (400, 401),
                body=("application/x-www-form-urlencoded", "TokenRequest"),
            )
        },
    )
    _audit_paths(spec)
    spec.path(
        path="/api/v1/openapi.json",
        operations={
            "get": _operation(
                "openapi", "This document.", [{}], ("200", "The OpenAPI 3.1 document", None), ()
            )
        },
    )
    document: dict[str, Any] = spec.to_dict()
    return document


def _transfer_paths(spec: APISpec) -> None:
    spec.path(
        path="/api/v1/transfers",
        operations={
            "post": _operation(
                "createTransfer",
                "Validate, seal and queue a transfer from the caller's area (with "
                "draft=true: save it as a draft sealed to the area's own key, not sent).",
                WRITE_SECURITY,
                ("201", "Queued, awaiting a chair's approval, or a draft", "TransferItem"),
                (400, 401, 403, 404, 422),
                parameters=_query(CreateQuerySchema),
                body=(JSON, "TransferRequest"),
            ),
            "get": _operation(
                "listTransfers",
                "Transfers of one area, newest first; metadata only.",
                READ_SECURITY,
                ("200", "One page", "TransferPage"),
                (401, 403, 404, 422),
                parameters=_query(TransferQuerySchema),
            ),
        },
    )
    spec.path(
        path="/api/v1/transfers/{transfer_id}",
        operations={
            "get": _operation(
                "getTransfer",
                "One transfer with its decrypted content.",
                READ_SECURITY,
                ("200", "Metadata and content", "TransferDetail"),
                (401, 403, 404, 410),
                parameters=[TRANSFER_ID],
            )
        },
    )


def _workflow_paths(spec: APISpec) -> None:
    """Steps of the conversation after the first envelope (workflow issue)."""
    spec.components.schema("Acknowledgement", schema=AcknowledgementBodySchema)
    spec.components.schema("Timeline", schema=TimelineSchema)
    spec.path(
        path="/api/v1/transfers/{transfer_id}/timeline",
        operations={
            "get": _operation(
                "getTimeline",
                "Every step of one transfer as this area saw it; metadata only.",
                READ_SECURITY,
                ("200", "Metadata and the timeline", "Timeline"),
                (401, 403, 404),
                parameters=[TRANSFER_ID],
            )
        },
    )
    spec.path(
        path="/api/v1/transfers/{transfer_id}/approve",
        operations={
            "post": _operation(
                "approveTransfer",
                "A chair of the sending area releases a transfer held for "
                "approval (never the person who created it).",
                WRITE_SECURITY,
                ("200", "Queued for delivery", "TransferItem"),
                (401, 403, 404, 409),
                parameters=[TRANSFER_ID],
            )
        },
    )
    spec.path(
        path="/api/v1/transfers/{transfer_id}/acknowledgement",
        operations={
            "post": _operation(
                "acknowledgeTransfer",
                "A coordinator of the receiving area accepts (and lists) or "
                "redirects an inbound transfer; the answer travels back to the sender.",
                WRITE_SECURITY,
                ("200", "Acknowledged or redirected; the answer is queued", "TransferItem"),
                (400, 401, 403, 404, 409, 422),
                parameters=[TRANSFER_ID],
                body=(JSON, "Acknowledgement"),
            )
        },
    )


DOCUMENT_ID = {
    "in": "path",
    "name": "document_id",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


def _document_paths(spec: APISpec) -> None:
    """Documents and information requests in reply to a transfer (workflow issue parts 3
    and 5). Either side of a transfer sends documents once it has reached the other area;
    the receiving area asks for information; open requests are listed with their state."""
    for name, schema in (
        ("DocumentItem", DocumentItemSchema),
        ("DocumentList", DocumentListSchema),
        ("DocumentUpload", UploadFormSchema),
        ("MinutesUpload", MinutesUploadSchema),
        ("InformationRequestBody", InformationRequestBodySchema),
        ("InformationRequestItem", InformationRequestItemSchema),
        ("InformationRequestList", InformationRequestListSchema),
    ):
        spec.components.schema(name, schema=schema)
    upload = _operation(
        "sendDocument",
        "Send a document about the transfer to the other area: a file (PDF, DOCX, ODT, "
        "RTF, UTF-8 text, PNG or JPEG, judged by its content; its filename is ignored) or "
        "structured minutes as JSON. Sealed, signed with its SHA-256 and size, and queued.",
        WRITE_SECURITY,
        ("201", "Sealed and queued", "DocumentItem"),
        (400, 401, 403, 404, 409, 413, 415, 422),
        parameters=[TRANSFER_ID],
        body=("multipart/form-data", "DocumentUpload"),
    )
    upload["requestBody"]["content"][JSON] = {"schema": "MinutesUpload"}
    spec.path(
        path="/api/v1/transfers/{transfer_id}/documents",
        operations={
            "post": upload,
            "get": _operation(
                "listDocuments",
                "The transfer's documents, both directions, oldest first; metadata only.",
                READ_SECURITY,
                ("200", "Metadata of every document", "DocumentList"),
                (401, 403, 404),
                parameters=[TRANSFER_ID],
            ),
        },
    )
    download = _operation(
        "getDocument",
        "One document's bytes, decrypted in memory, checked against its signed SHA-256 "
        "and size, served as an attachment under a generated name; audited.",
        READ_SECURITY,
        ("200", "The document", None),
        (401, 403, 404, 409),
        parameters=[TRANSFER_ID, DOCUMENT_ID],
    )
    download["responses"]["200"]["content"] = {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
    }
    spec.path(
        path="/api/v1/transfers/{transfer_id}/documents/{document_id}",
        operations={"get": download},
    )
    spec.path(
        path="/api/v1/transfers/{transfer_id}/information-requests",
        operations={
            "post": _operation(
                "requestInformation",
                "A coordinator of the receiving area asks the sending area for documents "
                "(minutes, the original referral, ...); the request travels sealed.",
                WRITE_SECURITY,
                ("201", "Sealed and queued", "InformationRequestItem"),
                (400, 401, 403, 404, 409, 422),
                parameters=[TRANSFER_ID],
                body=(JSON, "InformationRequestBody"),
            ),
            "get": _operation(
                "listInformationRequests",
                "Information requests about the transfer, both directions, open or "
                "answered; metadata only.",
                READ_SECURITY,
                ("200", "Every request", "InformationRequestList"),
                (401, 403, 404),
                parameters=[TRANSFER_ID],
            ),
        },
    )


def _casework_paths(spec: APISpec) -> None:
    """Withdrawal, forwarding with the originating area's permission, repeat-incident
    notices and restricted cases (workflow issue, parts 6-9)."""
    for name, schema in (
        ("Withdrawal", WithdrawalBodySchema),
        ("ForwardPermissionRequest", ForwardRequestBodySchema),
        ("ForwardPermissionDecision", ForwardDecisionBodySchema),
        ("ForwardPermission", PermissionViewSchema),
        ("ForwardPermissionList", PermissionListSchema),
        ("Forward", ForwardBodySchema),
        ("RepeatIncident", RepeatIncidentBodySchema),
        ("NamedUsers", NamedUsersSchema),
        ("NamedUsersView", NamedUsersViewSchema),
    ):
        spec.components.schema(name, schema=schema)
    posts = (
        (
            "withdrawal",
            "withdrawTransfer",
            "The sending area takes a transfer back, with a reason; the receiving area is "
            "told if the transfer may have reached it.",
            ("200", "Withdrawn", "TransferItem"),
            "Withdrawal",
        ),
        (
            "forward-permission-requests",
            "requestForwardPermission",
            "The receiving area asks the originating area for permission to forward the "
            "case to a third area.",
            ("201", "Asked; the request is queued", "ForwardPermission"),
            "ForwardPermissionRequest",
        ),
        (
            "forward-permission",
            "decideForwardPermission",
            "The originating area grants or refuses a request to forward its case.",
            ("200", "Answered; the answer is queued", "ForwardPermission"),
            "ForwardPermissionDecision",
        ),
        (
            "forward",
            "forwardTransfer",
            "The receiving area forwards the case to a third area, with a recorded grant "
            "for exactly that area; a new outbound transfer.",
            ("201", "The forwarded transfer, queued", "TransferItem"),
            "Forward",
        ),
        (
            "repeat-incidents",
            "reportRepeatIncident",
            "The originating area tells the area holding the case of an incident within "
            "12 months of the last MARAC referral.",
            ("200", "The notice is queued", "TransferItem"),
            "RepeatIncident",
        ),
        (
            "access",
            "nameTransferUsers",
            "A coordinator of the receiving area names who may open a restricted case "
            "(the list replaces the previous one).",
            ("200", "Who is named (user ids)", "NamedUsersView"),
            "NamedUsers",
        ),
    )
    operations: dict[str, dict[str, Any]] = {}
    for suffix, operation_id, summary, ok, body in posts:
        operations.setdefault(suffix, {})["post"] = _operation(
            operation_id,
            summary,
            WRITE_SECURITY,
            ok,
            (400, 401, 403, 404, 409, 410, 422),
            parameters=[TRANSFER_ID],
            body=(JSON, body),
        )
    operations["access"]["get"] = _operation(
        "getTransferAccess",
        "Whether the transfer is restricted and who is named (user ids).",
        READ_SECURITY,
        ("200", "Who is named", "NamedUsersView"),
        (401, 403, 404),
        parameters=[TRANSFER_ID],
    )
    operations["forward-permissions"] = {
        "get": _operation(
            "listForwardPermissions",
            "Requests to forward this transfer and their answers; metadata only.",
            READ_SECURITY,
            ("200", "The requests", "ForwardPermissionList"),
            (401, 403, 404),
            parameters=[TRANSFER_ID],
        )
    }
    for suffix, path_operations in operations.items():
        spec.path(path=f"/api/v1/transfers/{{transfer_id}}/{suffix}", operations=path_operations)


def _draft_and_schedule_paths(spec: APISpec) -> None:
    """Drafts, and the meeting dates and acknowledgement limit of an area (workflow issue)."""
    spec.path(
        path="/api/v1/transfers/{transfer_id}/send",
        operations={
            "post": _operation(
                "sendDraft",
                "Send a draft: sealed to the recipient and queued, or held for a chair's "
                "approval, exactly as a transfer sent at once.",
                WRITE_SECURITY,
                ("200", "Queued (or awaiting a chair's approval)", "TransferItem"),
                (401, 403, 404, 409, 422),
                parameters=[TRANSFER_ID],
            )
        },
    )
    for name, schema in (
        ("MeetingDates", MeetingDatesSchema),
        ("MeetingsView", MeetingsViewSchema),
        ("AreaSettings", AreaSettingsSchema),
        ("SettingsView", SettingsViewSchema),
    ):
        spec.components.schema(name, schema=schema)
    code = {"in": "path", "name": "code", "required": True, "schema": {"type": "string"}}
    for path, noun, body, answer, what in (
        ("meetings", "Meetings", "MeetingDates", "MeetingsView", "meeting dates"),
        ("settings", "Settings", "AreaSettings", "SettingsView", "acknowledgement limit"),
    ):
        spec.path(
            path=f"/api/v1/areas/{{code}}/{path}",
            operations={
                "get": _operation(
                    f"getArea{noun}",
                    f"The area's {what}; for anyone with a role in the area.",
                    READ_SECURITY,
                    ("200", f"The {what}", answer),
                    (401, 403, 404),
                    parameters=[code],
                ),
                "put": _operation(
                    f"setArea{noun}",
                    f"Set the area's {what}; admins of the area only.",
                    WRITE_SECURITY,
                    ("200", f"The {what} now", answer),
                    (400, 401, 403, 404, 422),
                    parameters=[code],
                    body=(JSON, body),
                ),
            },
        )


FLAG_ID = {**TRANSFER_ID, "name": "flag_id"}
AREA_PARAMETER = {
    "in": "query",
    "name": "area",
    "required": False,
    "schema": {"type": "string"},
    "description": "The area to act in, for a user holding the role in several.",
}


def _flag_paths(spec: APISpec) -> None:
    """Shared flags and lookups (DESIGN section 6)."""
    for name, schema in (
        ("NewFlag", NewFlagSchema),
        ("FlagItem", FlagItemSchema),
        ("FlagPage", FlagPageSchema),
        ("FlagReview", ReviewSchema),
        ("LookupPerson", PersonSchema),
        ("LookupAnswer", LookupAnswerSchema),
        ("VerificationRequest", VerificationBodySchema),
        ("VerificationPage", VerificationPageSchema),
    ):
        spec.components.schema(name, schema=schema)
    spec.path(
        path="/api/v1/flags",
        operations={
            "post": _operation(
                "setFlag",
                "Flag a case for 12 calendar months after its review; subjects are sealed "
                "and their linkage tokens published as the area's policy allows.",
                WRITE_SECURITY,
                ("201", "The flag (metadata)", "FlagItem"),
                (400, 401, 403, 409, 422, 503),
                parameters=[AREA_PARAMETER],
                body=(JSON, "NewFlag"),
            ),
            "get": _operation(
                "listFlags",
                "This area's flags: metadata, where each case now sits.",
                READ_SECURITY,
                ("200", "Flags", "FlagPage"),
                (401, 403, 422),
                parameters=_query(FlagQuerySchema),
            ),
        },
    )
    spec.path(
        path="/api/v1/flags/{flag_id}/reviews",
        operations={
            "post": _operation(
                "reviewFlag",
                "A review extends the flag to 12 calendar months after it, or clears it.",
                WRITE_SECURITY,
                ("200", "The flag (metadata)", "FlagItem"),
                (400, 401, 403, 404, 409, 422, 503),
                parameters=[FLAG_ID],
                body=(JSON, "FlagReview"),
            )
        },
    )
    spec.path(
        path="/api/v1/flags/lookups",
        operations={
            "post": _operation(
                "lookupPerson",
                "Is this person flagged here or elsewhere? Rate-limited; audited with "
                "match counts only.",
                WRITE_SECURITY,
                ("200", "Local, remote and possible matches", "LookupAnswer"),
                (400, 401, 403, 422, 429, 503),
                parameters=[AREA_PARAMETER],
                body=(JSON, "LookupPerson"),
            )
        },
    )


def _verification_paths(spec: APISpec) -> None:
    spec.path(
        path="/api/v1/flags/verifications",
        operations={
            "post": _operation(
                "requestVerification",
                "Ask the area holding a possible match, through the flag index and sealed "
                "to that flag, whether it is this person; the holder answers by envelope.",
                WRITE_SECURITY,
                ("202", "Relayed to the holding area", None),
                (400, 401, 403, 404, 422, 429, 503),
                parameters=[AREA_PARAMETER],
                body=(JSON, "VerificationRequest"),
            ),
            "get": _operation(
                "listVerifications",
                "Verification requests other areas sent about this area's flags.",
                READ_SECURITY,
                ("200", "Requests, opened for this area's coordinators", "VerificationPage"),
                (401, 403, 422),
                parameters=[AREA_PARAMETER],
            ),
        },
    )


ENVELOPE_ID = {
    "in": "path",
    "name": "envelope_id",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


def _message_paths(spec: APISpec) -> None:
    """The replies of a transfer's thread: listed (metadata), opened one at a time
    (content, audited), and a reply the outbox gave up on queued again."""
    for name, schema in (
        ("MessageItem", MessageItemSchema),
        ("MessageList", MessageListSchema),
        ("MessageDetail", MessageDetailSchema),
    ):
        spec.components.schema(name, schema=schema)
    spec.path(
        path="/api/v1/transfers/{transfer_id}/messages",
        operations={
            "get": _operation(
                "listMessages",
                "Every envelope in reply to the transfer as this area holds it (both "
                "directions, documents included), oldest first; metadata only.",
                READ_SECURITY,
                ("200", "Metadata of every reply", "MessageList"),
                (401, 403, 404),
                parameters=[TRANSFER_ID],
            )
        },
    )
    spec.path(
        path="/api/v1/transfers/{transfer_id}/messages/{envelope_id}",
        operations={
            "get": _operation(
                "getMessage",
                "One reply's payload (acknowledgement, information request, withdrawal, "
                "forward permission, repeat incident, flag notice), decrypted in memory; "
                "audited. Documents open through their own download.",
                READ_SECURITY,
                ("200", "The reply and its content", "MessageDetail"),
                (401, 403, 404, 410),
                parameters=[TRANSFER_ID, ENVELOPE_ID],
            )
        },
    )
    spec.path(
        path="/api/v1/transfers/{transfer_id}/messages/{envelope_id}/resend",
        operations={
            "post": _operation(
                "resendMessage",
                "Queue again a reply whose delivery failed: the same sealed envelope under "
                "the same id (the receiver keeps one copy); audited.",
                WRITE_SECURITY,
                ("202", "Queued again", "MessageItem"),
                (401, 403, 404, 409),
                parameters=[TRANSFER_ID, ENVELOPE_ID],
            )
        },
    )


def _audit_read(operation_id: str, summary: str, query: Any, schema: str) -> dict[str, Any]:
    return {
        "get": _operation(
            operation_id,
            summary,
            READ_SECURITY,
            ("200", "OK", schema),
            (401, 403, 404, 422),
            parameters=_query(query),
        )
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
        operations=_audit_read(
            "listAudit", "The area's audit events, oldest first.", AuditQuerySchema, "AuditPage"
        ),
    )
    spec.path(
        path="/api/v1/audit/verify",
        operations=_audit_read(
            "verifyAudit",
            "Recompute the area's Merkle log and check every checkpoint.",
            AreaQuerySchema,
            "VerifyReport",
        ),
    )
    spec.path(
        path="/api/v1/reports/disclosures",
        operations=_audit_read(
            "disclosureReport",
            "Disclosures by period, peer area, legal basis and consent; delivery times.",
            ReportQuerySchema,
            "DisclosureReport",
        ),
    )
    spec.path(
        path="/api/v1/audit/subject-access",
        operations={
            "post": _operation(
                "subjectAccess",
                "Every disclosure concerning a person (subject access, court "
                "orders); the search is audited with its match count only.",
                WRITE_SECURITY,
                ("200", "The disclosures found", "SubjectAccess"),
                (400, 401, 403, 404, 422),
                body=(JSON, "SubjectRequest"),
            )
        },
    )


@api.get("/openapi.json")
def openapi() -> Response:
    cached = current_app.extensions.get("gateway.openapi")
    if cached is None:
        cached = current_app.extensions["gateway.openapi"] = build_spec()
    return jsonify(cached)

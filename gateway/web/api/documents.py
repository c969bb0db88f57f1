"""`/api/v1/transfers/<id>/documents` and `/information-requests`: send a document (a file,
or structured minutes), list documents (metadata), download one (decrypted in memory,
audited), ask the sender for information."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for
from marshmallow import ValidationError

from gateway.domain.casework import documents, information_requests
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import (
    AUDITOR,
    CHAIR,
    COORDINATOR,
    TRANSFERS_READ,
    TRANSFERS_WRITE,
)
from gateway.errors import Invalid, Malformed, NotFound, UnsupportedMediaType, field_errors
from gateway.web import node
from gateway.web.api.common import api, canonical_id, json_object, transfer_item
from gateway.web.api.declarations import JSON, documented
from gateway.web.guard import CSRF_FIELD, current_principal, requires
from schemas.api.documents import (
    DocumentItemSchema,
    DocumentListSchema,
    InformationRequestItemSchema,
    InformationRequestListSchema,
    MinutesUploadSchema,
    UploadFormSchema,
)
from schemas.wire.document import DOCX, JPEG, MINUTES_JSON, ODT, PDF, PNG, RTF, TEXT
from schemas.wire.document import load_upload_fields as load_fields
from schemas.wire.information_request import InformationRequestBodySchema

# The download's name is ours, never the uploader's: kind, short id, extension.
EXTENSIONS = {
    PDF: "pdf",
    DOCX: "docx",
    ODT: "odt",
    RTF: "rtf",
    TEXT: "txt",
    PNG: "png",
    JPEG: "jpg",
    MINUTES_JSON: "json",
}
FILE_PART = "file"


def _document(view: documents.DocumentView) -> dict[str, Any]:
    dumped: dict[str, Any] = DocumentItemSchema().dump(view)
    return dumped


def _request_item(view: information_requests.RequestView) -> dict[str, Any]:
    dumped: dict[str, Any] = InformationRequestItemSchema().dump(view)
    return dumped


def _document_id(document_id: str) -> None:
    try:
        canonical_id(document_id)
    except NotFound as exc:
        raise NotFound("No such document.") from exc


def _outgoing(max_bytes: int) -> documents.Outgoing:
    if request.is_json:
        return documents.minutes_upload(json_object(), max_bytes)
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType(
            "Send the document as multipart/form-data with a part named 'file' and a "
            "'kind' field, or structured minutes as application/json."
        )
    parts = request.files.getlist(FILE_PART)
    extra = sorted(set(request.files) - {FILE_PART})
    if len(parts) != 1 or extra:
        raise Malformed("Send exactly one file, in a part named 'file'.")
    form = {k: v for k, v in request.form.to_dict(flat=True).items() if k != CSRF_FIELD}
    try:
        fields = load_fields(form)
    except ValidationError as exc:
        raise Invalid("The upload is not valid.", errors=field_errors(exc.messages)) from exc
    # Read bounded: one byte past the limit is enough to refuse. The part's filename and
    # Content-Type are never looked at.
    content = parts[0].stream.read(max_bytes + 1)
    return documents.file_upload(fields.kind, content, fields.answers, max_bytes)


@api.post("/transfers/<transfer_id>/documents")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
@documented(
    "sendDocument",
    "Send a document about the transfer to the other area: a file (PDF, DOCX, ODT, RTF, "
    "UTF-8 text, PNG or JPEG, judged by its content; its filename is ignored) or structured "
    "minutes as JSON. Sealed, signed with its SHA-256 and size, and queued; on an outbound "
    "transfer that has not reached the other area yet it is held (direction `held`) and "
    "sent the moment the transfer is delivered.",
    ok=(201, "Sealed and queued, or held until the transfer is delivered"),
    answer=DocumentItemSchema,
    problems=(400, 401, 403, 404, 409, 413, 415, 422),
    body={"multipart/form-data": UploadFormSchema, JSON: MinutesUploadSchema},
)
def post_document(transfer_id: str) -> tuple[Response, int, dict[str, str]]:
    canonical_id(transfer_id)
    current = node()
    outgoing = _outgoing(current.settings.document_max_bytes)
    with current.sessions() as db:
        sent = documents.send_document(
            db,
            current.master,
            current_principal(),
            transfer_id,
            outgoing,
            utcnow(),
        )
    location = url_for("api.get_document", transfer_id=transfer_id, document_id=sent.id)
    return jsonify(_document(sent)), 201, {"Location": location}


@api.get("/transfers/<transfer_id>/documents")
@requires(roles=[COORDINATOR, CHAIR, AUDITOR], scopes=[TRANSFERS_READ])
@documented(
    "listDocuments",
    "The transfer's documents, both directions, oldest first; metadata only.",
    ok=(200, "Metadata of every document"),
    answer=DocumentListSchema,
    problems=(401, 403, 404),
)
def list_documents(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    with node().sessions() as db:
        found, items = documents.list_documents(db, current_principal(), transfer_id)
    return jsonify(transfer=transfer_item(found), items=[_document(item) for item in items])


@api.get("/transfers/<transfer_id>/documents/<document_id>")
@requires(roles=[COORDINATOR, CHAIR], scopes=[TRANSFERS_READ])
@documented(
    "getDocument",
    "One document's bytes, decrypted in memory, checked against its signed SHA-256 and "
    "size, served as an attachment under a generated name; audited.",
    ok=(200, "The document"),
    answer={"application/octet-stream": {"type": "string", "format": "binary"}},
    problems=(401, 403, 404, 409),
)
def get_document(transfer_id: str, document_id: str) -> Response:
    canonical_id(transfer_id)
    _document_id(document_id)
    current = node()
    with current.sessions() as db:
        opened = documents.open_document(
            db, current.master, current_principal(), transfer_id, document_id, utcnow()
        )
    meta = opened.document
    name = f"{meta.kind}-{meta.id[:8]}.{EXTENSIONS.get(meta.media_type, 'bin')}"
    response = Response(opened.content, mimetype=meta.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Document-SHA256"] = meta.sha256
    return response


@api.post("/transfers/<transfer_id>/information-requests")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
@documented(
    "requestInformation",
    "A coordinator of the receiving area asks the sending area for documents (minutes, the "
    "original referral, ...); the request travels sealed.",
    ok=(201, "Sealed and queued"),
    answer=InformationRequestItemSchema,
    problems=(400, 401, 403, 404, 409, 422),
    body=InformationRequestBodySchema,
)
def request_information(transfer_id: str) -> tuple[Response, int]:
    canonical_id(transfer_id)
    data = json_object()
    current = node()
    with current.sessions() as db:
        made = information_requests.request_information(
            db, current.master, current_principal(), transfer_id, data, utcnow()
        )
    return jsonify(_request_item(made)), 201


@api.get("/transfers/<transfer_id>/information-requests")
@requires(roles=[COORDINATOR, CHAIR, AUDITOR], scopes=[TRANSFERS_READ])
@documented(
    "listInformationRequests",
    "Information requests about the transfer, both directions, open or answered; metadata only.",
    ok=(200, "Every request"),
    answer=InformationRequestListSchema,
    problems=(401, 403, 404),
)
def list_information_requests(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    with node().sessions() as db:
        found, items = information_requests.list_requests(db, current_principal(), transfer_id)
    return jsonify(transfer=transfer_item(found), items=[_request_item(item) for item in items])

"""One way to serve a document's bytes (DESIGN section 5: filenames never trusted): as an
attachment under a name we make (kind, short id, extension), sandboxed, with its signed
SHA-256, for the API's download and the case page's alike."""

from __future__ import annotations

from flask import Response

from gateway.domain.casework.documents import OpenedDocument
from schemas.wire.document import DOCX, JPEG, MINUTES_JSON, ODT, PDF, PNG, RTF, TEXT

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


def attachment(opened: OpenedDocument) -> Response:
    meta = opened.document
    name = f"{meta.kind}-{meta.id[:8]}.{EXTENSIONS.get(meta.media_type, 'bin')}"
    response = Response(opened.content, mimetype=meta.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Document-SHA256"] = meta.sha256
    return response

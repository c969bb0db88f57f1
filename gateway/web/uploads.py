"""How request bodies are read (DESIGN section 5: documents stored sealed, never in
plaintext at rest).

Werkzeug spools a large multipart file part to a temporary file on disk; a document is
case content, so an upload is kept in memory instead, bounded by the route's own limit:
the document limit (plus room for the multipart framing) on the upload route, and the
larger federation bound (a sealed document is base64url twice over) everywhere else.
"""

from __future__ import annotations

import io
from typing import IO

from flask import Request, current_app

UPLOAD_ENDPOINTS = frozenset({"api.post_document", "send.documents_page"})
UPLOAD_LIMIT_KEY = "GATEWAY_UPLOAD_MAX_BYTES"
# Uploads with a small bound of their own: a peer's public bundle is a few kilobytes.
SMALL_UPLOADS = {"admin.import_peer_submit": 128 * 1024}


class GatewayRequest(Request):
    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is not None:
            return self._max_content_length
        if self.endpoint in SMALL_UPLOADS:
            return SMALL_UPLOADS[self.endpoint]
        if current_app and self.endpoint in UPLOAD_ENDPOINTS:
            return int(current_app.config[UPLOAD_LIMIT_KEY])
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        # Never a temporary file: the upload is bounded by max_content_length above.
        return io.BytesIO()

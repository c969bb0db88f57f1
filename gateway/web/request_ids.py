"""Every request gets an id (gateway/logs.py): the caller's well-formed X-Request-ID or a
new one, in every log line of the request and on the response."""

from __future__ import annotations

from flask import Flask, Response, request

from gateway.logs import REQUEST_ID_HEADER, accepted_request_id, current_request_id, set_request_id


def install_request_ids(app: Flask) -> None:
    @app.before_request
    def _take() -> None:
        set_request_id(accepted_request_id(request.headers.get(REQUEST_ID_HEADER)))

    @app.after_request
    def _give(response: Response) -> Response:
        found = current_request_id()
        if found:
            response.headers[REQUEST_ID_HEADER] = found
        return response

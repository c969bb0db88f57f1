"""RFC 9457 problem documents for every error; a generic one for anything unexpected."""

from __future__ import annotations

import logging

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from gateway.errors import PROBLEM_BASE, DomainError, TooManyRequests

log = logging.getLogger("gateway.web")
PROBLEM_JSON = "application/problem+json"


def problem_response(doc: dict[str, object], status: int) -> Response:
    return Response(json.dumps(doc), status=status, mimetype=PROBLEM_JSON)


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> Response:
        log.info("refused %s %s", error.status, error.slug)
        response = problem_response(error.problem(), error.status)
        if isinstance(error, TooManyRequests):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        slug = (error.name or "error").lower().replace(" ", "-")
        doc = {"type": PROBLEM_BASE + slug, "title": error.name, "status": status}
        return problem_response(doc, status)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        # The class name only: exception text can hold values from the request.
        log.error("unexpected %s", type(error).__name__)
        doc = {
            "type": PROBLEM_BASE + "internal",
            "title": "Internal error",
            "status": 500,
            "detail": "Something went wrong on this node; nothing was stored. Try again.",
        }
        return problem_response(doc, 500)

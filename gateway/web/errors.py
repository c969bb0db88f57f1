"""Errors rendered per audience (DESIGN section 3): RFC 9457 problem documents for machines
(`/api/`, `/federation/` and the health endpoints), an HTML page for people using the
browser pages. Same status either way; never a value from the request.

Problem `type` URIs: `about:blank` for plain HTTP errors (RFC 9457 section 4.2.1), and for
the project's own types `<base>/<slug>`, where base is the operator's
`GATEWAY_PROBLEM_BASE_URI` or this node's own `/problems/` pages (gateway/web/problems.py).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from gateway.errors import DomainError, TooManyRequests
from gateway.logs import current_request_id
from gateway.web import node

log = logging.getLogger("gateway.web")
PROBLEM_JSON = "application/problem+json"
# Paths answered for programs: everything else is a page a person looks at.
MACHINE_PREFIXES = ("/api/", "/federation/", "/healthz", "/readyz", "/metrics")
# Headers of an HTTP error worth keeping on the answer (405 must say what is allowed).
KEPT_HEADERS = frozenset({"Allow", "Retry-After", "WWW-Authenticate"})

# What a person is told, by status: plain English, what happened and what to do next.
PAGE_TEXT: dict[int, tuple[str, str]] = {
    400: ("There is a problem with what was sent", "Go back, check the page and try again."),
    401: ("You need to sign in", "Sign in to continue."),
    403: (
        "You cannot do this",
        "Your role in this area does not allow it. If you think it should, ask your MARAC"
        " coordinator or the person who runs this node.",
    ),
    404: (
        "Page not found",
        "If you typed the web address, check it is correct. If you followed a link, the"
        " page may no longer exist or may belong to an area you do not work in.",
    ),
    405: ("This page cannot do that", "Go back and use the page's buttons and links."),
    409: ("This cannot be done now", "The case has moved on. Reload it to see where it stands."),
    410: (
        "This case was withdrawn",
        "The sending area withdrew it before it was opened here, so its content was deleted.",
    ),
    413: ("The file or form is too large", "Go back and choose a smaller file."),
    415: ("That type of file cannot be used", "Go back and choose a different file."),
    422: ("Some answers need correcting", "Go back, correct them and try again."),
    429: (
        "Too many attempts",
        "Wait a few minutes before you try again.",
    ),
    500: (
        "Sorry, there is a problem with the service",
        "Nothing you sent was saved. Try again later.",
    ),
    503: ("Sorry, the service is unavailable", "Try again in a few minutes."),
}


def problem_response(doc: dict[str, object], status: int) -> Response:
    return Response(json.dumps(doc), status=status, mimetype=PROBLEM_JSON)


def problem_type_base() -> str:
    """Where the project's own problem types resolve, always ending in a slash."""
    # The configured base URL, never the request's Host header, which the caller chooses.
    settings = node().settings
    return settings.problem_base_uri or settings.base_url + "/problems/"


def for_machines() -> bool:
    return request.path.startswith(MACHINE_PREFIXES)


def error_page(status: int, detail: str | None = None, **headers: str) -> Response:
    heading, advice = PAGE_TEXT.get(status, PAGE_TEXT[500 if status >= 500 else 400])
    body = render_template(
        "error.html", status=status, heading=heading, detail=detail, advice=advice
    )
    response = Response(body, status=status, mimetype="text/html")
    response.headers.update(headers)
    return response


def _kept(error: HTTPException) -> dict[str, str]:
    return {k: v for k, v in error.get_headers() if k in KEPT_HEADERS}


def _domain(error: DomainError) -> BaseResponse:
    log.info("refused %s %s", error.status, error.slug)
    extra: dict[str, Any] = {}
    if isinstance(error, TooManyRequests):
        extra["Retry-After"] = str(error.retry_after)
    if for_machines():
        response = problem_response(error.problem(problem_type_base()), error.status)
        response.headers.update(extra)
        return response
    return error_page(error.status, error.detail, **extra)


def _http(error: HTTPException) -> Response:
    status = error.code or 500
    if for_machines():
        doc = {"type": "about:blank", "title": error.name, "status": status}
        response = problem_response(doc, status)
    else:
        response = error_page(status)
    response.headers.update(_kept(error))
    return response


def plain_error(status: int, title: str, detail: str, **headers: str) -> Response:
    """A plain HTTP error (type about:blank) to either audience: a problem document for
    programs, the page for `status` for people."""
    if for_machines():
        doc = {"type": "about:blank", "title": title, "status": status, "detail": detail}
        response = problem_response(doc, status)
    else:
        response = error_page(status)
    response.headers.update(headers)
    return response


def unexpected(error: Exception) -> Response:
    """500, logged with the request id and the scrubbed traceback (gateway/logs.py: the
    frames, never the exception's text, locals or arguments); the caller is given the
    request id to quote, which finds that line."""
    log.error("unexpected %s", type(error).__name__, exc_info=error)
    reference = current_request_id() or ""
    if for_machines():
        doc = {
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
            "detail": "Something went wrong on this node; nothing was stored. Try again.",
            "request_id": reference,
        }
        return problem_response(doc, 500)
    return error_page(500, f"If you contact the person who runs this node, quote {reference}.")


def install_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, _domain)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, unexpected)

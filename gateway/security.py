"""Deny by default: every endpoint needs authentication unless this list names it.

The identity issue plugs user sessions and API tokens into `authenticate`; until then only
the public endpoints answer, and everything else is 401, so a route added without thought
is closed rather than open.
"""

from __future__ import annotations

from flask import Flask, Response, request

from gateway.errors import Unauthorized

# Federation endpoints are public at this layer because they carry their own per-request
# JWS authentication (verified in the domain service before anything is read or stored).
PUBLIC_ENDPOINTS = frozenset(
    {
        "health.healthz",
        "health.readyz",
        "health.metrics",
        "federation.receive_envelope",
        "federation.bundle",
        "federation.audit_consistency",
        "federation.audit_cosignature",
        "static",
    }
)


def install_guard(app: Flask) -> None:
    @app.before_request
    def _deny_by_default() -> None:
        if request.endpoint is None:  # no such route: let Flask answer 404/405
            return
        if request.endpoint not in PUBLIC_ENDPOINTS:
            raise Unauthorized("Authentication is required.")

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"
        )
        if request.is_secure:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=63072000; includeSubDomains"
            )
        return response

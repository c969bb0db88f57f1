"""Liveness, readiness and metrics. Counts only: never an id, a name or an area's case."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, request

from gateway.errors import Forbidden, Unauthorized
from gateway.metrics import exposition
from gateway.readiness import readiness
from gateway.web import node

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@health.get("/readyz")
def readyz() -> tuple[Response, int]:
    """The database, the schema at head, the master key, the area keys: 503 unless all
    hold. Only the word for each (the details, file paths among them, are for the
    operator's `marac-gateway config check`)."""
    checks = readiness(node())
    ready = all(check.ok for check in checks)
    answer = {check.name: "ok" if check.ok else "failed" for check in checks}
    return jsonify(status="ok" if ready else "unavailable", **answer), 200 if ready else 503


@health.get("/metrics")
def metrics() -> Response:
    """Prometheus text, only for the scraper holding GATEWAY_METRICS_TOKEN; without the
    setting, for nobody. The guard leaves this route to its own token, which is no user's
    or client's: metrics are for the operator's monitoring, not the node's callers."""
    expected = node().settings.metrics_token
    if expected is None:
        raise Forbidden("Metrics are off on this node (GATEWAY_METRICS_TOKEN is not set).")
    offered = request.headers.get("Authorization", "")
    if not hmac.compare_digest(offered.encode(), f"Bearer {expected}".encode()):
        raise Unauthorized("The metrics token is missing or wrong.")
    body, content_type = exposition(node())
    return Response(body, content_type=content_type)

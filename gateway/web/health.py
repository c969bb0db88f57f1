"""Liveness, readiness and metrics. Counts only: never an id, a name or an area's case."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from gateway.domain.federation import delivery
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
    lines = []
    with node().sessions() as session:
        outbox, transfers = delivery.counts(session)
    lines.append("# TYPE gateway_outbox_items gauge")
    lines += [f'gateway_outbox_items{{status="{s}"}} {n}' for s, n in outbox]
    lines.append("# TYPE gateway_transfers gauge")
    lines += [f'gateway_transfers{{direction="{d}",status="{s}"}} {n}' for d, s, n in transfers]
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")

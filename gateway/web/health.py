"""Liveness, readiness and metrics. Counts only: never an id, a name or an area's case."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from gateway.domain.federation import delivery
from gateway.web import node

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@health.get("/readyz")
def readyz() -> tuple[Response, int]:
    try:
        with node().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200


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

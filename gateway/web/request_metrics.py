"""Each request counted and timed by its route template (`/api/v1/transfers/<transfer_id>`,
never the path a caller typed), for /metrics (gateway/metrics.py)."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from gateway import metrics

UNMATCHED = "unmatched"  # no route: a 404 or 405, whatever path was asked for


def install_request_metrics(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is not None:
            rule = request.url_rule.rule if request.url_rule is not None else UNMATCHED
            metrics.observe_request(
                request.method, rule, response.status_code, time.perf_counter() - started
            )
        return response

"""Baseline for bench/federation.py: a bare Flask app with one POST endpoint.

It reads the whole body and answers 202 with a fixed ~300-byte JSON body (about what a
signed receipt costs on the wire, without any of the work). Served by gunicorn with the
same options as `marac-gateway serve` (see bench/federation.py), e.g.

    .venv/bin/gunicorn --chdir bench --bind 127.0.0.1:8000 --worker-class gthread \
        --threads 4 --workers 2 bare_app:app
"""

from __future__ import annotations

import json

from flask import Flask, Response, request

PATH = "/federation/v1/envelopes"
MAX_BODY_BYTES = 32 * 1024 * 1024  # as gateway.node

RESPONSE = json.dumps(
    {
        "kind": "bench-bare-receipt",
        "v": 1,
        "status": "received",
        "note": "fixed answer; nothing is verified, stored or signed",
        "padding": "x" * 160,
    },
    separators=(",", ":"),
).encode("ascii")

app = Flask(__name__)
app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)


@app.post(PATH)
def envelopes() -> Response:
    body = request.get_data(cache=False)
    if not body:
        return Response(b'{"error":"empty body"}', status=400, mimetype="application/json")
    return Response(RESPONSE, status=202, mimetype="application/json")


@app.get("/readyz")
def readyz() -> Response:
    return Response(b'{"status":"ok"}', mimetype="application/json")

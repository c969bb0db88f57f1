"""Behind reverse proxies (GATEWAY_TRUSTED_PROXIES hops): the client's address and scheme
come from the X-Forwarded-For and X-Forwarded-Proto the proxies set, so the sign-in limits
per source address (gateway/web/ui) count each client, not the proxy. Only the last N
entries are believed; with 0 (the default) the headers are ignored, because any caller
can send them."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def install_proxy_fix(app: Flask, hops: int) -> None:
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

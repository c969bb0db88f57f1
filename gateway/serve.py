"""Run the web app under gunicorn, the production server, from `marac-gateway serve`."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

# No referer or user agent: access lines say who asked for which path, nothing else
# (paths never carry personal data, by design).
ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


class GatewayServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        from gateway.app import create_app
        from gateway.config import Settings

        return create_app(Settings.from_env())


def gunicorn_options(host: str, port: int, workers: int) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 60,
        "graceful_timeout": 20,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        "limit_request_line": 4094,
    }


def run_gunicorn(*, host: str, port: int, workers: int) -> None:
    GatewayServer(gunicorn_options(host, port, workers)).run()

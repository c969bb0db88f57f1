"""Run the web app under gunicorn, the production server, from `marac-gateway serve`."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from gateway.config import Settings

# No referer or user agent: access lines say who asked for which path, nothing else
# (paths never carry personal data, by design).
# The path without its query string: a single-use setup link carries its token there
# (gateway/web/ui/people.py), and no query string names a person.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'


class GatewayServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any], create_app: Callable[[Settings], Flask]) -> None:
        self.options = options
        self.create_app = create_app
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        # Each worker builds its own app (and database engine) after the fork.
        return self.create_app(Settings.from_env())


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
        "logconfig_dict": _log_config(),
    }


def _log_config() -> dict[str, Any]:
    """gunicorn's own lines (start-up, workers, access) in the same one-line format."""
    text = os.environ.get("GATEWAY_LOG_FORMAT", "").lower() == "text"
    formatter = "gateway.logs.TextFormatter" if text else "gateway.logs.JsonFormatter"
    handler = {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stderr"}
    quiet = {"level": "INFO", "handlers": ["console"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"()": formatter}},
        "handlers": {"console": handler},
        "root": {"level": "INFO", "handlers": ["console"]},
        "loggers": {"gunicorn.error": quiet, "gunicorn.access": quiet},
    }


def run_gunicorn(
    create_app: Callable[[Settings], Flask], *, host: str, port: int, workers: int
) -> None:
    GatewayServer(gunicorn_options(host, port, workers), create_app).run()

"""Run the web app under gunicorn, the production server, from `marac-gateway serve`.

Settings, each overriding the one before: our defaults (below), the operator's gunicorn
configuration file (`serve --config`, or GATEWAY_GUNICORN_CONFIG; deploy/gunicorn.conf.py
is an example), `GUNICORN_CMD_ARGS` (gunicorn's own variable, e.g. "--workers 4
--timeout 30"), then the `--host`, `--port` and `--workers` given to `serve`.
"""

from __future__ import annotations

import gc
import logging
import os
import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from gateway.config import ConfigError, Settings
from gateway.metrics import MULTIPROC_ENV

# No referer or user agent: access lines say who asked for which path, nothing else
# (paths never carry personal data, by design).
# The path without its query string: a single-use setup link carries its token there
# (gateway/web/ui/people.py), and no query string names a person.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'
DEFAULT_HOST, DEFAULT_PORT, DEFAULT_WORKERS = "127.0.0.1", 5000, 2
log = logging.getLogger("gateway.serve")


class GatewayServer(BaseApplication):  # type: ignore[misc]
    def __init__(
        self,
        options: dict[str, Any],
        create_app: Callable[[Settings], Flask],
        *,
        config_file: Path | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        self.options = options
        self.create_app = create_app
        self.config_file = config_file
        self.overrides = overrides or {}
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        env_args = self.cfg.parser().parse_args(self.cfg.get_cmd_args_from_env())
        found = self.config_file or (Path(env_args.config) if env_args.config else None)
        if found is not None:
            self._load_file(found)
        for key, value in vars(env_args).items():
            if value is not None and key not in ("args", "config"):
                self.cfg.set(key.lower(), value)
        for key, value in self.overrides.items():
            self.cfg.set(key, value)
        if self.cfg.workers > 1 and not os.environ.get(MULTIPROC_ENV):
            log.warning(
                "%s workers and no %s: each scrape of /metrics counts one worker's requests",
                self.cfg.workers,
                MULTIPROC_ENV,
            )

    def _load_file(self, path: Path) -> None:
        """Gunicorn's own format: a Python file whose names are gunicorn settings."""
        try:
            names = runpy.run_path(str(path))
        except OSError as exc:
            raise ConfigError(f"gunicorn config {path}: {exc.strerror}") from None
        for key, value in names.items():
            if key.lower() in self.cfg.settings:
                self.cfg.set(key.lower(), value)

    def load(self) -> Flask:
        # Each worker builds its own app (and database engine) after the fork.
        app = self.create_app(Settings.from_env())
        settle_heap()
        return app


def settle_heap() -> None:
    """Put what a worker built at start (modules, the app, its models, schemas and
    templates: long-lived, never garbage) out of the cyclic garbage collector's reach.
    Otherwise every full collection walks all of it inside some request: in process, 500
    flag lookups had a p99 of 51 ms and a worst of 132 ms before, 42 ms and 46 ms after
    (bench/flags.py measures the served figure)."""
    gc.collect()
    gc.freeze()


def gunicorn_options(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, workers: int = DEFAULT_WORKERS
) -> dict[str, Any]:
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
    create_app: Callable[[Settings], Flask],
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    config_file: Path | None = None,
) -> None:
    """`host`, `port` and `workers` override the configuration only when given."""
    overrides: dict[str, Any] = {}
    if host is not None or port is not None:
        overrides["bind"] = f"{host or DEFAULT_HOST}:{port or DEFAULT_PORT}"
    if workers is not None:
        overrides["workers"] = workers
    GatewayServer(
        gunicorn_options(), create_app, config_file=config_file, overrides=overrides
    ).run()

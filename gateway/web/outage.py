"""A database outage (a restart, a failover, SQLite's lock wait running out) answers 503
with Retry-After, never 500: the caller may simply try again, and nothing was stored."""

from __future__ import annotations

import logging

from flask import Flask, Response
from sqlalchemy.exc import DBAPIError

from adapters.db import is_outage
from gateway.web.errors import plain_error, unexpected

log = logging.getLogger("gateway.web")
RETRY_AFTER_SECONDS = 5


def install_outage_handler(app: Flask) -> None:
    @app.errorhandler(DBAPIError)
    def _database(error: DBAPIError) -> Response:
        if not is_outage(error):
            # Any other database error is a bug: the same answer as every unexpected one.
            return unexpected(error)
        # The class name only: the driver's message can quote the statement.
        log.warning("database unavailable: %s", type(error).__name__)
        return plain_error(
            503,
            "Service Unavailable",
            "The node's database is unavailable; nothing was stored. Try again shortly.",
            **{"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

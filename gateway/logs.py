"""Logging: one line per event, JSON by default (GATEWAY_LOG_FORMAT=text for people), each
with its time (UTC), level, logger, message and, inside a request or a delivery, the
request id. What we log never names a person, an email or a case reference (DESIGN
section 5); an exception is logged by its class name, never its text.

The request id comes from the caller's `X-Request-ID` when it is well formed (so a proxy's
id follows the request), is generated otherwise, and is returned on the response; a
transfer keeps the id of the request that queued it, so the worker's delivery lines carry
it too.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

REQUEST_ID_HEADER = "X-Request-ID"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{8,128}")
_current: ContextVar[str | None] = ContextVar("gateway_request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(offered: str | None) -> str:
    """The caller's id if it is well formed (letters, digits, `._:-`, 8-128), else a new one."""
    if offered and _WELL_FORMED.fullmatch(offered):
        return offered
    return new_request_id()


def current_request_id() -> str | None:
    return _current.get()


def set_request_id(value: str | None) -> None:
    _current.set(value)


@contextmanager
def request_id(value: str | None) -> Iterator[None]:
    """Log lines inside carry `value` (the worker, around one delivery)."""
    token = _current.set(value)
    try:
        yield
    finally:
        _current.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        found = _current.get()  # formatted in the thread that logs
        if found:
            line["request_id"] = found
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        found = _current.get()  # formatted in the thread that logs
        return f"{text} request_id={found}" if found else text

    def formatException(self, ei: object) -> str:
        # The class name only: a traceback's text can quote values from the request.
        exc_type = ei[0] if isinstance(ei, tuple) else None
        return f"exception {exc_type.__name__}" if exc_type else ""


def configure(log_format: str = "json", level: int = logging.INFO) -> None:
    """Point the root logger (and so gunicorn's error log and every library's) at stderr,
    one line per event. Called once per process, by the command line."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs full URLs at INFO; ours carry no personal data, but keep the noise down.
    logging.getLogger("httpx").setLevel(logging.WARNING)

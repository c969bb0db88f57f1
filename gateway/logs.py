"""Logging: one line per event, JSON by default (GATEWAY_LOG_FORMAT=text for people), each
with its time (UTC), level, logger, message and, inside a request or a delivery, the
request id. What we log never names a person, an email or a case reference (DESIGN
section 5); an exception is logged by its class name, never its text, with its traceback
scrubbed to `file:line in function` for each frame (no source text, no locals, no
argument values), so a 500 can be found by its request id and traced to the line.

The request id comes from the caller's `X-Request-ID` when it is well formed (so a proxy's
id follows the request), is generated otherwise, and is returned on the response; a
transfer keeps the id of the request that queued it, so the worker's delivery lines carry
it too.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import PurePath
from types import TracebackType

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


# How many innermost frames a scrubbed traceback keeps (the outer ones are the framework's).
TRACEBACK_FRAMES = 20
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def scrubbed_traceback(exc_info: ExcInfo) -> list[str]:
    """Each frame as `path:line in function`, innermost last, and for each chained cause
    `caused by <Class>`: where it failed, never with what (no message, locals or source)."""
    lines: list[str] = []
    error: BaseException | None = exc_info[1]
    seen: set[int] = set()
    while error is not None and id(error) not in seen and len(seen) < 5:
        seen.add(id(error))
        if lines:
            lines.append(f"caused by {type(error).__name__}")
        frames = traceback.extract_tb(error.__traceback__)[-TRACEBACK_FRAMES:]
        lines += [f"{_short(f.filename)}:{f.lineno} in {f.name}" for f in frames]
        error = error.__cause__ or error.__context__
    return lines


def _short(filename: str) -> str:
    """A path from the package down (`gateway/web/ui/cases.py`): where the code is
    installed says nothing an operator needs and makes lines long."""
    parts = PurePath(filename).parts
    for anchor in ("site-packages", "dist-packages"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor) + 1 :])
    for package in ("gateway", "adapters", "keys", "schemas"):
        if package in parts:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(package) :])
    return filename


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
            line["traceback"] = scrubbed_traceback(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record).replace("\n", " ")  # the scrubbed traceback too
        found = _current.get()  # formatted in the thread that logs
        return f"{text} request_id={found}" if found else text

    def formatException(self, ei: object) -> str:
        # The class name and the scrubbed frames: a traceback's text can quote values.
        if not isinstance(ei, tuple) or ei[0] is None:
            return ""
        return f"exception {ei[0].__name__} at " + " <- ".join(reversed(scrubbed_traceback(ei)))


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

"""Hostile bodies (DESIGN section 4: the wire is UTF-8 JSON; bad input gets a clear 4xx).

- Every JSON body Flask parses goes through the bounded parser (`keys.parse_json`): depth,
  member count and string size are checked before the standard parser recurses.
- A JSON body must be UTF-8: a `charset` parameter naming anything else is refused.
- The request body is read through a guard: broken framing (a bad chunk size, a body that
  ends early) is a 400, not whatever exception the server's reader raises; and when the
  answer goes out before the body was read to its end (a refusal before reading it), the
  connection is closed rather than offered for keep-alive with unread bytes on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest

from gateway.errors import UnsupportedMediaType
from keys import parse_json

log = logging.getLogger("gateway.web")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def require_json(what: str = "Requests") -> None:
    """The body must be declared `application/json`, with no charset other than UTF-8."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(f"{what} are sent as application/json.")
    require_utf8(what)


def require_utf8(what: str = "Requests") -> None:
    charset = request.mimetype_params.get("charset")
    if charset is not None and charset.lower().replace("-", "") != "utf8":
        raise UnsupportedMediaType(f"{what} are sent as UTF-8 JSON.")


class BoundedJSONProvider(DefaultJSONProvider):
    """`request.get_json()` through the bounded parser; a refusal is a ValueError, which
    Flask treats as a body that is not JSON."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return parse_json(s)


class BrokenFraming(BadRequest):
    description = "The request body's framing is broken."


class GuardedInput:
    """`wsgi.input` that knows whether it was read to its end and turns the server's
    framing errors into a 400."""

    def __init__(self, raw: IO[bytes], length: int | None) -> None:
        self._raw = raw
        self._left = length  # None: chunked, the end is the reader's empty read
        self.finished = length == 0
        self.broken = False

    def _account(self, data: bytes, size: int | None) -> bytes:
        if self._left is not None:
            self._left -= len(data)
        if (self._left is not None and self._left <= 0) or (not data and size != 0):
            self.finished = True
        return data

    def _guarded(self, reader: Callable[..., bytes], size: int | None) -> bytes:
        try:
            data = reader() if size is None or size < 0 else reader(size)
        except Exception as exc:  # the server's reader: any failure is the client's framing
            self.broken = True
            log.info("request body refused: %s", type(exc).__name__)
            raise BrokenFraming() from None
        return self._account(data, size)

    def read(self, size: int | None = -1) -> bytes:
        return self._guarded(self._raw.read, size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._guarded(self._raw.readline, size)

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(self)

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    @property
    def unread(self) -> bool:
        return self.broken or not self.finished


def _declared_length(environ: dict[str, Any]) -> int | None:
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    try:
        return max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


class BodyGuard:
    """WSGI middleware around the Flask app installing `GuardedInput`."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = GuardedInput(environ["wsgi.input"], _declared_length(environ))
        environ["wsgi.input"] = body

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if body.unread:
                _close_after(start_response)
                headers = [(k, v) for k, v in headers if k.lower() != "connection"]
                headers.append(("Connection", "close"))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def _close_after(start_response: StartResponse) -> None:
    """Servers that follow the application's `Connection: close` (werkzeug's) need only
    the header; gunicorn drops it as hop-by-hop and decides itself, so its response
    object (whose bound method start_response is) is told directly."""
    server_response = getattr(start_response, "__self__", None)
    force_close = getattr(server_response, "force_close", None)
    if callable(force_close):
        force_close()


def install_limits(app: Flask) -> None:
    app.json = BoundedJSONProvider(app)
    app.wsgi_app = BodyGuard(app.wsgi_app)  # type: ignore[method-assign]

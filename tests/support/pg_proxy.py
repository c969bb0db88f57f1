"""A TCP proxy in front of the shared PostgreSQL server, so that a test can "restart" the
database its nodes use without touching the real server (other tests and sessions share
it): while the proxy is cut, new connections are refused as by a server that is down,
and the open ones end either with PostgreSQL's own goodbye (a fast shutdown: the server
terminates each backend, which sends the client an admin-shutdown error) or with a TCP
reset and no word at all (an immediate shutdown or a crash, as the client sees it)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from typing import Any

from sqlalchemy import create_engine, make_url, text

from adapters.db.session import normalise_url


class PgProxy:
    def __init__(self, admin_url: str) -> None:
        target = make_url(normalise_url(admin_url))
        self.admin_url = normalise_url(admin_url)
        self.target = (target.host or "127.0.0.1", target.port or 5432)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.AbstractServer | None = None
        self.transports: set[asyncio.BaseTransport] = set()
        self.port = 0
        self._run(self._listen())
        assert self.server is not None
        self.port = int(self.server.sockets[0].getsockname()[1])

    def url(self, database_url: str) -> str:
        """`database_url` (on the real server) by way of the proxy."""
        return (
            make_url(database_url)
            .set(host="127.0.0.1", port=self.port)
            .render_as_string(hide_password=False)
        )

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = {writer.transport, upstream_writer.transport}
        self.transports |= pair
        try:
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        finally:
            self.transports -= pair

    def down(self, *, immediate: bool, databases: list[str]) -> None:
        """Stop listening; end every open connection: with a reset (`immediate`), or by
        the server terminating the databases' backends (fast), which say why."""
        self._run(self._stop_listening())
        if immediate:
            self._run(self._reset_all())
        else:
            self._terminate(databases)

    def up(self) -> None:
        self._run(self._listen())

    async def _stop_listening(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    async def _reset_all(self) -> None:
        for transport in list(self.transports):
            sock = transport.get_extra_info("socket")
            if sock is not None:  # linger 0: close sends RST, not FIN
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        self.transports.clear()

    def _terminate(self, databases: list[str]) -> None:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = ANY(:names) AND pid <> pg_backend_pid()"
                    ),
                    {"names": databases},
                )
        finally:
            engine.dispose()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run(self._stop_listening())
            self._run(self._reset_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()

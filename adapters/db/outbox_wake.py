"""Waking the delivery worker the moment an outbox row is committed (DESIGN section 3, step
2), so a transfer does not wait out the worker's poll before it leaves.

- Every session made by `make_session_factory` notices, at flush, an outbox row that is
  (again) pending. On PostgreSQL it then issues `NOTIFY` in that same transaction: the
  notification is delivered when, and only if, the transaction commits. On commit it also
  sets the in-process wake-up of every worker on the same database (a worker thread in the
  process that wrote the row, as in the demo and the tests).
- `Waker.wait` is the worker's idle wait: on PostgreSQL it LISTENs on a dedicated psycopg
  connection (reconnected, with a growing pause, if it drops: a restart of PostgreSQL
  must not end the worker); on SQLite, where another process has no channel, it looks at
  `PRAGMA data_version` (it changes when another connection commits) every few
  milliseconds, which costs no table read.

Any wake-up only makes the worker look at the outbox sooner; the poll stays the safety net
(a lost notification delays a delivery by at most the poll interval, never loses it).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from adapters.db.models import OutboxItem

CHANNEL = "marac_outbox"
PENDING = "pending"
# How often a SQLite worker looks for another process's commit: a transfer waits half of
# it on average before it leaves. A look (`PRAGMA data_version`, no table read) and its
# wake-up cost some 60 µs, about 1% of a core at this rate while the worker is idle.
SQLITE_LOOK = 0.005
# How long a PostgreSQL worker waits on its LISTEN connection before looking at `stop`.
LISTEN_SLICE = 0.25
# After a dropped or refused LISTEN connection: 0.5 s, doubling, at most 30 s (the poll
# covers the gap).
RECONNECT_PAUSE, RECONNECT_CAP = 0.5, 30.0
_QUEUED = "outbox_queued"
# A row due within this much is worth waking for (clocks read a moment apart).
DUE_MARGIN = timedelta(seconds=1)

log = logging.getLogger("gateway.worker")
_lock = threading.Lock()
_local: dict[str, set[threading.Event]] = {}


def _key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def install(factory: sessionmaker[Session]) -> None:
    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "after_commit", _after_commit)
    event.listen(factory, "after_rollback", _after_rollback)


def _after_flush(session: Session, _context: Any) -> None:
    if session.info.get(_QUEUED):
        return
    queued = any(
        isinstance(obj, OutboxItem) and _due(obj) for obj in (*session.new, *session.dirty)
    )
    if not queued:
        return
    session.info[_QUEUED] = True
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # Transactional: delivered on commit, dropped on rollback.
        connection.exec_driver_sql(f"NOTIFY {CHANNEL}")


def _due(item: OutboxItem) -> bool:
    """Pending, held by no worker and due now: a row a worker would claim. (A claim, or a
    retry put off by backoff, wakes nobody.)"""
    if item.status != PENDING or item.claimed_until is not None:
        return False
    when = item.next_attempt_at
    if when is None:
        return True
    now = datetime.now(UTC)
    return when <= (now if when.tzinfo else now.replace(tzinfo=None)) + DUE_MARGIN


def _after_commit(session: Session) -> None:
    if not session.info.pop(_QUEUED, False):
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    wake_local(engine)


def _after_rollback(session: Session) -> None:
    session.info.pop(_QUEUED, None)


def wake_local(engine: Engine) -> None:
    """Wake every worker of this process that delivers from this database."""
    with _lock:
        events = list(_local.get(_key(engine), ()))
    for wake in events:
        wake.set()


class Waker:
    """A worker's idle wait, cut short by a committed outbox row. Made before the worker's
    first look at the outbox, so a row committed in between is never missed."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._key = _key(engine)
        self._event = threading.Event()
        with _lock:
            _local.setdefault(self._key, set()).add(self._event)
        self._backend = engine.url.get_backend_name()
        self._listener: Any = None
        self._failures = 0
        self._retry_at = 0.0
        self._sqlite: sqlite3.Connection | None = None
        self._version: int | None = None
        if self._backend == "postgresql":
            self._listen()
        elif self._backend == "sqlite":
            self._open_sqlite()

    def wait(self, timeout: float, stop: threading.Event) -> bool:
        """Wait up to `timeout` seconds; True as soon as something may have been queued.
        Returns early (False) once `stop` is set."""
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            if self._event.is_set():
                self._event.clear()
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._backend == "postgresql":
                if self._pg_wait(min(left, LISTEN_SLICE)):
                    return True
            elif self._backend == "sqlite" and self._sqlite is not None:
                self._event.wait(min(left, SQLITE_LOOK))
                if self._sqlite_changed():
                    return True
            else:
                self._event.wait(min(left, LISTEN_SLICE))
        return False

    def close(self) -> None:
        with _lock:
            events = _local.get(self._key)
            if events is not None:
                events.discard(self._event)
                if not events:
                    del _local[self._key]
        self._close_listener()
        if self._sqlite is not None:
            with contextlib.suppress(sqlite3.Error):
                self._sqlite.close()
            self._sqlite = None

    # --- PostgreSQL ---------------------------------------------------------------------
    def _listen(self) -> bool:
        """A LISTEN connection; False (and a later retry) if the database cannot be reached."""
        if self._listener is not None:
            return True
        if time.monotonic() < self._retry_at:
            return False
        import psycopg  # only a PostgreSQL worker needs the driver here

        url = self._engine.url.set(drivername="postgresql")
        try:
            conn = psycopg.connect(
                url.render_as_string(hide_password=False), autocommit=True, connect_timeout=5
            )
            conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            self._failed(exc)
            return False
        self._listener = conn
        if self._failures:
            log.info("outbox notifications listened to again")
        self._failures = 0
        return True

    def _pg_wait(self, seconds: float) -> bool:
        import psycopg

        was_listening = self._listener is not None
        if not self._listen():
            self._event.wait(seconds)  # the poll covers the outage
            return False
        if not was_listening:
            return True  # (re)connected: whatever was queued meanwhile is due now
        try:
            got = sum(1 for _ in self._listener.notifies(timeout=seconds, stop_after=1))
            if got:
                # Drain what else a burst queued: one look at the outbox covers them all.
                for _more in self._listener.notifies(timeout=0.0):
                    pass
        except psycopg.Error as exc:
            self._close_listener()
            self._failed(exc)
            return True  # a notification may have been lost with the connection: look now
        return bool(got)

    def _failed(self, exc: BaseException) -> None:
        self._failures += 1
        pause = min(RECONNECT_CAP, RECONNECT_PAUSE * 2 ** min(self._failures - 1, 10))
        self._retry_at = time.monotonic() + pause
        log.warning(
            "outbox notifications unavailable (%s); polling, listening again in %.1f s",
            type(exc).__name__,
            pause,
        )

    def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._listener.close()
            self._listener = None

    # --- SQLite -------------------------------------------------------------------------
    def _open_sqlite(self) -> None:
        database = self._engine.url.database
        if not database or database == ":memory:":
            return  # one connection, one process: the in-process wake-up covers it
        try:
            uri = Path(database).resolve().as_uri() + "?mode=ro"
            self._sqlite = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._version = self._data_version()
        except sqlite3.Error:
            self._sqlite = None

    def _data_version(self) -> int | None:
        if self._sqlite is None:
            return None
        row = self._sqlite.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def _sqlite_changed(self) -> bool:
        try:
            version = self._data_version()
        except sqlite3.Error:
            return True  # busy or gone: let the worker's own pass find out
        changed = version != self._version
        self._version = version
        return changed

"""Engine and session factory for SQLite (embedded default) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import contextlib
import os
import select
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy import inspect as inspect_row
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from adapters.db import outbox_wake
from adapters.db.bulk import insert_rows, update_rows
from adapters.db.grants import MAINTAIN_FROM
from adapters.db.models import (
    AuditCheckpoint,
    AuditCosignature,
    AuditEvent,
    AuditRestore,
    Base,
)

APPEND_ONLY = (AuditEvent, AuditCheckpoint, AuditCosignature, AuditRestore)

SQLITE_BUSY_TIMEOUT_MS = 15_000


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names (or does not)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername != "postgresql+psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    # Bound parameters never appear in SQLAlchemy's logs or in its exception messages: they
    # can be a staff email at login (and anything else a query is ever handed).
    kwargs.setdefault("hide_parameters", True)
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        _create_owner_only(make_url(url).database)
        engine = create_engine(url, **kwargs)
        _tune_sqlite(engine)
        return engine
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_SECONDS)
    engine = create_engine(url, **kwargs)
    # The ORM's batches go in as psycopg's pipelined executemany (SQLAlchemy's default for
    # psycopg 3): one prepared single-row INSERT, every row in one round trip. A multi-row
    # INSERT ... VALUES ("insertmanyvalues") saves the server some work but costs this
    # process more (psycopg converts a query of over 50 parameters afresh each time) and
    # took longer for a batch of stored envelopes (bench/batch_insert.py); the rows the
    # hot paths write together go in as one unnest of arrays instead (adapters.db.bulk).
    _drop_dead_on_checkout(engine)
    return engine


# A pooled connection older than this is replaced rather than reused: a firewall or a
# proxy that drops idle connections silently gives no sign the checkout check could see.
POOL_RECYCLE_SECONDS = 1800


def _drop_dead_on_checkout(engine: Engine) -> None:
    """No pre-ping round trip on every checkout: an idle pooled connection whose socket
    has anything to read is dead (the server terminated it, restarted or failed over, and
    said so before closing; an idle session is sent nothing else, as pooled connections
    never LISTEN). That costs one poll() of the socket, no round trip. The pool then
    discards it and retries with a fresh connection (SQLAlchemy retries a checkout that
    raises DisconnectionError), so the first request after a database restart succeeds."""

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if getattr(dbapi_connection, "closed", False) or getattr(dbapi_connection, "broken", False):
            raise DisconnectionError("the pooled connection is closed")
        try:
            descriptor = dbapi_connection.fileno()
        except Exception as exc:
            raise DisconnectionError("the pooled connection has no socket") from exc
        poller = select.poll()
        poller.register(descriptor, select.POLLIN | select.POLLERR | select.POLLHUP)
        if poller.poll(0):
            raise DisconnectionError("the server ended the pooled connection")


def _create_owner_only(database: str | None) -> None:
    """SQLite creates a missing database file with the process umask (often readable by
    everyone); create it first, mode 0600, in an owner-only folder. Its -wal and -shm
    files take the database file's mode."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _tune_sqlite(engine: Engine) -> None:
    """WAL so readers never block the writer, a busy timeout so writers queue instead of
    failing, and BEGIN IMMEDIATE so a transaction takes the write lock up front rather than
    failing on upgrade half way through (the classic SQLite 'database is locked')."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Purged case content is overwritten on disk, not merely unlinked from the b-tree.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A read-only transaction (see read_only) must not take the write lock: `audit verify`
        # on a large log would otherwise stall every writer for its whole run, and a
        # receiver's checks would queue behind every store.
        deferred = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def is_outage(error: BaseException) -> bool:
    """The database could not be reached or dropped the connection (a restart, a failover,
    a full disk, SQLite's lock wait running out): transient, retried later, never a bug."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


class AppendOnlyViolation(RuntimeError):
    """Code tried to change or delete an audit row: a bug, never a user error."""


READ_ONLY = "gateway_read_only"


def param_mark(connection: Connection) -> str:
    """The driver's positional placeholder, for the few hot queries sent as plain SQL."""
    return "?" if connection.dialect.name == "sqlite" else "%s"


def insert_now(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert `rows` into `model`'s table at once, on the session's connection, in its
    transaction. Not through `Session.execute`, which flushes the session's pending ORM
    changes first, nor as ORM objects (SQLite cannot batch inserts that return their ids):
    either way a loop over a batch, such as recording its receipts, would write its rows one
    at a time rather than together at commit. For rows nothing reads back as objects in
    the same transaction, and whose foreign keys never point at a row still pending.
    Inside `writes_together`, the rows wait for the block's end or the session's next
    query, whichever comes first."""
    table = cast(Table, model.__table__)
    kept = session.info.get(_TOGETHER)
    if isinstance(kept, _Kept):
        kept.inserts.setdefault(table, []).extend(rows)
        return
    insert_rows(session.connection(), table, rows)


def update_later(session: Session, row: Base, **values: Any) -> None:
    """Set `values` on `row`, loaded in this transaction, and inside `writes_together`
    write them with the block's other changes to its table, one statement (on PostgreSQL
    `UPDATE ... FROM unnest(...)`), rather than in the ORM's flush, which sends one UPDATE
    a row and tracks each row's history (the larger part of recording a batch of receipts,
    in the worker's profile). Outside the block an ordinary assignment, which the flush
    writes; inside a savepoint too, whose rollback, unlike the transaction's, would not
    expire the row and leave it holding values never written. The row is then not changed
    otherwise in the block (a later assignment would be flushed before the block writes
    these), and no flush hook needs to see the change: never an outbox row made due again,
    which `outbox_wake` looks for at flush."""
    kept = session.info.get(_TOGETHER)
    if not isinstance(kept, _Kept) or session.in_nested_transaction():
        for name, value in values.items():
            setattr(row, name, value)
        return
    state = inspect_row(row)
    mapper = state.mapper
    table = cast(Table, mapper.local_table)
    identity = mapper.primary_key_from_instance(row)
    change = kept.updates.setdefault(
        (table, tuple(identity)),
        {
            str(column.key): value
            for column, value in zip(mapper.primary_key, identity, strict=True)
        },
    )
    for name, value in values.items():
        set_committed_value(row, name, value)
        change[str(mapper.columns[name].key)] = value


_TOGETHER = "gateway_writes_together"


@dataclass
class _Kept:
    """What a `writes_together` block keeps: new rows by table, and changes to loaded
    rows by table and primary key."""

    inserts: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    updates: dict[tuple[Table, tuple[Any, ...]], dict[str, Any]] = field(default_factory=dict)


@contextlib.contextmanager
def writes_together(session: Session) -> Iterator[None]:
    """Within the block, `insert_now` rows and `update_later` changes are kept and written
    at its end as one statement per table (and shape of change; `adapters.db.bulk`: on
    PostgreSQL one statement over `unnest(...)`, elsewhere an executemany): for a loop over
    a batch, such as storing the envelopes of an envelope batch, whose every step would
    otherwise insert its audit leaf, timeline step and notice on its own (a round trip each
    on PostgreSQL). A query through the session first writes what is kept, as autoflush
    does for ORM objects, so what the block reads includes it. If the block raises, what
    is kept is dropped with it (the caller's savepoint or transaction rolls back)."""
    if _TOGETHER in session.info:  # already inside one: the outer block writes them
        yield
        return
    session.info[_TOGETHER] = _Kept()
    try:
        yield
        write_kept(session)
    finally:
        session.info.pop(_TOGETHER, None)


def write_kept(session: Session) -> None:
    """Write what `writes_together` keeps, if anything: before a read that goes around
    the session (plain driver SQL on its connection), which `do_orm_execute` cannot see."""
    kept = session.info.get(_TOGETHER)
    if not isinstance(kept, _Kept) or not (kept.inserts or kept.updates):
        return
    inserts, updates = list(kept.inserts.items()), list(kept.updates.items())
    kept.inserts.clear()
    kept.updates.clear()
    connection = session.connection()
    for table, rows in inserts:  # in the order the tables were first used
        insert_rows(connection, table, rows)
    changes: dict[tuple[Table, frozenset[str]], list[dict[str, Any]]] = {}
    for (table, _identity), change in updates:
        changes.setdefault((table, frozenset(change)), []).append(change)
    for (table, _shape), rows in changes.items():
        update_rows(connection, table, rows)


@event.listens_for(Session, "do_orm_execute")
def _kept_before_reads(state: ORMExecuteState) -> None:
    write_kept(state.session)


def read_only(session: Session, *, snapshot: bool = False) -> None:
    """Make the session's (not yet started) transaction one that only reads. Call it
    before the transaction's first statement; a write in it is a bug.

    On SQLite the transaction is deferred: it takes no write lock, so under WAL it neither
    waits for a writer nor holds one up (an immediate one would queue behind every write
    of the node, and every write behind it), and it reads one snapshot from its first
    read. On PostgreSQL a plain read (READ COMMITTED) never waits on writers either, so
    nothing changes unless `snapshot`: several statements that must see one state of the
    database (`audit verify`) get REPEATABLE READ, read-only."""
    if session.in_transaction() and session.get_transaction() is not None:
        transaction = session.get_transaction()
        if transaction is not None and transaction._connections:
            raise RuntimeError("read_only must come before the transaction's first query")
    if session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={READ_ONLY: True})
    elif snapshot:
        session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # Expire on commit: an object read in one transaction is re-read in the next, so a
    # worker never decides on a row another process has changed in between.
    factory = sessionmaker(engine)
    event.listen(factory, "before_flush", _refuse_audit_changes)
    outbox_wake.install(factory)
    return factory


def _refuse_audit_changes(session: Session, _context: Any, _instances: Any) -> None:
    """The first guard of the append-only audit (the triggers are the second): the ORM
    never flushes an UPDATE or DELETE of a log row, whatever the backend."""
    changed = [obj for obj in session.dirty if session.is_modified(obj)]
    for obj in (*changed, *session.deleted):
        if isinstance(obj, APPEND_ONLY):
            raise AppendOnlyViolation(f"{type(obj).__name__} rows are append-only")


def reclaim(engine: Engine, tables: tuple[str, ...]) -> list[str]:
    """After a purge: on SQLite fold the write-ahead log into the database (secure_delete
    has zeroed the freed cells, the WAL still holds the old pages until then); on
    PostgreSQL VACUUM the tables so the old row versions are removed now rather than
    whenever autovacuum comes by. Returns the tables it could not vacuum: a role that
    neither owns a table nor holds MAINTAIN on it (adapters/db/grants.py) is skipped by
    PostgreSQL with only a warning, so the caller must say it loudly."""
    if engine.dialect.name == "sqlite":
        # Outside any transaction (a checkpoint cannot run inside one): the raw connection
        # is in autocommit mode, as _tune_sqlite leaves every connection.
        raw = engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
        return []
    skipped = []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in tables:
            if not _may_vacuum(connection, table):
                skipped.append(table)
                continue
            connection.exec_driver_sql(f"VACUUM {table}")  # table names are ours, not input
    return skipped


def _may_vacuum(connection: Connection, table: str) -> bool:
    owner = connection.execute(
        text("SELECT pg_has_role(tableowner, 'USAGE') FROM pg_tables WHERE tablename = :t"),
        {"t": table},
    ).scalar()
    if owner:
        return True
    version = int(connection.execute(text("SHOW server_version_num")).scalar_one())
    return version >= MAINTAIN_FROM and bool(
        connection.execute(
            text("SELECT has_table_privilege(:t, 'MAINTAIN')"), {"t": table}
        ).scalar()
    )

"""Consistent online copies of the node's database, and putting one back.

SQLite: the sqlite3 online backup API copies a consistent snapshot while the web app and
the worker keep writing (WAL mode); the copy is one self-contained file (rollback journal
mode, no -wal beside it). PostgreSQL: `pg_dump --format=custom` (one snapshot transaction)
and, to restore, `pg_restore` piped into `psql --single-transaction` after dropping the
schema, so a restore that fails half way changes nothing.

The master key is never in a backup: the database holds area keys only sealed under it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
# pg_restore's script runs after this, in the same transaction.
PG_RESET = b"DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n"
TOOL_TIMEOUT = 3600


class BackupError(Exception):
    """The copy could not be made or put back; the message says why (no data in it)."""


def backend(url: str) -> str:
    return str(make_url(url).get_backend_name())


def backup(url: str, target: Path) -> None:
    """Write a consistent copy of the database at `url` to `target` (mode 0600; refused if
    it exists, so an older backup is never overwritten by mistake)."""
    if target.exists():
        raise BackupError(f"{target} exists; choose a new file")
    partial = target.with_name(target.name + ".partial")
    _create_owner_only(partial)
    try:
        if backend(url) == "sqlite":
            _sqlite_backup(_sqlite_path(url), partial)
        else:
            _run(["pg_dump", "--format=custom", f"--file={partial}"], make_url(url))
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def restore(url: str, source: Path) -> None:
    """Replace the database at `url` with the backup `source` (made by `backup` for the
    same kind of database). Stop the web app and the worker first."""
    try:
        magic = source.read_bytes()[:16]
    except FileNotFoundError:
        raise BackupError(f"{source}: no such file") from None
    if backend(url) == "sqlite":
        if magic != SQLITE_MAGIC:
            raise BackupError(f"{source} is not a SQLite backup")
        _sqlite_restore(source, _sqlite_path(url))
        return
    if not magic.startswith(PG_MAGIC):
        raise BackupError(f"{source} is not a pg_dump custom-format backup")
    _pg_restore(make_url(url), source)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("the database is not a SQLite file")
    return Path(database)


def _sqlite_backup(database: Path, target: Path) -> None:
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        # One file to keep: no write-ahead log beside it.
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()
        source.close()


def _sqlite_restore(backup_file: Path, database: Path) -> None:
    source = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    try:
        if source.execute("PRAGMA quick_check").fetchone() != ("ok",):
            raise BackupError(f"{backup_file} is damaged (quick_check failed)")
        if not database.exists():
            _create_owner_only(database)
        target = sqlite3.connect(database)
        try:
            # The backup API writes every page under one lock: readers see the old database
            # or the restored one, never a mixture.
            source.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
        finally:
            target.close()
    finally:
        source.close()


def _pg_restore(url: URL, source: Path) -> None:
    for tool in ("pg_restore", "psql"):
        if shutil.which(tool) is None:
            raise BackupError(f"{tool} is not installed (PostgreSQL client tools)")
    script = _run(["pg_restore", "--file=-", str(source)], url, capture=True)
    _run(
        ["psql", "--quiet", "--no-psqlrc", "--single-transaction", "-v", "ON_ERROR_STOP=1"],
        url,
        stdin=PG_RESET + script,
    )


def _run(
    command: list[str], url: URL, *, capture: bool = False, stdin: bytes | None = None
) -> bytes:
    """Run a PostgreSQL client tool against `url`; the password goes in the environment,
    never on the command line (where `ps` would show it)."""
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL client tools)")
    env = {**os.environ, **_libpq_env(url)}
    database = [] if command[0] == "pg_restore" else [f"--dbname={url.database or ''}"]
    try:
        done = subprocess.run(  # noqa: S603 - fixed tools, arguments we built
            [*command, *database],
            env=env,
            input=stdin,
            capture_output=True,
            timeout=TOOL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BackupError(f"{command[0]} did not finish in {TOOL_TIMEOUT} s") from None
    if done.returncode != 0:
        # The tools' messages name objects, never row values; keep the last line only.
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise BackupError(f"{command[0]} failed: {lines[-1] if lines else done.returncode}")
    return done.stdout if capture else b""


def _libpq_env(url: URL) -> dict[str, str]:
    pairs = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
    }
    return {name: str(value) for name, value in pairs.items() if value}


def _create_owner_only(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))

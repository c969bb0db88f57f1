"""A read-only transaction on SQLite is deferred (adapters/db/session.py `read_only`): it
reads while another connection holds the write lock, where an immediate one would queue
behind it for up to the busy timeout. The receiver's checks and the worker's route lookup
are read-only, so a store or a claim never holds them up."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from adapters.db import make_engine, upgrade
from adapters.db.session import make_session_factory, read_only


def _read_area_count(
    factory: sessionmaker[Session], *, only_reads: bool, done: threading.Event
) -> None:
    with factory() as session, session.begin():
        if only_reads:
            read_only(session)
        session.execute(text("SELECT count(*) FROM areas")).scalar_one()
    done.set()


def test_a_read_only_transaction_reads_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    factory = make_session_factory(engine)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        reader_done, immediate_done = threading.Event(), threading.Event()
        reader = threading.Thread(
            target=_read_area_count,
            args=(factory,),
            kwargs={"only_reads": True, "done": reader_done},
        )
        immediate = threading.Thread(
            target=_read_area_count,
            args=(factory,),
            kwargs={"only_reads": False, "done": immediate_done},
            daemon=True,
        )
        reader.start()
        immediate.start()
        # The deferred reader finishes with the lock still held; the immediate one waits.
        assert reader_done.wait(10), "the read-only transaction waited for the writer"
        assert not immediate_done.is_set()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert immediate_done.wait(10)
    reader.join()
    immediate.join()
    engine.dispose()


def test_read_only_must_come_before_the_first_statement(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'node.db'}")
    upgrade(engine)
    with Session(engine) as session, session.begin():
        session.execute(text("SELECT 1"))
        with pytest.raises(RuntimeError, match="before the transaction's first query"):
            read_only(session)
    engine.dispose()

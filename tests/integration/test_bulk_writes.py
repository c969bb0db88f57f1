"""`adapters.db.bulk`: a batch of rows in one statement, and a batch of changes to rows in
one statement (on PostgreSQL an unnest of one array a column, sent in binary; elsewhere an
executemany), read back exactly as written, whatever the column types, NULLs and
defaults."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    event,
    select,
)
from sqlalchemy.exc import IntegrityError
from support.nodes import Databases

from adapters.db import make_engine
from adapters.db.bulk import insert_rows, update_rows
from adapters.db.models import UTCDateTime

_numbers = itertools.count(1000)

METADATA = MetaData()
ROWS = Table(
    "bulk_rows",
    METADATA,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("name", String(36), nullable=False),
    Column("body", Text),
    Column("seq", BigInteger),
    Column("flag", Boolean),
    Column("sealed", LargeBinary),
    Column("at", UTCDateTime),
    Column("on", Date),
    Column("attempts", Integer, default=0),
    Column("note", Text, default=None),
)
COUNTED = Table(
    "bulk_counted",
    METADATA,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("number", Integer, default=lambda: next(_numbers)),
    Column("name", String(36)),
)


@pytest.fixture
def engine(databases: Databases) -> Iterator[Engine]:
    made = make_engine(databases.new("bulk"))
    METADATA.create_all(made)
    yield made
    made.dispose()


def _row(number: int) -> dict[str, Any]:
    return {
        "name": f"row-{number}",
        "body": 'é "quoted" {json} \\ and a\nnewline' * (number % 3 + 1),
        "seq": 2**40 + number,  # past a 32-bit integer
        "flag": number % 2 == 0,
        "sealed": bytes([0, 255, 92, 34, number % 256]) * 20,
        "at": datetime(2026, 12, 4, 9, 30, tzinfo=UTC) + timedelta(seconds=number),
        "on": date(2026, 12, 4) + timedelta(days=number),
    }


def _statements(engine: Engine, verb: str = "INSERT") -> list[tuple[str, bool]]:
    seen: list[tuple[str, bool]] = []

    def on_statement(
        _c: Any, _cursor: Any, statement: str, _p: Any, _ctx: Any, executemany: bool
    ) -> None:
        if statement.startswith(verb):
            seen.append((statement, executemany))

    event.listen(engine, "before_cursor_execute", on_statement)
    return seen


def test_a_batch_reads_back_exactly_as_written(engine: Engine) -> None:
    rows = [_row(number) for number in range(30)]
    rows[3] = {**rows[3], "body": None, "seq": None, "flag": None, "sealed": None, "at": None}
    with engine.begin() as connection:
        insert_rows(connection, ROWS, rows)
    with engine.connect() as connection:
        found = connection.execute(select(ROWS).order_by(ROWS.c.pk)).mappings().all()
    assert [{key: row[key] for key in rows[0]} for row in found] == rows
    # Left out: the scalar defaults, as SQLAlchemy's own insert writes them.
    assert {(row["attempts"], row["note"]) for row in found} == {(0, None)}
    assert [row["pk"] for row in found] == list(range(1, 31))


def test_on_postgresql_a_batch_is_one_statement_whose_text_does_not_grow(
    engine: Engine, backend: str
) -> None:
    seen = _statements(engine)
    for count in (2, 25):
        with engine.begin() as connection:
            insert_rows(connection, ROWS, [_row(number) for number in range(count)])
    if backend == "postgresql":
        assert len(seen) == 2
        assert seen[0] == seen[1], "the text changed with the number of rows"
        statement, executemany = seen[0]
        assert "unnest(" in statement and not executemany
    else:
        assert [executemany for _, executemany in seen] == [True, True]


def test_a_default_computed_per_row_is_computed_for_every_row(engine: Engine) -> None:
    with engine.begin() as connection:
        insert_rows(connection, COUNTED, [{"name": "a"}, {"name": "b"}, {"name": "c"}])
    with engine.connect() as connection:
        numbers = connection.execute(select(COUNTED.c.number)).scalars().all()
    assert len(set(numbers)) == 3


def test_one_row_and_a_failed_batch_leave_nothing_half_written(engine: Engine) -> None:
    with engine.begin() as connection:
        insert_rows(connection, ROWS, [_row(1)])
    bad = [_row(2), {**_row(3), "name": None}]  # name is NOT NULL
    with pytest.raises(IntegrityError), engine.begin() as connection:
        insert_rows(connection, ROWS, bad)
    with engine.connect() as connection:
        names = connection.execute(select(ROWS.c.name)).scalars().all()
    assert names == ["row-1"]


def test_a_batch_of_changes_reaches_exactly_the_rows_named(engine: Engine, backend: str) -> None:
    rows = [_row(number) for number in range(10)]
    with engine.begin() as connection:
        insert_rows(connection, ROWS, rows)
    changes = [
        {
            "pk": pk,
            "body": None if pk == 3 else f"changed {pk} é",
            "seq": 2**41 + pk,
            "sealed": b"\x00\xff" * pk,
            "at": datetime(2027, 1, 1, tzinfo=UTC) + timedelta(minutes=pk),
        }
        for pk in (2, 3, 7)
    ]
    seen = _statements(engine, "UPDATE")
    with engine.begin() as connection:
        update_rows(connection, ROWS, changes)
    with engine.connect() as connection:
        found = connection.execute(select(ROWS).order_by(ROWS.c.pk)).mappings().all()
    by_pk = {change["pk"]: change for change in changes}
    for number, row in enumerate(found):
        expected = {
            **rows[number],
            **{k: v for k, v in by_pk.get(row["pk"], {}).items() if k != "pk"},
        }
        assert {key: row[key] for key in expected} == expected
    if backend == "postgresql":
        [(statement, executemany)] = seen
        assert "FROM unnest(" in statement and not executemany, statement
    else:
        assert [executemany for _, executemany in seen] == [True]


def test_changes_of_different_shapes_are_refused_before_anything_is_written(
    engine: Engine,
) -> None:
    with engine.begin() as connection:
        insert_rows(connection, ROWS, [_row(1), _row(2)])
    with pytest.raises(ValueError, match="one shape"), engine.begin() as connection:
        update_rows(connection, ROWS, [{"pk": 1, "seq": 5}, {"pk": 2, "body": "x"}])
    with pytest.raises(ValueError, match="primary key"), engine.begin() as connection:
        update_rows(connection, ROWS, [{"seq": 5}, {"seq": 6}])
    with engine.connect() as connection:
        assert connection.execute(select(ROWS.c.seq).order_by(ROWS.c.pk)).scalars().all() == [
            2**40 + 1,
            2**40 + 2,
        ]

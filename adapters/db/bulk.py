"""A batch of rows into one table, or a batch of changes to its rows, in one statement.

On PostgreSQL (psycopg 3) a batch goes in as `INSERT INTO t (a, b) SELECT * FROM
unnest($1::a_type[], $2::b_type[])`: one array a column, sent in binary. The server plans
and runs one statement instead of one a row, and the statement's text is the same for any
number of rows, so psycopg converts it once and prepares it (a multi-row `INSERT ...
VALUES` carries every row's placeholders and is converted afresh for every batch). On the
gateway's own tables it took less of this process's CPU and of the server's than the
pipelined executemany, for wide rows (stored envelopes) and narrow ones alike
(bench/batch_insert.py). Elsewhere, or for rows the arrays cannot carry as they are, the
rows go in as an executemany, as before. Changes to loaded rows go the same way: `UPDATE
... FROM unnest(...)` on PostgreSQL, one statement where the ORM's flush sends one UPDATE a
row.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table, bindparam, insert, update
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any] | None
_FROM_ROW = object()  # the column's value is in every row (not its default)
_Columns = tuple[tuple[str, Any, Processor], ...]


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts keyed by column name) into `table`, in the connection's
    transaction, as one statement."""
    plan = _unnest_plan(connection.dialect, table, rows)
    if plan is None:
        connection.execute(insert(table), list(rows))
        return
    sql, columns = plan
    connection.exec_driver_sql(sql, tuple(_array(rows, *column) for column in columns))


def _array(
    rows: Sequence[dict[str, Any]], name: str, default: Any, processor: Processor
) -> list[Any]:
    values = [row[name] for row in rows] if default is _FROM_ROW else [default] * len(rows)
    return values if processor is None else [processor(value) for value in values]


def _unnest_plan(
    dialect: Dialect, table: Table, rows: Sequence[dict[str, Any]]
) -> tuple[str, _Columns] | None:
    """The statement and its columns (name, `_FROM_ROW` or the value when the rows leave
    it out, bind processor), or None when the executemany must do: not psycopg, fewer than
    two rows, rows of different shapes, or a left-out column whose default is computed per
    row."""
    if len(rows) < 2 or not _on_psycopg(dialect):
        return None
    names = _shape(rows)
    return None if names is None else _statement(dialect, table, names)


def _shape(rows: Sequence[dict[str, Any]]) -> frozenset[str] | None:
    """The names every row gives (at least one row), or None when the rows differ."""
    names = frozenset(rows[0])
    if any(len(row) != len(names) or not names.issuperset(row) for row in rows):
        return None
    return names


def _on_psycopg(dialect: Dialect) -> bool:
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def _array_cast(column: Column[Any], dialect: Dialect) -> str:
    # %b: psycopg sends the array in binary, with no text escaping of its elements.
    return f"%b::{column.type.compile(dialect=dialect)}[]"


def _processor(column: Column[Any], dialect: Dialect) -> Processor:
    return column.type.dialect_impl(dialect).bind_processor(dialect)


@functools.lru_cache(maxsize=256)
def _statement(
    dialect: Dialect, table: Table, names: frozenset[str]
) -> tuple[str, _Columns] | None:
    if not names.issubset(table.c.keys()):
        return None  # the executemany says which names are unknown
    columns: list[tuple[Column[Any], Any]] = []
    for column in table.c:
        if column.key in names:
            columns.append((column, _FROM_ROW))
        elif column.default is not None:
            if not column.default.is_scalar:
                return None  # a default computed per row: SQLAlchemy's own insert runs it
            columns.append((column, getattr(column.default, "arg", None)))
    preparer = dialect.identifier_preparer
    arrays = ", ".join(_array_cast(column, dialect) for column, _ in columns)
    sql = (
        # Names and types from the table's own metadata, never from the rows' values.
        f"INSERT INTO {preparer.format_table(table)} "  # noqa: S608
        f"({', '.join(preparer.quote(column.name) for column, _ in columns)}) "
        f"SELECT * FROM unnest({arrays})"
    )
    return sql, tuple(
        (column.key, default, _processor(column, dialect)) for column, default in columns
    )


def update_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Update rows of `table`, each named once by its primary key, with the other values
    of its dict (every dict of the same shape), as one statement: on PostgreSQL `UPDATE t
    SET c = v.c FROM unnest(...) AS v(...) WHERE t.pk = v.pk`, elsewhere an executemany.
    No `onupdate` default runs (the gateway's models have none)."""
    if not rows:
        return
    names = _shape(rows)
    if names is None:
        raise ValueError("update_rows takes rows of one shape")
    keys = tuple(column.key for column in table.primary_key.columns)
    if not set(keys) < names:
        raise ValueError("each row names its primary key and at least one value")
    dialect = connection.dialect
    if len(rows) > 1 and _on_psycopg(dialect):
        sql, columns = _update_statement(dialect, table, names)
        connection.exec_driver_sql(sql, tuple(_array(rows, *column) for column in columns))
        return
    where = [table.c[key] == bindparam(f"_key_{key}") for key in keys]
    values: dict[str, Any] = {
        name: bindparam(f"_value_{name}") for name in names if name not in keys
    }
    connection.execute(
        update(table).where(*where).values(values),
        [
            {
                (f"_key_{name}" if name in keys else f"_value_{name}"): value
                for name, value in row.items()
            }
            for row in rows
        ],
    )


@functools.lru_cache(maxsize=256)
def _update_statement(
    dialect: Dialect, table: Table, names: frozenset[str]
) -> tuple[str, _Columns]:
    keys = list(table.primary_key.columns)
    named = {key.key for key in keys}
    columns = keys + [column for column in table.c if column.key in names - named]
    preparer = dialect.identifier_preparer
    arrays = ", ".join(_array_cast(column, dialect) for column in columns)
    target = preparer.format_table(table)
    sql = (
        # Names and types from the table's own metadata, never from the rows' values.
        f"UPDATE {target} SET "  # noqa: S608
        + ", ".join(
            f"{preparer.quote(column.name)} = v.{preparer.quote(column.name)}"
            for column in columns[len(keys) :]
        )
        + f" FROM unnest({arrays}) AS v("
        + ", ".join(preparer.quote(column.name) for column in columns)
        + ") WHERE "
        + " AND ".join(
            f"{target}.{preparer.quote(key.name)} = v.{preparer.quote(key.name)}" for key in keys
        )
    )
    return sql, tuple((column.key, _FROM_ROW, _processor(column, dialect)) for column in columns)

"""The audit tables refuse to change: the database refuses UPDATE, DELETE (and TRUNCATE on
PostgreSQL) through an ordinary connection, and the ORM refuses to flush a change to a log
row on either backend. After every refused attempt the log is exactly as it was."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from support.audit_world import NORTH, World, column, raw_leaves, rows, verify_area

from adapters.db.models import AuditCheckpoint, AuditCosignature, AuditEvent
from adapters.db.session import AppendOnlyViolation

STATEMENTS = {
    "audit_events": {
        "update-leaf": "UPDATE audit_events SET leaf = '{}' WHERE seq = 4",
        "update-hash": "UPDATE audit_events SET leaf_hash = leaf_hash WHERE seq = 4",
        "delete-one": "DELETE FROM audit_events WHERE seq = 8",
        "delete-all": "DELETE FROM audit_events",
    },
    "audit_checkpoints": {
        "update-root": "UPDATE audit_checkpoints SET root = root WHERE size = 5",
        "delete-one": "DELETE FROM audit_checkpoints WHERE size = 8",
    },
    "audit_cosignatures": {
        "update-size": "UPDATE audit_cosignatures SET size = size + 1",
        "delete-all": "DELETE FROM audit_cosignatures",
    },
}
ORM_TARGETS = {
    "event": (AuditEvent, lambda row: setattr(row, "leaf", "{}")),
    "checkpoint": (AuditCheckpoint, lambda row: setattr(row, "root", b"\x00" * 32)),
    "cosignature": (AuditCosignature, lambda row: setattr(row, "size", row.size + 1)),
}
TABLES = tuple(STATEMENTS)


def snapshot(world: World) -> dict[str, object]:
    """Every audit row, every column."""
    north = world.north
    return {
        "leaves": raw_leaves(north, NORTH),
        **{
            table: [tuple(row) for row in rows(north, f"SELECT * FROM {table} ORDER BY 1, 2")]  # noqa: S608
            for table in TABLES
        },
        "subtrees": column(north, "SELECT subtrees FROM audit_events ORDER BY seq"),
    }


def test_plain_sql_cannot_change_or_delete_audit_rows(world: World) -> None:
    north = world.north
    before = snapshot(world)
    assert all(before[table] for table in TABLES), before  # there is something to protect
    for table, statements in STATEMENTS.items():
        for name, sql in statements.items():
            with pytest.raises(DBAPIError, match="append-only"), north.node.engine.begin() as c:
                c.execute(text(sql))
            assert snapshot(world) == before, f"{table} {name} changed something"
    assert verify_area(north, NORTH).ok


def test_truncate_is_refused_on_postgresql(world: World) -> None:
    north = world.north
    if world.backend != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (its DELETE without WHERE is refused above)")
    before = snapshot(world)
    for table in TABLES:
        with pytest.raises(DBAPIError, match="append-only"), north.node.engine.begin() as c:
            c.execute(text(f"TRUNCATE {table} CASCADE"))
    assert snapshot(world) == before
    assert verify_area(north, NORTH).ok


@pytest.mark.parametrize("target", list(ORM_TARGETS))
def test_the_orm_refuses_to_modify_or_delete_a_log_row(world: World, target: str) -> None:
    north = world.north
    model, change = ORM_TARGETS[target]
    if world.backend == "sqlite":
        # The code guard must hold on its own: take the triggers away (the file is restored
        # before the next test).
        triggers = column(
            north,
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'audit%'",
        )
        assert len(triggers) == 8, triggers  # audit_restores is append-only too
        with north.node.engine.begin() as connection:
            for name in triggers:
                connection.execute(text(f'DROP TRIGGER "{name}"'))
    before = snapshot(world)
    with north.node.sessions() as session:
        session.begin()
        change(session.scalars(select(model).limit(1)).one())
        with pytest.raises(AppendOnlyViolation):
            session.commit()
        session.rollback()

        session.begin()
        session.delete(session.scalars(select(model).limit(1)).one())
        with pytest.raises(AppendOnlyViolation):
            session.commit()
        session.rollback()
    assert snapshot(world) == before
    assert verify_area(north, NORTH).ok

"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL,
and upgrading an up-to-date database changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from support.nodes import Databases

from adapters.db import make_engine, upgrade
from adapters.db.migrate import alembic_config
from adapters.db.models import Base


def fresh_engine(databases: Databases, name: str) -> Engine:
    url = databases.new(name)
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return make_engine(url)


def differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "compare_server_default": True},
        )
        return list(compare_metadata(context, Base.metadata))


def snapshot(engine: Engine) -> dict[str, Any]:
    """Everything the inspector can tell about the schema, comparable between runs."""
    inspector = inspect(engine)
    tables: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        tables[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in inspector.get_columns(table)
            ],
            "pk": inspector.get_pk_constraint(table),
            "fks": sorted(str(fk) for fk in inspector.get_foreign_keys(table)),
            "indexes": sorted(str(ix) for ix in inspector.get_indexes(table)),
            "uniques": sorted(str(uq) for uq in inspector.get_unique_constraints(table)),
        }
    return tables


def test_migrated_schema_matches_the_models(databases: Databases) -> None:
    engine = fresh_engine(databases, "migrated")
    try:
        upgrade(engine)
        assert differences(engine) == []
        tables = set(inspect(engine).get_table_names())
        assert tables == set(Base.metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_twice_is_a_no_op(databases: Databases) -> None:
    engine = fresh_engine(databases, "twice")
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    try:
        upgrade(engine)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO used_tokens (jti, issuer, expires_at) "
                    "VALUES ('kept', 'northshire', '2030-01-01 00:00:00')"
                )
            )
        before = snapshot(engine)

        upgrade(engine)

        assert snapshot(engine) == before
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
            kept = connection.execute(text("SELECT jti FROM used_tokens")).scalars().all()
        assert [tuple(row) for row in versions] == [(head,)]
        assert kept == ["kept"]
        assert differences(engine) == []
    finally:
        engine.dispose()

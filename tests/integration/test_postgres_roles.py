"""Production roles on the real PostgreSQL: migrations as the owner, the node as a role
that owns nothing (`marac-gateway db grant`). The app role serves, delivers, runs the
worker's chores and purges; it cannot change the audit or its triggers, and the purge
says loudly that the owner must VACUUM."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from support.nodes import Databases, RunningNode, pg_admin_url, start_node
from werkzeug.serving import make_server

from adapters.db import make_engine
from adapters.db.grants import PURGED_TABLES
from adapters.db.session import normalise_url, reclaim
from gateway.app import create_app
from gateway.config import Settings
from gateway.devtools.samples import sample_transfer
from gateway.domain import retention
from gateway.domain.clock import utcnow
from gateway.domain.identity.actors import Actor
from gateway.node import build_node


def admin(statement: str) -> None:
    engine = create_engine(normalise_url(pg_admin_url() or ""), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


@pytest.fixture
def roles() -> Iterator[tuple[str, str]]:
    """A database owned by a fresh owner role; the URLs of the owner and the app role."""
    if not pg_admin_url():
        pytest.skip("needs PostgreSQL: set GATEWAY_TEST_DATABASE_URL")
    suffix = uuid.uuid4().hex[:10]
    owner, app, database = f"gw_owner_{suffix}", f"gw_app_{suffix}", f"marac_roles_{suffix}"
    admin(f"CREATE ROLE {owner} LOGIN")
    admin(f"CREATE ROLE {app} LOGIN")
    admin(f"CREATE DATABASE {database} OWNER {owner}")
    base = make_url(normalise_url(pg_admin_url() or "")).set(database=database)
    try:
        yield (
            base.set(username=owner).render_as_string(hide_password=False),
            base.set(username=app).render_as_string(hide_password=False),
        )
    finally:
        admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin(f"DROP ROLE IF EXISTS {app}")
        admin(f"DROP ROLE IF EXISTS {owner}")


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def serve_in_thread(name: str, settings: Settings) -> RunningNode:
    node = build_node(settings)
    server = make_server("127.0.0.1", 0, create_app(settings, node), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    return RunningNode(name, settings.instance_dir, settings, node, url, server, thread)


def test_the_node_runs_as_a_role_that_owns_nothing(roles: tuple[str, str], tmp_path: Path) -> None:
    owner_url, app_url = roles
    home = tmp_path / "north"
    env = {
        "PATH": "/usr/bin:/bin",
        "GATEWAY_INSTANCE_DIR": str(home),
        "GATEWAY_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
    }
    app_role = make_url(app_url).username or ""
    cli({**env, "GATEWAY_DATABASE_URL": owner_url}, "db", "upgrade")
    granted = cli({**env, "GATEWAY_DATABASE_URL": owner_url}, "db", "grant", app_role)
    assert app_role in granted.stdout

    databases = Databases("postgresql", tmp_path)
    north = serve_in_thread("north", Settings.from_env({**env, "GATEWAY_DATABASE_URL": app_url}))
    try:
        south = start_node("south", databases, tmp_path)
        try:
            exchange_and_purge(north, south)
        finally:
            south.stop()
    finally:
        north.stop()
        databases.drop_all()

    purged = cli({**env, "GATEWAY_DATABASE_URL": app_url}, "retention", "purge")
    assert "WARNING: not vacuumed" in purged.stderr and "VACUUM envelopes" in purged.stderr
    owner = make_engine(owner_url)
    try:
        assert reclaim(owner, PURGED_TABLES) == []  # the owner may
    finally:
        owner.dispose()

    engine = create_engine(normalise_url(app_url))
    try:
        for refused in (
            "UPDATE audit_events SET action = action",
            "ALTER TABLE audit_events DISABLE TRIGGER ALL",
            "CREATE TABLE intruder (id int)",
            "UPDATE alembic_version SET version_num = version_num",
        ):
            with (
                pytest.raises(DBAPIError, match=r"permission denied|must be owner"),
                engine.begin() as connection,
            ):
                connection.execute(text(refused))
    finally:
        engine.dispose()


def exchange_and_purge(north: RunningNode, south: RunningNode) -> None:
    """What the app role does day to day: areas and keys, a transfer queued, delivered
    with the worker's chores, readiness, and the retention purge's deletes."""
    north.create_area("northshire")
    south.create_area("south-vale")
    south.import_peer(north.bundle("northshire"))
    north.import_peer(south.bundle("south-vale"))
    north.send(sample_transfer("northshire", "south-vale"), "northshire", "south-vale")
    assert north.deliver() == 1
    assert [t.status for t in north.transfers("northshire")] == ["delivered"]
    assert north.app.test_client().get("/readyz").status_code == 200
    with north.node.sessions() as session:
        reports = retention.purge(
            session,
            now=utcnow() + timedelta(days=800),
            default_months=1,
            actor=Actor.operator(),
        )
    assert [r.transfers for r in reports] == [1]

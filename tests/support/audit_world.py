"""Fixtures and helpers for the disclosure-audit tests (a pytest plugin: test modules load it
registered as a plugin by tests/conftest.py).

Building two real nodes and real traffic costs seconds (creating and dropping PostgreSQL
databases most of all), and the audit tests need many independent copies of the same
history. So each backend builds ONE template per session: two nodes serving real HTTP on
loopback, several transfers sealed, delivered and receipted, several signed checkpoints, a
peer verification with its co-signature. Its databases are then snapshotted, and before
every test the `world` fixture puts them back exactly: the SQLite file is replaced (after
the connection pool is emptied), every PostgreSQL row is deleted and re-inserted (in
replica mode, so neither the append-only nor the foreign-key triggers interfere).

The template's north log (area northshire), entry by entry:
  0 area.created  1 peer.imported  2 sent T1  3 delivered T1  4 sent T2  5 delivered T2
  6 sent T3  7 delivered T3  8 audit.cosigned (south witnessed size 8)
with north checkpoints of sizes 3, 5, 7 (one per send, carried as evidence) and 8, which
south holds as peer checkpoints. T1's victim is the sample victim (Ada Example, born
1990-04-01).

Tampering helpers act as an insider with database rights would: on PostgreSQL they turn the
append-only triggers off for their own transaction (`session_replication_role = replica`,
the test user is a superuser); on SQLite they drop the triggers and put them back after.

Test modules import helpers from here before pytest loads it as a plugin, so it cannot be
assertion-rewritten; PYTEST_DONT_REWRITE says so (its asserts carry their own messages).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Connection, MetaData, Table, select, text
from support.nodes import Databases, RunningNode, pg_admin_url, start_node

from gateway.cli import main as cli_main
from gateway.devtools.samples import sample_transfer
from gateway.domain.areas import local_areas
from gateway.domain.audit import checkpoints, verify, witness
from gateway.domain.audit.verify import LogReport
from gateway.domain.clock import utcnow
from keys import b64url_decode, b64url_encode, canonical_json, format_time, sign_document
from keys.merkle import Frontier, NodeId, leaf_hash, node_hash

NORTH, SOUTH = "northshire", "south-vale"
SAMPLE_VICTIM = ("Ada", "Example", "1990-04-01")
TEMPLATE_VICTIMS = ("Ada", "Cora", "Dina")
APPEND_ONLY = ("audit_events", "audit_checkpoints", "audit_cosignatures")


# --- the template -----------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    victim: str
    transfer_id: str
    envelope_id: str


@dataclass
class Snapshot:
    """The template's databases as they stood when it was built, to put back before each
    test: the SQLite file itself, or every row of every PostgreSQL table."""

    sqlite_files: dict[str, Path] = field(default_factory=dict)
    pg_rows: dict[str, list[tuple[Table, list[dict[str, Any]]]]] = field(default_factory=dict)


@dataclass
class Template:
    backend: str
    north: RunningNode
    south: RunningNode
    sent: list[Sent]
    snapshot: Snapshot = field(default_factory=Snapshot)

    @property
    def nodes(self) -> tuple[RunningNode, RunningNode]:
        return self.north, self.south


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def audit_backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not pg_admin_url():
        pytest.skip("GATEWAY_TEST_DATABASE_URL not set")
    return str(request.param)


@pytest.fixture(scope="session")
def audit_template(
    audit_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Template]:
    root = tmp_path_factory.mktemp(f"audit-{audit_backend}")
    databases = Databases(audit_backend, root)
    started: list[RunningNode] = []
    try:
        north = start_node("north", databases, root)
        started.append(north)
        south = start_node("south", databases, root)
        started.append(south)
        template = _build(audit_backend, north, south)
        _take_snapshot(template, root / "snapshot")
        yield template
    finally:
        for node in started:
            node.stop()
        databases.drop_all()


def _build(backend: str, north: RunningNode, south: RunningNode) -> Template:
    north.create_area(NORTH)
    south.create_area(SOUTH)
    south.import_peer(north.bundle(NORTH))
    north.import_peer(south.bundle(SOUTH))
    sent = []
    for victim in TEMPLATE_VICTIMS:
        view = north.send(sample_transfer(NORTH, SOUTH, victim=victim), NORTH, SOUTH)
        assert north.deliver() == 1, "the template's transfer was not delivered"
        sent.append(Sent(victim, view.id, view.envelope_id))
    with north.node.sessions() as session, session.begin():
        checkpoints.issue(session, north.node.master, NORTH, utcnow())
    with south.node.sessions() as session:
        checked = witness.verify_peer(
            session, south.node.master, south.node.client, NORTH, utcnow()
        )
    assert checked.ok and checked.cosigned, checked.problems
    found = (
        north.count("audit_events"),
        sorted(column(north, "SELECT size FROM audit_checkpoints")),
        sorted(column(south, "SELECT size FROM peer_checkpoints")),
    )
    assert found == (9, [3, 5, 7, 8], [3, 5, 7, 8]), f"the template is not as documented: {found}"
    for node in (north, south):
        assert verify_area(node, node.areas[0]).ok, "the template's log does not verify"
    return Template(backend, north, south, sent)


def _sqlite_path(node: RunningNode) -> Path:
    return Path(node.settings.database_url.removeprefix("sqlite:///"))


def _take_snapshot(template: Template, where: Path) -> None:
    where.mkdir()
    for node in template.nodes:
        if template.backend == "sqlite":
            # With its last connection closed, SQLite folds the WAL into the file.
            node.node.engine.dispose()
            path = _sqlite_path(node)
            assert not path.with_name(path.name + "-wal").exists(), "the WAL outlived the pool"
            template.snapshot.sqlite_files[node.name] = where / f"{node.name}.db"
            shutil.copyfile(path, template.snapshot.sqlite_files[node.name])
            continue
        metadata = MetaData()
        metadata.reflect(node.node.engine)
        with node.node.engine.connect() as connection:
            template.snapshot.pg_rows[node.name] = [
                (table, [dict(row._mapping) for row in connection.execute(select(table))])
                for table in metadata.sorted_tables
            ]


def restore(template: Template) -> None:
    """Put every database back as the template left it, before each test."""
    for node in template.nodes:
        if template.backend == "sqlite":
            # No connection may survive into the new file: the pool is emptied first, and the
            # old file and its WAL are unlinked rather than overwritten.
            node.node.engine.dispose()
            path = _sqlite_path(node)
            for suffix in ("", "-wal", "-shm", "-journal"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
            shutil.copyfile(template.snapshot.sqlite_files[node.name], path)
            continue
        tables = template.snapshot.pg_rows[node.name]
        with node.node.engine.begin() as connection:
            # Replica mode skips the append-only and foreign-key triggers; a test that left a
            # transaction open fails here loudly instead of hanging the run.
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            for table, _ in reversed(tables):
                connection.execute(table.delete())
            for table, found in tables:
                if found:
                    connection.execute(table.insert(), found)


@dataclass
class World:
    """The template's two nodes, serving, with their databases as the template left them."""

    template: Template

    @property
    def north(self) -> RunningNode:
        return self.template.north

    @property
    def south(self) -> RunningNode:
        return self.template.south

    @property
    def sent(self) -> list[Sent]:
        return self.template.sent

    @property
    def backend(self) -> str:
        return self.template.backend


@pytest.fixture
def world(audit_template: Template) -> World:
    restore(audit_template)
    found = World(audit_template)
    assert found.north.count("audit_events") == 9, "the restore did not take"
    return found


# --- reading ----------------------------------------------------------------------------


def column(node: RunningNode, sql: str, **params: Any) -> list[Any]:
    with node.node.engine.connect() as connection:
        return list(connection.execute(text(sql), params).scalars())


def rows(node: RunningNode, sql: str, **params: Any) -> list[Any]:
    with node.node.engine.connect() as connection:
        return list(connection.execute(text(sql), params))


def leaves(node: RunningNode, area: str) -> list[dict[str, Any]]:
    found = column(node, "SELECT leaf FROM audit_events WHERE area_code = :a ORDER BY seq", a=area)
    return [json.loads(leaf) for leaf in found]


def raw_leaves(node: RunningNode, area: str) -> list[tuple[int, str, bytes]]:
    return [
        (int(seq), str(leaf), bytes(hashed))
        for seq, leaf, hashed in rows(
            node,
            "SELECT seq, leaf, leaf_hash FROM audit_events WHERE area_code = :a ORDER BY seq",
            a=area,
        )
    ]


def verify_area(node: RunningNode, area: str) -> LogReport:
    with node.node.sessions() as session, session.begin():
        return verify.verify_log(session, area)


def counts(node: RunningNode, tables: Sequence[str]) -> dict[str, int]:
    return {table: node.count(table) for table in tables}


def secret_keys(node: RunningNode, area: str) -> Any:
    with node.node.sessions() as session, session.begin():
        return local_areas.current_secret_keys(session, node.node.master, area, utcnow())


def signing_public(node: RunningNode, area: str) -> bytes:
    return b64url_decode(node.bundle(area)["body"]["signing_key"], length=32)


# --- the CLI, in process ------------------------------------------------------------------


def invoke(node: RunningNode, *args: str, stdin: str | None = None) -> Result:
    """The real `marac-gateway` command, run in this process inside the node's own app
    context, so it uses the node's engine (no stray connection outlives it) and costs no
    interpreter start-up. stdout and stderr are kept apart."""
    app = node._server.app
    with app.app_context():
        return CliRunner().invoke(cli_main, list(args), input=stdin)


CLI = (sys.executable, "-m", "gateway.cli")
CLI_TIMEOUT = 90


@dataclass(frozen=True)
class Job:
    env: Mapping[str, str]
    args: Sequence[str]
    stdin: str | None = None


def run_cli(jobs: Sequence[Job]) -> list[subprocess.CompletedProcess[str]]:
    """The real command line as real processes, started together: each costs an interpreter
    start-up (well over a second), so independent commands overlap. Every pipe is drained at
    once, so a process holding the database lock can never block on a full pipe."""
    processes = [
        subprocess.Popen(
            [*CLI, *job.args],
            env=dict(job.env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for job in jobs
    ]

    def finish(pair: tuple[subprocess.Popen[str], Job]) -> subprocess.CompletedProcess[str]:
        process, job = pair
        stdout, stderr = process.communicate(input=job.stdin or "", timeout=CLI_TIMEOUT)
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    try:
        with ThreadPoolExecutor(max_workers=len(processes) or 1) as pool:
            return list(pool.map(finish, zip(processes, jobs, strict=True)))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


# --- tampering --------------------------------------------------------------------------


@contextlib.contextmanager
def insider(node: RunningNode) -> Iterator[Connection]:
    """One transaction with the append-only triggers out of the way, committed at the end."""
    with node.node.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            yield connection
            return
        triggers = connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        ).all()
        assert {name for name, _ in triggers} >= {
            f"{table}_no_{verb}" for table in APPEND_ONLY for verb in ("update", "delete")
        }
        for name, _ in triggers:
            connection.execute(text(f'DROP TRIGGER "{name}"'))
        yield connection
        for _, sql in triggers:  # and cover the tracks
            connection.execute(text(sql))


def leaf_text(connection: Connection, area: str, seq: int) -> str:
    return str(
        connection.execute(
            text("SELECT leaf FROM audit_events WHERE area_code = :a AND seq = :s"),
            {"a": area, "s": seq},
        ).scalar_one()
    )


def edit_leaf(leaf: str, **changes: Any) -> str:
    return canonical_json({**json.loads(leaf), **changes}).decode("ascii")


def fix_head(connection: Connection, area: str) -> Frontier:
    """Recompute the head from the leaf hashes as stored (an insider tidying up)."""
    frontier = Frontier()
    for (hashed,) in connection.execute(
        text("SELECT leaf_hash FROM audit_events WHERE area_code = :a ORDER BY seq"), {"a": area}
    ):
        frontier.append(bytes(hashed))
    connection.execute(
        text("UPDATE audit_heads SET size = :n, frontier = :f WHERE area_code = :a"),
        {"n": frontier.size, "f": frontier.to_bytes(), "a": area},
    )
    return frontier


def rebuild_tree(connection: Connection, area: str, replace: Mapping[int, str]) -> Frontier:
    """Rewrite the whole log consistently: new leaves, their hashes, every stored subtree
    and the head, so that nothing in the log itself betrays the change."""
    found = connection.execute(
        text("SELECT seq, leaf FROM audit_events WHERE area_code = :a ORDER BY seq"), {"a": area}
    ).all()
    frontier = Frontier()
    for seq, leaf in found:
        new_leaf = replace.get(int(seq), str(leaf))
        hashed = leaf_hash(new_leaf.encode("ascii"))
        completed = frontier.append(hashed)
        connection.execute(
            text(
                "UPDATE audit_events SET leaf = :leaf, leaf_hash = :h, subtrees = :s "
                "WHERE area_code = :a AND seq = :seq"
            ),
            {"leaf": new_leaf, "h": hashed, "s": b"".join(completed), "a": area, "seq": seq},
        )
    return fix_head(connection, area)


def checkpoint_document(keys: Any, area: str, size: int, root: bytes) -> dict[str, Any]:
    """A checkpoint signed with `keys`, exactly as the node writes one."""
    body = {
        "kind": "checkpoint",
        "v": 1,
        "area": area,
        "size": size,
        "root": b64url_encode(root),
        "issued_at": format_time(utcnow()),
        "key": keys.key_id,
    }
    return sign_document(body, keys)


def insert_checkpoint(
    connection: Connection, keys: Any, area: str, size: int, root: bytes
) -> dict[str, Any]:
    document = checkpoint_document(keys, area, size, root)
    connection.execute(
        text(
            "INSERT INTO audit_checkpoints (area_code, size, root, key_id, document, issued_at) "
            "VALUES (:a, :size, :root, :key, :doc, :at)"
        ),
        {
            "a": area,
            "size": size,
            "root": root,
            "key": keys.key_id,
            "doc": canonical_json(document).decode("ascii"),
            "at": datetime.now(UTC),
        },
    )
    return document


# --- trees for forged evidence ------------------------------------------------------------


def perfect_nodes(hashes: Sequence[bytes]) -> dict[NodeId, bytes]:
    """Every complete subtree over the given leaf hashes, keyed (level, index)."""
    nodes: dict[NodeId, bytes] = {(0, i): h for i, h in enumerate(hashes)}
    level, width = 0, len(hashes)
    while width > 1:
        for index in range(width // 2):
            nodes[(level + 1, index)] = node_hash(
                nodes[(level, 2 * index)], nodes[(level, 2 * index + 1)]
            )
        level, width = level + 1, width // 2
    return nodes

"""Shared fixtures: real nodes on real HTTP, each with its own database.

Every test that asks for `backend` runs twice: on a SQLite file of its own and on a
PostgreSQL database created for it and dropped afterwards. The PostgreSQL half needs
GATEWAY_TEST_DATABASE_URL (an admin URL, e.g. postgresql+psycopg://postgres@127.0.0.1/test);
without it the half is skipped locally and fails under CI, so CI can never silently
pass on SQLite alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.nodes import PG_ENV, Databases, Pair, RunningNode, pg_admin_url, start_node

# The audit tests' fixtures (a world of nodes with logs to verify and tamper with).
pytest_plugins = ["support.audit_world"]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not pg_admin_url():
        pytest.skip(f"{PG_ENV} not set")
    return str(request.param)


@pytest.fixture
def databases(backend: str, tmp_path: Path) -> Iterator[Databases]:
    found = Databases(backend, tmp_path)
    yield found
    found.drop_all()


@pytest.fixture
def node_factory(databases: Databases, tmp_path: Path) -> Iterator[Callable[..., RunningNode]]:
    started: list[RunningNode] = []

    def factory(name: str, **overrides: Any) -> RunningNode:
        running = start_node(name, databases, tmp_path, **overrides)
        started.append(running)
        return running

    yield factory
    for running in started:
        running.stop()


@pytest.fixture
def pair(node_factory: Callable[..., RunningNode]) -> Pair:
    """Two nodes, one area each, that have imported each other's bundles."""
    north, south = node_factory("north"), node_factory("south")
    north.create_area("northshire")
    south.create_area("south-vale")
    south.import_peer(north.bundle("northshire"))
    north.import_peer(south.bundle("south-vale"))
    return Pair(north, south)

"""Fixtures for the domain tests: nodes without HTTP on their own migrated database (SQLite,
and PostgreSQL when GATEWAY_TEST_DATABASE_URL is set), with real keys.

`north` hosts one area; `linked` is north and south, one area each, that have pinned each
other's bundles (as `pair` in tests/conftest.py, without the web servers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from support.local_nodes import NORTH, SOUTH, LocalNode, local_node
from support.nodes import Databases, Templates

from gateway.domain.clock import utcnow


@dataclass
class Linked:
    north: LocalNode
    south: LocalNode


@pytest.fixture
def now() -> datetime:
    return utcnow()


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    """The migrations run once per backend; each node starts from a copy."""
    made = Templates(tmp_path_factory.mktemp("migrated"))
    yield made
    made.drop()


@pytest.fixture
def make_node(
    databases: Databases, tmp_path: Path, now: datetime, templates: Templates
) -> Iterator[Callable[[str, str], LocalNode]]:
    """A new node hosting one area, closed at the end of the test."""
    made: list[LocalNode] = []

    def make(name: str, area: str) -> LocalNode:
        found = local_node(name, 8100 + len(made), databases, tmp_path, templates)
        made.append(found)
        found.create_area(area, now)
        return found

    yield make
    for found in made:
        found.close()


@pytest.fixture
def north(make_node: Callable[[str, str], LocalNode]) -> LocalNode:
    return make_node("north", NORTH)


@pytest.fixture
def linked(north: LocalNode, make_node: Callable[[str, str], LocalNode], now: datetime) -> Linked:
    south = make_node("south", SOUTH)
    south.import_peer(north.bundle(NORTH, now), now)
    north.import_peer(south.bundle(SOUTH, now), now)
    return Linked(north, south)

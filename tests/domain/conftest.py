"""Fixtures for the domain tests: nodes without HTTP on their own migrated database (SQLite,
and PostgreSQL when GATEWAY_TEST_DATABASE_URL is set), with real keys.

`north` hosts one area; `linked` is north and south, one area each, that have pinned each
other's bundles (as `pair` in tests/conftest.py, without the web servers)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from support.local_nodes import NORTH, SOUTH, LocalNode, local_node
from support.nodes import Databases

from gateway.domain.clock import utcnow


@dataclass
class Linked:
    north: LocalNode
    south: LocalNode


@pytest.fixture
def now() -> datetime:
    return utcnow()


@pytest.fixture
def north(databases: Databases, tmp_path: Path, now: datetime) -> Iterator[LocalNode]:
    found = local_node("north", 8101, databases, tmp_path)
    found.create_area(NORTH, now)
    yield found
    found.close()


@pytest.fixture
def linked(
    north: LocalNode, databases: Databases, tmp_path: Path, now: datetime
) -> Iterator[Linked]:
    south = local_node("south", 8102, databases, tmp_path)
    south.create_area(SOUTH, now)
    south.import_peer(north.bundle(NORTH, now), now)
    north.import_peer(south.bundle(SOUTH, now), now)
    yield Linked(north, south)
    south.close()

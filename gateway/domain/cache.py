"""An in-process cache of what every request would otherwise re-read (token keys, API
clients), kept correct across the processes of a node (gunicorn workers, the worker,
the CLI) by one generation counter in the database.

Why a counter read and not a time-to-live: a revoked API client or a rotated key must be
refused at once by every process (DESIGN section 5), which no TTL gives; a notification
channel (LISTEN/NOTIFY) would give it on PostgreSQL only and could be missed while a
process reconnects. The counter is one primary-key read in a transaction the request
opens anyway, where the cached rows cost two transactions and several ORM statements.

Rules that keep it correct:
- every change to cached data bumps the counter in the same transaction (`bump`);
- a reader reads the counter first and loads any missing entry after it, in the same
  transaction, so an entry is never older than the generation it is filed under;
- an entry is only filed under the generation read in that transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from adapters.db.models import CacheGeneration

T = TypeVar("T")
_GENERATIONS = cast(Table, CacheGeneration.__table__)
_NODE = "node"
_MISSING = object()


@dataclass
class _Cache:
    generation: int | None = None
    entries: dict[Any, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_CACHES: dict[str, _Cache] = {}


@dataclass(frozen=True)
class View:
    """The cache as of one generation, for one transaction."""

    cache: _Cache
    generation: int

    def get(self, key: Any, load: Callable[[], T | None]) -> T | None:
        """The entry for `key`, loaded (in the caller's transaction) when missing. A
        `None` from `load` (nothing there) is not kept: the next call looks again."""
        with self.cache.lock:
            if self.cache.generation == self.generation:
                found = self.cache.entries.get(key, _MISSING)
                if found is not _MISSING:
                    return cast(T, found)
        value = load()
        if value is not None:
            with self.cache.lock:
                if self.cache.generation == self.generation:
                    self.cache.entries[key] = value
        return value

    def forget(self, key: Any) -> None:
        with self.cache.lock:
            self.cache.entries.pop(key, None)


def current(session: Session) -> View:
    """Read the generation (one statement, in the caller's transaction) and drop the
    process's entries if they were filed under another one."""
    value = session.execute(
        select(_GENERATIONS.c.value).where(_GENERATIONS.c.name == _NODE)
    ).scalar()
    generation = int(value) if value is not None else 0
    cache = _CACHES.setdefault(str(session.get_bind().engine.url), _Cache())
    with cache.lock:
        if cache.generation != generation:
            cache.generation = generation
            cache.entries = {}
    return View(cache, generation)


def bump(session: Session) -> None:
    """Tell every process to drop what it keeps, once this transaction commits."""
    result = session.execute(
        update(_GENERATIONS)
        .where(_GENERATIONS.c.name == _NODE)
        .values(value=_GENERATIONS.c.value + 1)
    )
    if not getattr(result, "rowcount", 0):
        session.execute(insert(_GENERATIONS).values(name=_NODE, value=1))

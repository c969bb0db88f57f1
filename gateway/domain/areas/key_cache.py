"""The keys and URLs this node trusts, kept in each process between requests: pinned
peer keys, peers' URLs and bundles, and this node's own areas' keys (unsealed) and URLs.

Correctness does not rest on a time limit. The database keeps one number,
`key_generation.value`, that triggers raise in the same transaction as every write to
the rows these entries come from (migration 0024), whoever makes it: another gunicorn
worker, the CLI, an operator by hand. A transaction that uses the cache reads that number
once, first; entries read under any other number are dropped. So a rotation, an import
or a revocation committed by another process is seen by the next transaction here, as if
the rows had been read again. A transaction that itself writes those rows bypasses the
cache until it ends (it would otherwise read what it has just changed from before).
`peers.KEY_CHANGE_HOOKS` empties it at once after a change made in this process.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from itertools import chain
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, inspect, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from adapters.db.models import Area, AreaKey, KeyGeneration, Peer, PeerKey

T = TypeVar("T")
_SEEN = "gateway_key_generation"
# Lookups are keyed by ids a request names before it is verified (a token's key id, its
# audience), misses included: past this many entries the cache starts again, so a
# stranger's made-up ids cannot grow it without bound. A node's real keys, peers and areas
# are far fewer.
MAX_ENTRIES = 4096
# Written columns that change what the cache holds (the migration's triggers watch these).
_WATCHED: dict[type, frozenset[str] | None] = {
    Peer: frozenset({"url", "bundle", "fingerprint"}),
    PeerKey: None,  # any column
    Area: frozenset({"url"}),
    AreaKey: None,
}


class _Entries:
    def __init__(self) -> None:
        self.generation: int | None = None
        self.values: dict[Hashable, Any] = {}
        self.lock = threading.Lock()


# One cache per database (an engine): a process may serve several (tests run two nodes).
_CACHES: weakref.WeakKeyDictionary[Engine, _Entries] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _entries(session: Session) -> _Entries:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _CACHES_LOCK:
        found = _CACHES.get(engine)
        if found is None:
            found = _CACHES[engine] = _Entries()
        return found


def held(session: Session) -> int:
    """How many entries the cache of this session's database holds."""
    cache = _entries(session)
    with cache.lock:
        return len(cache.values)


def forget(_area: str | None = None) -> None:
    """Drop every entry of every database (a key change in this process)."""
    with _CACHES_LOCK:
        caches = list(_CACHES.values())
    for cache in caches:
        with cache.lock:
            cache.generation, cache.values = None, {}


def cached(session: Session, key: Hashable, load: Callable[[], T]) -> T:
    """`load()`'s value for `key`, from the cache when it was read under the generation
    this transaction reads; `load` runs in the caller's transaction otherwise."""
    generation = _generation(session)
    if generation is None:
        return load()
    cache = _entries(session)
    with cache.lock:
        if cache.generation is None or generation > cache.generation:
            cache.generation, cache.values = generation, {}
        fresh = cache.generation == generation
        found = cache.values.get(key, cache) if fresh else cache
    if found is not cache:
        return cast(T, found)
    value = load()
    if fresh:
        with cache.lock:
            # Not if another thread has since seen a newer generation.
            if cache.generation == generation:
                if len(cache.values) >= MAX_ENTRIES:
                    cache.values = {}
                cache.values[key] = value
    return value


def _generation(session: Session) -> int | None:
    """The generation this transaction reads (once), or None: bypass the cache."""
    seen = session.info.get(_SEEN)
    transaction = session.get_transaction()
    if seen is not None and transaction is not None and seen[0] is transaction:
        return seen[1]  # type: ignore[no-any-return]
    value = session.execute(
        select(KeyGeneration.value).where(KeyGeneration.id == 1)
    ).scalar_one_or_none()
    session.info[_SEEN] = (session.get_transaction(), value)
    return None if value is None else int(value)


def _writes_keys(session: Session, _context: Any, _instances: Any) -> None:
    """Before a flush that writes watched rows: this transaction stops using the cache."""
    for obj in chain(session.new, session.deleted, session.dirty):
        columns = _WATCHED.get(type(obj), frozenset())
        if columns is not None and not columns:
            continue
        if obj in session.dirty and not _changed(obj, columns):
            continue
        session.info[_SEEN] = (session.get_transaction(), None)
        return


def _changed(obj: object, columns: frozenset[str] | None) -> bool:
    state = inspect(obj)
    names = columns if columns is not None else [a.key for a in state.mapper.column_attrs]
    return any(state.attrs[name].history.has_changes() for name in names)


sa_event.listen(Session, "before_flush", _writes_keys)

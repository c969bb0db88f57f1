"""The database-backed rate limiter (gateway/domain/rate_limits.py) on SQLite and PostgreSQL:
counts per key and window, resets with the window, stores no raw key, and never grants
more than the limit to concurrent callers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from support.nodes import Databases

from adapters.db import make_engine, make_session_factory, upgrade
from gateway.domain.identity import rate_limits
from gateway.domain.identity.rate_limits import RateLimit

T0 = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def sessions(databases: Databases):  # type: ignore[no-untyped-def]
    url = databases.new("limits")
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def hit(sessions, key: str, limit: RateLimit, now: datetime) -> rate_limits.RateDecision:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        return rate_limits.hit(session, key, limit, now)


def test_counts_within_a_window_and_resets_with_the_next(sessions) -> None:  # type: ignore[no-untyped-def]
    limit = RateLimit.parse("3/minute")
    decisions = [
        hit(sessions, "lookup:user-1", limit, T0 + timedelta(seconds=s)) for s in (0, 1, 2, 3)
    ]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].retry_after == 57
    assert hit(sessions, "lookup:user-2", limit, T0 + timedelta(seconds=5)).allowed
    with sessions() as session, session.begin():
        assert not rate_limits.peek(
            session, "lookup:user-1", limit, T0 + timedelta(seconds=30)
        ).allowed
        assert rate_limits.peek(session, "lookup:user-1", limit, T0 + timedelta(seconds=61)).allowed
    assert hit(sessions, "lookup:user-1", limit, T0 + timedelta(seconds=61)).count == 1
    with sessions() as session:
        keys = session.execute(text("SELECT key FROM rate_counters")).scalars().all()
    assert len(keys) == 2 and all("user" not in key and len(key) == 64 for key in keys)


def test_concurrent_callers_never_exceed_the_limit(sessions) -> None:  # type: ignore[no-untyped-def]
    limit = RateLimit.parse("10/minute")
    allowed: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(4):
            decision = hit(sessions, "login-source:10.0.0.1", limit, T0)
            with lock:
                allowed.append(decision.allowed)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(allowed) == 24
    assert allowed.count(True) == 10


@pytest.mark.parametrize(
    ("text_value", "count", "seconds"),
    [("120/minute", 120, 60), ("5/second", 5, 1), ("20/10minutes", 20, 600), ("1/day", 1, 86400)],
)
def test_parse(text_value: str, count: int, seconds: int) -> None:
    parsed = RateLimit.parse(text_value)
    assert (parsed.count, parsed.period.total_seconds()) == (count, seconds)


@pytest.mark.parametrize("bad", ["", "120", "0/minute", "ten/minute", "5/fortnight", "5/0minutes"])
def test_parse_refuses(bad: str) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        RateLimit.parse(bad)


def test_purge_drops_only_counters_whose_window_is_over(sessions) -> None:  # type: ignore[no-untyped-def]
    limit = RateLimit.parse("2/minute")
    hit(sessions, "old", limit, T0)
    hit(sessions, "new", limit, T0 + timedelta(days=3))
    with sessions() as session, session.begin():
        assert rate_limits.purge(session, T0 + timedelta(days=1)) == 1
    with sessions() as session:
        assert session.execute(text("SELECT count(*) FROM rate_counters")).scalar() == 1
    # The surviving counter still counts.
    hit(sessions, "new", limit, T0 + timedelta(days=3, seconds=1))
    assert not hit(sessions, "new", limit, T0 + timedelta(days=3, seconds=2)).allowed

"""The transfers and flags lists page by a row-value keyset: every row exactly once, in
order, across ties in the ordering time, with and without filters, and at a number of
statements per page that does not grow with the page size (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert
from support.local_nodes import NORTH, SOUTH, LocalNode

from adapters.db.models import Flag, Transfer
from gateway.domain.flags import lifecycle
from gateway.domain.identity.principals import FLAGS_QUERY, Principal
from gateway.domain.transfers import reading
from schemas.wire.flags import FlagQuery

STATUSES = ("queued", "delivered", "failed")


def seed_transfers(node: LocalNode, now: datetime, count: int) -> list[dict[str, Any]]:
    """`count` transfers, five to each created_at, so every page boundary may fall in a tie."""
    rows = [
        {
            "id": str(uuid.uuid4()),
            "envelope_id": str(uuid.uuid4()),
            "area_code": NORTH,
            "peer_area": SOUTH,
            "direction": "outbound" if n % 2 else "inbound",
            "status": STATUSES[n % 3],
            "created_at": now - timedelta(seconds=n // 5),
            "updated_at": now,
        }
        for n in range(count)
    ]
    with node.node.engine.begin() as connection:
        connection.execute(insert(Transfer), rows)
    return rows


def newest_first(rows: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(rows, key=lambda row: (row["created_at"], row["id"]), reverse=True)
    return [row["id"] for row in ordered]


@contextmanager
def statements(node: LocalNode) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        if args[2].lstrip().upper().startswith("SELECT"):  # not SQLite's BEGIN IMMEDIATE
            seen.append(args[2])

    event.listen(node.node.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(node.node.engine, "before_cursor_execute", count)


def transfer_pages(node: LocalNode, limit: int, **filters: Any) -> Iterator[list[str]]:
    after = None
    while True:
        with node.session() as session:
            page = reading.list_transfer_page(
                session,
                NORTH,
                direction=filters.get("direction"),
                status=filters.get("status"),
                after=after,
                limit=limit,
            )
        yield [item.id for item in page.items]
        if page.next is None:
            return
        after = page.next


@pytest.mark.parametrize("limit", [1, 4, 5, 7, 50])
def test_transfer_pages_cover_every_row_once_across_ties(
    north: LocalNode, now: datetime, limit: int
) -> None:
    rows = seed_transfers(north, now, 47)
    pages = list(transfer_pages(north, limit))
    assert [item for page in pages for item in page] == newest_first(rows)
    assert all(len(page) == limit for page in pages[:-1])


@pytest.mark.parametrize(
    "filters",
    [{"direction": "inbound"}, {"status": "failed"}, {"direction": "outbound", "status": "queued"}],
)
def test_filtered_transfer_pages_keep_order_and_filter(
    north: LocalNode, now: datetime, filters: dict[str, str]
) -> None:
    rows = seed_transfers(north, now, 60)
    wanted = [row for row in rows if all(row[k] == v for k, v in filters.items())]
    got = [item for page in transfer_pages(north, 4, **filters) for item in page]
    assert got == newest_first(wanted)


def test_statements_per_transfer_page_do_not_grow_with_its_size(
    north: LocalNode, now: datetime
) -> None:
    seed_transfers(north, now, 250)
    counted = {}
    for limit in (1, 10, 100):
        pages = transfer_pages(north, limit)
        next(pages)  # the first page, then a page after a cursor
        with statements(north) as seen:
            assert len(next(pages)) == limit
        counted[limit] = len(seen)
    assert counted[1] == counted[10] == counted[100], counted
    assert counted[100] == 2, counted  # the area (its working days), the page


def seed_flags(node: LocalNode, now: datetime, count: int) -> list[dict[str, Any]]:
    """Three flags to each expiry date, half of them active."""
    rows = [
        {
            "id": str(uuid.uuid4()),
            "area_code": NORTH,
            "case_ref": f"case-{n}",
            "status": "active" if n % 2 else "expired",
            "reviewed_at": date(2026, 1, 1),
            "expires_at": date(2027, 1, 1) + timedelta(days=n // 3),
            "source": "local",
            "index_ref": uuid.uuid4().hex,
            "subject_roles": "victim",
            "index_dirty": False,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(count)
    ]
    with node.node.engine.begin() as connection:
        connection.execute(insert(Flag), rows)
    return rows


def flag_pages(
    node: LocalNode, now: datetime, limit: int, status: str | None
) -> Iterator[list[str]]:
    reader = Principal.client("reader", NORTH, [FLAGS_QUERY])
    cursor = None
    while True:
        query = FlagQuery(status, None, None, None, cursor=cursor, limit=limit)
        with node.session() as session:
            page = lifecycle.list_flags(session, reader, query, now)
        yield [item.id for item in page.items]
        if page.next is None:
            return
        cursor = page.next


@pytest.mark.parametrize("status", [None, "active"])
def test_flag_pages_cover_every_row_once_across_ties(
    north: LocalNode, now: datetime, status: str | None
) -> None:
    rows = seed_flags(north, now, 31)
    wanted = [row for row in rows if status is None or row["status"] == status]
    expected = [row["id"] for row in sorted(wanted, key=lambda r: (r["expires_at"], r["id"]))]
    for limit in (2, 3, 50):
        assert [i for page in flag_pages(north, now, limit, status) for i in page] == expected


def test_statements_per_flag_page_do_not_grow_with_its_size(
    north: LocalNode, now: datetime
) -> None:
    seed_flags(north, now, 250)
    counted = {}
    for limit in (1, 10, 100):
        pages = flag_pages(north, now, limit, None)
        next(pages)
        with statements(north) as seen:
            assert len(next(pages)) == limit
        counted[limit] = len(seen)
    assert counted[1] == counted[10] == counted[100] == 1, counted

"""Server time of `GET /api/v1/transfers` as an area's transfers grow: 1k, 10k, 100k.

One node in this process (the real app, Flask's test client, so no socket or client time),
on SQLite and, when a PostgreSQL admin URL is given, on a PostgreSQL database made for the
run and dropped after it. An API client with `transfers:read` lists the area's transfers:

    first      the first page (no cursor)
    deep       the page whose cursor sits 90% of the way down the list
    baseline   the same deep page's rows read by the spelled-out keyset of the old code
               (`created_at < t OR (created_at = t AND id < i)`, ORM entities), straight
               through SQLAlchemy with no HTTP: what the list used to cost at the database

Rows are bulk-inserted metadata (what a busy area accumulates), five to each created_at so
pages fall in ties. Each size also prints the EXPLAIN of the deep page's query (whether
the index is used). Prints one JSON object per line. Goal: p95 under 20 ms at 100k and
flat from 1k to 100k.
Run: .venv/bin/python bench/lists.py [--quick] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]
(--pg defaults to GATEWAY_TEST_DATABASE_URL when set.)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, environment, note, percentile, r

from adapters.db import make_engine, upgrade
from adapters.db.models import Transfer
from gateway.app import create_app
from gateway.config import Settings
from gateway.domain.areas import local_areas
from gateway.domain.clock import utcnow
from gateway.domain.identity import clients
from gateway.node import build_node
from keys import MasterKey
from schemas.api.pages import encode_cursor

NORTH, SOUTH = "northshire", "south-vale"
STATES = ("received", "acknowledged", "queued", "delivered", "redirected", "failed")
SIZES = (1_000, 10_000, 100_000)
GOAL_P95_MS = 20.0
PAGE = 50


@contextmanager
def database(backend: str, home: Path, pg_admin: str | None) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{home / 'gateway.db'}"
        return
    assert pg_admin is not None
    name = "bench_lists_" + uuid.uuid4().hex[:12]
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def start(home: Path, url: str) -> tuple[Any, Any, dict[str, str]]:
    settings = Settings.from_env(
        {
            "GATEWAY_INSTANCE_DIR": str(home),
            "GATEWAY_DATABASE_URL": url,
            "GATEWAY_MASTER_KEY_FILE": str(home / "master.key"),
            "GATEWAY_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
            "GATEWAY_BASE_URL": "http://127.0.0.1:8099",
        }
    )
    MasterKey.create_file(settings.master_key_file)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    node = build_node(settings)
    app = create_app(settings, node)
    now = utcnow()
    with node.sessions() as db:
        local_areas.create_area(
            db, node.master, code=NORTH, name="Northshire", url="http://127.0.0.1:8099",
            mailbox="marac@northshire.example", now=now,
        )  # fmt: skip
    with node.sessions() as db:
        client, secret = clients.create_client(
            db, node.master, name="bench", area=NORTH, scopes="transfers:read", now=now
        )
    token = (
        app.test_client()
        .post(
            "/api/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client.id, secret),
        )
        .json["access_token"]
    )
    return node, app, {"Authorization": f"Bearer {token}"}


def fill(node: Any, start_at: int, stop: int) -> None:
    """Bulk inserts (executemany of one INSERT), 5,000 rows a statement batch."""
    now = utcnow()
    rows = [
        {
            "id": str(uuid.uuid4()),
            "envelope_id": str(uuid.uuid4()),
            "area_code": NORTH,
            "peer_area": SOUTH,
            "direction": "inbound" if i % 2 else "outbound",
            "status": STATES[i % len(STATES)],
            "created_at": now - timedelta(seconds=i // 5 + 60),
            "updated_at": now,
        }
        for i in range(start_at, stop)
    ]
    with node.engine.begin() as connection:
        for at in range(0, len(rows), 5000):
            connection.execute(insert(Transfer), rows[at : at + 5000])
    if node.engine.dialect.name == "postgresql":
        with node.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE transfers"))
    else:
        with node.engine.begin() as connection:
            connection.execute(text("ANALYZE"))


def deep_cursor(node: Any, size: int) -> tuple[Any, str]:
    with Session(node.engine) as db:
        row = db.execute(
            select(Transfer.created_at, Transfer.id)
            .where(Transfer.area_code == NORTH)
            .order_by(Transfer.created_at.desc(), Transfer.id.desc())
            .offset(int(size * 0.9))
            .limit(1)
        ).one()
    return row.created_at, row.id


def explain(node: Any, cursor: tuple[Any, str]) -> str:
    created, ident = cursor
    dialect = node.engine.dialect.name
    if dialect == "sqlite":
        created = created.replace(tzinfo=None)
    sql = (
        "SELECT id FROM transfers WHERE area_code = :area AND (created_at, id) < (:c, :i)"
        " ORDER BY created_at DESC, id DESC LIMIT 51"
    )
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    with node.engine.connect() as connection:
        rows = connection.execute(text(prefix + sql), {"area": NORTH, "c": created, "i": ident})
        return " | ".join(str(row[-1]) for row in rows)


def old_page(node: Any, cursor: tuple[Any, str]) -> Callable[[], object]:
    created, ident = cursor

    def run() -> object:
        with Session(node.engine) as db, db.begin():
            query = (
                select(Transfer)
                .where(Transfer.area_code == NORTH)
                .where(
                    (Transfer.created_at < created)
                    | ((Transfer.created_at == created) & (Transfer.id < ident))
                )
                .order_by(Transfer.created_at.desc(), Transfer.id.desc())
                .limit(PAGE + 1)
            )
            return [(row.id, row.status) for row in db.scalars(query)]

    return run


def times(fn: Callable[[], object], count: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(count):
        began = time.perf_counter()
        fn()
        out.append((time.perf_counter() - began) * 1000)
    return out


def stats(values: list[float]) -> dict[str, float]:
    return {"p50_ms": r(percentile(values, 50), 2), "p95_ms": r(percentile(values, 95), 2)}


def run_backend(backend: str, pg_admin: str | None, sizes: tuple[int, ...], count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, database(backend, Path(tmp), pg_admin) as url:
        node, app, headers = start(Path(tmp), url)
        browser = app.test_client()
        have = 0
        try:
            for size in sizes:
                began = time.perf_counter()
                fill(node, have, size)
                have = size
                note(f"lists: {backend} {size} rows in {time.perf_counter() - began:.1f} s")
                cursor = deep_cursor(node, size)
                deep = f"/api/v1/transfers?limit={PAGE}&cursor={encode_cursor(*cursor)}"

                def get(path: str) -> Callable[[], object]:
                    def call() -> object:
                        answer = browser.get(path, headers=headers)
                        assert answer.status_code == 200, answer.text
                        assert len(answer.json["items"]) == PAGE
                        return answer

                    return call

                record: dict[str, Any] = {"bench": "lists", "backend": backend, "rows": size}
                record["first"] = stats(times(get(f"/api/v1/transfers?limit={PAGE}"), count))
                record["deep"] = stats(times(get(deep), count))
                record["baseline_old_query_deep"] = stats(times(old_page(node, cursor), count))
                record["goal_p95_ms"] = GOAL_P95_MS
                record["goal_met"] = max(record["first"]["p95_ms"], record["deep"]["p95_ms"]) < (
                    GOAL_P95_MS
                )
                record["explain_deep"] = explain(node, cursor)
                emit(record)
        finally:
            node.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests per point")
    parser.add_argument("--count", type=int, default=None, help="requests per point")
    parser.add_argument("--pg", default=os.environ.get("GATEWAY_TEST_DATABASE_URL"))
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args(argv)
    count = args.count or (30 if args.quick else 200)
    sizes = tuple(int(s) for s in args.sizes.split(","))
    started = time.perf_counter()
    backends = ["sqlite"] + (["postgresql"] if args.pg else [])
    for backend in backends:
        run_backend(backend, args.pg, sizes, count)
    emit(
        {
            "bench": "lists",
            "kind": "summary",
            "page": PAGE,
            "requests_per_point": count,
            "seconds": r(time.perf_counter() - started, 1),
            **environment(),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

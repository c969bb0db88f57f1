"""A batch's rows into PostgreSQL, three ways: psycopg's pipelined executemany (one
prepared single-row INSERT, every row sent in one pipeline; what the ORM's flushes use),
SQLAlchemy's "insertmanyvalues" (one multi-row `INSERT ... VALUES (...), (...)` per batch),
and `adapters.db.bulk.insert_rows` (one `INSERT ... SELECT * FROM unnest(...)` of an array
a column, sent in binary; what the hot paths' batches use).

The multi-row form has the server plan and run one statement instead of one per row, but
its text carries every row's placeholders: past 50 parameters psycopg no longer caches
the conversion of the query to the server's `$n` form and redoes it, in Python, for every
batch. The unnest form is one statement too, with a text that does not change with the
number of rows. Which costs less overall depends on the rows, so this measures it on the
gateway's own tables (made by its migrations, with their indexes): a batch of `envelopes`
rows (a stored envelope body each, about 4 KB) and of `audit_salts` rows (narrow), inside
one transaction with its commit, the way a receiver stores an envelope batch. The three
forms alternate round by round on one fresh database, so the machine's drift falls on
all. Per batch: wall time, this process's CPU (SQLAlchemy and psycopg, plus building the
rows, the same for all), and the server backend's CPU read from /proc (so the server
must run on this machine).

Run: .venv/bin/python bench/batch_insert.py [--rows 25] [--batches 100] [--rounds 10]
     (the admin URL as for the other benches: GATEWAY_BENCH_DATABASE_URL, else
     GATEWAY_TEST_DATABASE_URL, else the local test server)
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PgDatabases, emit, environment, note, pg_admin_url, r

from adapters.db import make_engine, upgrade
from adapters.db.bulk import insert_rows
from adapters.db.models import Area, AuditSalt, Base, Envelope

# Each form: whether the engine sends multi-row VALUES, and whether rows go through
# insert_rows rather than SQLAlchemy's insert().
FORMS = {
    "pipelined_executemany": (False, False),
    "multi_row_values": (True, False),
    "unnest_arrays": (False, True),
}
AREA = "northshire"


def backend_cpu_s(connection: Connection) -> float:
    pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    connection.commit()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def envelope_rows(count: int, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "envelope_id": str(uuid.uuid4()),
            "area_code": AREA,
            "direction": "inbound",
            "type": "transfer_request",
            "peer_area": "south-vale",
            "in_reply_to": None,
            "digest": os.urandom(32).hex(),
            "body": os.urandom(2048).hex(),
            "self_sealed_key": None,
            "receipt": None,
            "created_at": now,
        }
        for _ in range(count)
    ]


def salt_rows(count: int, seqs: Iterator[int]) -> list[dict[str, Any]]:
    return [
        {
            "area_code": AREA,
            "seq": next(seqs),
            "envelope_id": str(uuid.uuid4()),
            "sealed": os.urandom(72),
        }
        for _ in range(count)
    ]


def timed_batches(
    connection: Connection,
    model: type[Base],
    make_rows: Callable[[], list[dict[str, Any]]],
    batches: int,
    unnest: bool,
) -> tuple[float, float, float]:
    """Wall time, this process's CPU and the server backend's CPU, in seconds, for
    `batches` batches inserted each in its own transaction."""
    server_before = backend_cpu_s(connection)
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    for _ in range(batches):
        rows = make_rows()
        with connection.begin():
            if unnest:
                insert_rows(connection, cast(Table, model.__table__), rows)
            else:
                connection.execute(insert(model), rows)
    wall, cpu = time.perf_counter() - wall_before, time.process_time() - cpu_before
    return wall, cpu, backend_cpu_s(connection) - server_before


def engine_for(url: str, multi_row: bool) -> Engine:
    engine = make_engine(url, pool_size=1)
    engine.dialect.use_insertmanyvalues_wo_returning = multi_row
    return engine


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=25, help="rows a batch (BATCH_SEND is 25)")
    parser.add_argument("--batches", type=int, default=100, help="batches a round, per form")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    databases = PgDatabases(pg_admin_url(), "marac_bench_insert")
    try:
        url = databases.new("rows")
        engines = {form: engine_for(url, multi) for form, (multi, _) in FORMS.items()}
        upgrade(engines["pipelined_executemany"])
        now = datetime.now(UTC)
        with engines["pipelined_executemany"].begin() as connection:
            connection.execute(
                insert(Area),
                [
                    {
                        "code": AREA,
                        "name": "Northshire",
                        "url": "http://x",
                        "mailbox": "m@x",
                        "created_at": now,
                    }
                ],
            )
        seqs = itertools.count()
        tables: dict[str, tuple[type[Base], Callable[[], list[dict[str, Any]]]]] = {
            "envelopes": (Envelope, lambda: envelope_rows(args.rows, now)),
            "audit_salts": (AuditSalt, lambda: salt_rows(args.rows, seqs)),
        }
        totals = {(form, table): [0.0, 0.0, 0.0, 0] for form in FORMS for table in tables}
        connections = {form: engine.connect() for form, engine in engines.items()}
        note(f"{args.rounds} rounds of {args.batches} batches of {args.rows} rows, each way")
        for _ in range(args.rounds):
            for (form, table), total in totals.items():
                model, make_rows = tables[table]
                unnest = FORMS[form][1]
                measured = timed_batches(connections[form], model, make_rows, args.batches, unnest)
                total[:3] = [
                    so_far + more for so_far, more in zip(total[:3], measured, strict=True)
                ]
                total[3] += args.batches
        for connection in connections.values():
            connection.close()
        for engine in engines.values():
            engine.dispose()
        for (form, table), (wall, cpu, server, batches) in totals.items():
            emit(
                {
                    "bench": "batch_insert",
                    "form": form,
                    "table": table,
                    "rows_per_batch": args.rows,
                    "batches": batches,
                    "wall_ms": r(1000 * wall / batches),
                    "client_cpu_ms": r(1000 * cpu / batches),
                    "server_cpu_ms": r(1000 * server / batches),
                    "cpu_ms": r(1000 * (cpu + server) / batches),
                    **environment(),
                }
            )
    finally:
        databases.drop_all()


if __name__ == "__main__":
    main()

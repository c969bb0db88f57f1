"""The database profile of one transfer: transactions, statements and write transactions
per transfer on each node, split by step.

Two nodes in this process, each serving real HTTP on loopback from a thread (werkzeug),
one area each, peers of each other. The sending node's services are called in process:
`send` (the coordinator's POST, after authentication) and the worker's delivery
(`deliver_batch`: claim, POST to the peer, record the receipt; the worker's chores, run
once per poll and not per transfer, are left out); the receiving
node's work is what its web app does for that POST. Counts come from SQLAlchemy engine
events on each node's engine; a write transaction is one that ran an INSERT, UPDATE or
DELETE, which on PostgreSQL is one WAL flush (fsync) at commit, and on SQLite (WAL,
synchronous=NORMAL) none until a checkpoint. After one warm-up transfer, --count
transfers are measured and the mean per transfer printed, one JSON line per step.
With --burst N, each round sends N transfers and then delivers them at once (the worker's
batches: envelope batches of up to posting.BATCH_SEND envelopes to this peer), and the
figures are still per transfer.

Run: .venv/bin/python bench/profile_transfer.py [--count 20] [--burst 10]
     (GATEWAY_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test for
     PostgreSQL: two databases are created and dropped)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, environment, r

from adapters.db import make_engine, upgrade
from adapters.db.session import normalise_url
from gateway.app import create_app
from gateway.config import Settings
from gateway.devtools.samples import sample_transfer
from gateway.domain.areas import local_areas, peers
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import sending
from gateway.node import Node, build_node
from gateway.worker import deliver_batch, run_worker
from keys import MasterKey, fingerprint

NORTH, SOUTH = "northshire", "south-vale"
WRITES = ("INSERT", "UPDATE", "DELETE")


class Meter:
    """Counts on one engine: statements, transactions, write transactions."""

    def __init__(self, engine: Engine) -> None:
        self.counts: Counter[str] = Counter()
        self.log: list[str] | None = None
        self._writing: dict[int, bool] = {}
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)

    def _statement(self, connection: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        verb = statement.lstrip().split(" ", 1)[0].upper()
        if self.log is not None:
            self.log.append(" ".join(statement.split())[:110])
        if verb in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA"):
            return
        self.counts["statements"] += 1
        if verb in WRITES:
            self._writing[id(connection)] = True

    def _end(self, connection: Any) -> None:
        if self.log is not None:
            self.log.append("-- end of transaction")
        self.counts["transactions"] += 1
        if self._writing.pop(id(connection), False):
            self.counts["write_transactions"] += 1


@contextmanager
def databases(admin: str | None, home: Path) -> Iterator[tuple[str, str]]:
    if not admin:
        yield (f"sqlite:///{home / 'north.db'}", f"sqlite:///{home / 'south.db'}")
        return
    admin = normalise_url(admin)
    names = [f"marac_bench_profile_{uuid.uuid4().hex[:8]}_{n}" for n in ("n", "s")]
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    base = admin.rsplit("/", 1)[0]
    try:
        yield (f"{base}/{names[0]}", f"{base}/{names[1]}")
    finally:
        with engine.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def start(name: str, url: str, home: Path) -> tuple[Node, Any, str]:
    folder = home / name
    folder.mkdir()
    settings = Settings.from_env(
        {
            "GATEWAY_INSTANCE_DIR": str(folder),
            "GATEWAY_DATABASE_URL": url,
            "GATEWAY_MASTER_KEY_FILE": str(folder / "master.key"),
            "GATEWAY_SECRET_KEY": uuid.uuid4().hex * 2,
        }
    )
    MasterKey.create_file(settings.master_key_file)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    node = build_node(settings)
    server = make_server("127.0.0.1", 0, create_app(settings, node), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return node, server, f"http://127.0.0.1:{server.server_port}"


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--burst", type=int, default=1, help="transfers sent per delivery")
    parser.add_argument(
        "--show",
        action="store_true",
        help="print one round's statements (one transfer, or --burst)",
    )
    args = parser.parse_args()
    admin = os.environ.get("GATEWAY_BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory() as folder, databases(admin, Path(folder)) as urls:
        home = Path(folder)
        (north, north_server, north_url), (south, south_server, south_url) = (
            start("north", urls[0], home),
            start("south", urls[1], home),
        )
        try:
            run(north, north_url, south, south_url, args.count, args.burst, show=args.show)
        finally:
            north_server.shutdown()
            south_server.shutdown()
            north.close()
            south.close()


def run(
    north: Node,
    north_url: str,
    south: Node,
    south_url: str,
    count: int,
    burst: int = 1,
    *,
    show: bool,
) -> None:
    for node, code, url in ((north, NORTH, north_url), (south, SOUTH, south_url)):
        with node.sessions() as session:
            local_areas.create_area(
                session,
                node.master,
                code=code,
                name=code,
                url=url,
                mailbox=f"marac@{code}.example",
                now=utcnow(),
            )
    for importer, exporter, code in ((north, south, SOUTH), (south, north, NORTH)):
        with exporter.sessions() as session, session.begin():
            bundle = local_areas.export_bundle(
                session, exporter.master, code, utcnow(), exporter.accepts
            )
        with importer.sessions() as session:
            peers.import_peer(session, bundle, fingerprint(bundle["body"]), utcnow())

    def send() -> None:
        with north.sessions() as session:
            sending.send(
                session,
                north.master,
                Principal.operator(),
                sending.addressed(sample_transfer(NORTH, SOUTH), NORTH, SOUTH),
                utcnow(),
            )

    send()
    if run_worker(north, once=True) < 1:
        raise RuntimeError("the warm-up transfer was not delivered")
    sender, receiver = Meter(north.engine), Meter(south.engine)
    totals: dict[str, Counter[str]] = {}
    if show:
        sender.log, receiver.log = [], []
        for _ in range(burst):
            send()
        print("== sender: send", *sender.log, sep="\n", file=sys.stderr)
        sender.log.clear()
        while deliver_batch(north):
            pass
        print("== sender: deliver", *sender.log, sep="\n", file=sys.stderr)
        print("== receiver", *receiver.log, sep="\n", file=sys.stderr)
        sender.log = receiver.log = None
        sender.counts.clear()
        receiver.counts.clear()
    rounds = max(count // burst, 1)
    count = rounds * burst
    for _ in range(rounds):
        before = (Counter(sender.counts), Counter(receiver.counts))
        for _ in range(burst):
            send()
        middle = (Counter(sender.counts), Counter(receiver.counts))
        delivered = 0
        while delivered < burst:
            done = deliver_batch(north)
            if not done:
                raise RuntimeError("a transfer was not delivered")
            delivered += done
        after = (Counter(sender.counts), Counter(receiver.counts))
        for step, (a, b) in {
            "sender_send": (before[0], middle[0]),
            "sender_deliver": (middle[0], after[0]),
            "receiver_receive": (middle[1], after[1]),
        }.items():
            totals.setdefault(step, Counter()).update(b - a)
    emit(
        {
            "bench": "profile_transfer",
            **environment(),
            "backend": north.engine.dialect.name,
            "burst": burst,
        }
    )
    for step, counted in totals.items():
        emit(
            {
                "step": step,
                "transfers": count,
                **{k: r(counted[k] / count, 2) for k in ("transactions", "statements")},
                "write_transactions": r(counted["write_transactions"] / count, 2),
            }
        )
    both = sum(totals.values(), Counter())
    emit(
        {
            "step": "both_nodes",
            "transfers": count,
            **{k: r(both[k] / count, 2) for k in ("transactions", "statements")},
            "write_transactions": r(both["write_transactions"] / count, 2),
        }
    )


if __name__ == "__main__":
    main()

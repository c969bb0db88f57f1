"""The audit log on a real database: appends, `audit verify` on a large log, proofs.

SQLite (a temp file) always; PostgreSQL as well when GATEWAY_BENCH_DATABASE_URL (or
GATEWAY_TEST_DATABASE_URL) names an admin URL: a fresh `marac_bench_<random>` database is
created through an AUTOCOMMIT admin connection and dropped at the end. Each database is
set up as tests/conftest.py does (Settings.from_env, MasterKey.create_file, make_engine,
upgrade, build_node, local_areas.create_area, peers.import_peer of a bundle exported by a
throwaway SQLite node). Phases, per backend:

    append  audit.record(): one event per transaction (a transfer.sent leaf without the
            personal commitment), interleaved round by round with the baseline: the same
            leaf built and inserted, one row per transaction, through the same session
            machinery, into a plain table with audit_events' columns, keys and index but
            no head row, no frontier, no triggers. ratio = record mean / plain mean: the
            Merkle overhead (head row read with lock, frontier append, head UPDATE).
    send    sending.send (seal + audit append + outbox, one transaction; the checkpoint
            and the evidence are attached by the worker's claim since, so their wrappers
            read 0 here): sends/s, and the share of its time spent in audit.record,
            checkpoints.issue and evidence.prove, timed by wrapping those functions in
            this process only (monkeypatched module attributes; product code unchanged).
            The rest is timed the same way (seal_envelope, load/dump_transfer_request,
            the sender's current_secret_keys, recipient_key, and the COMMIT as Session
            before_commit..after_commit); "other" is what no wrapper covers (ORM
            flushes, get_area, building rows). The audit rows' share of the COMMIT is
            not separable and counts under commit.
    load    --events leaves in a second area's log, bulk-loaded (timed apart): leaves
            built by log._leaf + canonical_json exactly as record() builds them (varied
            actions, actors, peer areas, ids, digests, commitments), leaf hashes and
            per-row subtree blobs from keys.merkle.Frontier, inserted with executemany
            (SQLite) or COPY (PostgreSQL) in --batch rows per transaction, the head set
            after every batch, and --checkpoints real signed checkpoints at evenly spaced
            sizes, each issued by checkpoints.issue with the head set to that size.
            Then VACUUM ANALYZE (PostgreSQL) or a WAL checkpoint (SQLite).
    verify  verify_log(session, area) in one transaction (must be ok); baseline: the same
            streaming SELECT, rows fetched and dropped. Goal: under 30 s for 1,000,000.
    proof   for --pairs random (index, size) and (old, new) pairs over the loaded log,
            interleaved case by case with the baseline (a bare primary-key SELECT of one
            row): prove = *_nodes + fetch_nodes (one query) + *_proof; verify =
            verify_inclusion / verify_consistency. Goals (p99): prove < 5 ms, verify < 1 ms.

Prints one JSON object per line on stdout (the machine first). Run:
    .venv/bin/python bench/audit.py [--backend sqlite|postgresql|all] [--events 50000]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import psycopg
import sqlalchemy
from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, environment, note, percentile, r

import gateway.domain.audit as audit_package
from adapters.db import make_engine, upgrade
from adapters.db.models import AuditEvent, AuditHead, UTCDateTime
from adapters.db.session import normalise_url
from gateway.config import Settings
from gateway.devtools.samples import sample_transfer
from gateway.domain.areas import local_areas, peers
from gateway.domain.audit import actions, checkpoints, evidence
from gateway.domain.audit import log as audit_log
from gateway.domain.audit import verify as audit_verify
from gateway.domain.clock import utcnow
from gateway.domain.federation import envelope_writer
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import sending
from gateway.node import Node, build_node
from keys import MasterKey, b64url_encode, canonical_json, fingerprint
from keys.merkle import (
    Frontier,
    NodeId,
    consistency_nodes,
    consistency_proof,
    inclusion_nodes,
    inclusion_proof,
    leaf_hash,
    root_from_nodes,
    root_nodes,
    verify_consistency,
    verify_inclusion,
)
from schemas.wire.grounds import LEGAL_GROUNDS
from schemas.wire.transfer_request import CONSENT_STATES

BENCH = "audit"
PG_ENVS = ("GATEWAY_BENCH_DATABASE_URL", "GATEWAY_TEST_DATABASE_URL")
LOCAL, PEER, BULK = "northshire", "south-vale", "eastmarch"
GOAL_VERIFY_S = 30.0
GOAL_VERIFY_EVENTS = 1_000_000
GOAL_PROVE_MS = 5.0
GOAL_PROOF_VERIFY_MS = 1.0
LOG_SPAN = timedelta(days=365)  # the loaded log's leaves spread over a year
PEER_AREAS = tuple(
    f"{side}{place}"
    for side in ("north", "south", "west", "upper", "lower", "mid")
    for place in ("-vale", "-moor", "shire", "-fen")
)
GROUNDS = tuple(LEGAL_GROUNDS)
FAILURES = ("peer unreachable", "HTTP 503 from the peer", "peer refused: bad-signature")


# --- statistics -------------------------------------------------------------------------
def stats_ms(samples: Sequence[float]) -> dict[str, float]:
    return {
        "mean_ms": r(sum(samples) / len(samples) * 1e3, 4),
        "p50_ms": r(percentile(samples, 50) * 1e3, 4),
        "p99_ms": r(percentile(samples, 99) * 1e3, 4),
        "max_ms": r(max(samples) * 1e3, 4),
    }


def load_1m() -> float:
    """Machine load when a phase ended: other processes' CPU use skews the ratios."""
    return r(os.getloadavg()[0], 2)


# --- databases and nodes ----------------------------------------------------------------
def pg_admin_url() -> str | None:
    for name in PG_ENVS:
        if os.environ.get(name):
            return normalise_url(os.environ[name])
    return None


def pg_version(admin: str) -> str:
    engine = create_engine(admin)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SHOW server_version")).scalar())
    finally:
        engine.dispose()


class PgDatabase:
    """A fresh database on the admin URL's server, dropped (WITH FORCE) by drop()."""

    def __init__(self, admin: str) -> None:
        self.admin = admin
        self.name = f"marac_bench_{uuid.uuid4().hex[:12]}"
        self.created = False

    def create(self) -> str:
        engine = create_engine(self.admin, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        finally:
            engine.dispose()
        self.created = True
        return make_url(self.admin).set(database=self.name).render_as_string(hide_password=False)

    def drop(self) -> None:
        if not self.created:
            return
        engine = create_engine(self.admin, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        finally:
            engine.dispose()
        self.created = False


def make_node(home: Path, url: str) -> Node:
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env(
        {
            "GATEWAY_INSTANCE_DIR": str(home),
            "GATEWAY_DATABASE_URL": url,
            "GATEWAY_MASTER_KEY_FILE": str(home / "master.key"),
        }
    )
    MasterKey.create_file(settings.master_key_file)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    return build_node(settings)


def create_area(node: Node, code: str, now: datetime) -> None:
    with node.sessions() as session:
        local_areas.create_area(
            session,
            node.master,
            code=code,
            name=f"{code.title()} MARAC",
            url=f"https://{code}.example",
            mailbox=f"marac@{code}.example",
            now=now,
            actor=Actor.operator(),
        )


def setup_node(workdir: Path, url: str) -> Node:
    """The measured node with area LOCAL, which has imported PEER's bundle."""
    node = make_node(workdir / "node", url)
    helper = make_node(workdir / "peer", f"sqlite:///{workdir / 'peer' / 'gateway.db'}")
    try:
        now = utcnow()
        create_area(helper, PEER, now)
        create_area(node, LOCAL, now)
        with helper.sessions() as session, session.begin():
            bundle = local_areas.export_bundle(session, helper.master, PEER, now)
        with node.sessions() as session:
            peers.import_peer(session, bundle, fingerprint(bundle["body"]), now)
    finally:
        helper.close()
    return node


# --- realistic leaves -------------------------------------------------------------------
class Leaves:
    """Events shaped like the ones the services record, varied, from a seeded RNG."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.coordinators = [self._id() for _ in range(40)]

    def _id(self) -> str:
        """A random version-4 UUID string (str(uuid.UUID(...)) is twice as slow)."""
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def _hex(self) -> str:
        return self.rng.randbytes(32).hex()

    def _user(self) -> Actor:
        return Actor.user(self.rng.choice(self.coordinators), "coordinator")

    def _disclosure(self) -> dict[str, Any]:
        rng = self.rng
        return {
            "legal_basis": tuple(rng.sample(GROUNDS, rng.randint(1, 3))),
            "consent": rng.choice(CONSENT_STATES),
        }

    def sent_without_personal(self, peer: str = PEER) -> audit_package.Event:
        """The transfer.sent leaf record() writes, minus the salted commitment."""
        return audit_package.Event(
            action=actions.TRANSFER_SENT,
            actor=Actor.operator(),
            peer_area=peer,
            objects={"transfer": self._id(), "envelope": self._id()},
            envelope_digest=self._hex(),
            details={"type": sending.TRANSFER_REQUEST, "restricted": False},
            **self._disclosure(),
        )

    def next_event(self) -> tuple[audit_package.Event, str | None]:
        """One event and its commitment (None when the action carries no personal data)."""
        rng = self.rng
        roll = rng.random()
        peer = rng.choice(PEER_AREAS)
        objects = {"envelope": self._id(), "transfer": self._id()}
        commitment = b64url_encode(rng.randbytes(32))
        if roll < 0.34:  # transfer.sent / transfer.awaiting_approval
            action = actions.TRANSFER_SENT if roll < 0.30 else actions.TRANSFER_HELD
            actor = self._user() if rng.random() < 0.7 else Actor.operator()
            details: dict[str, audit_log.Detail] = {
                "type": sending.TRANSFER_REQUEST,
                "restricted": rng.random() < 0.1,
            }
            event = audit_package.Event(
                action, actor, peer, objects, self._hex(), details=details, **self._disclosure()
            )
            return event, commitment
        if roll < 0.62:
            details = {
                "receipt_sha256": self._hex(),
                "peer_seq": rng.randrange(1_000_000),
                "peer_leaf_hash": self._hex(),
            }
            event = audit_package.Event(
                actions.TRANSFER_DELIVERED,
                Actor.system(),
                peer,
                objects,
                self._hex(),
                details=details,
            )
            return event, None
        if roll < 0.89:
            sender_size = rng.randrange(1, 1_000_000)
            details = {
                "type": sending.TRANSFER_REQUEST,
                "evidence": "verified",
                "sender_log_size": sender_size,
                "sender_seq": sender_size - 1,
            }
            event = audit_package.Event(
                actions.ENVELOPE_RECEIVED,
                Actor.peer(peer),
                peer,
                objects,
                self._hex(),
                details=details,
                **self._disclosure(),
            )
            return event, commitment
        if roll < 0.93:
            details = {"reason": rng.choice(FAILURES), "attempts": rng.randint(1, 12)}
            event = audit_package.Event(
                actions.TRANSFER_FAILED, Actor.system(), peer, objects, self._hex(), details=details
            )
            return event, None
        if roll < 0.96:
            details = {"peer_size": rng.randrange(1, 1_000_000), "checked": 1, "problems": 0}
            return audit_package.Event(
                actions.PEER_VERIFIED, Actor.operator(), peer, details=details
            ), None
        if roll < 0.99:
            details = {"size": rng.randrange(1, 1_000_000)}
            return audit_package.Event(
                actions.COSIGNED, Actor.peer(peer), peer, details=details
            ), None
        details = {"matches": rng.randint(0, 20)}
        return audit_package.Event(actions.SUBJECT_ACCESS, self._user(), details=details), None


# --- 1a. appends ------------------------------------------------------------------------
class PlainBase(DeclarativeBase):
    metadata = MetaData()
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


# A stand-in for the product's areas table, only so the baseline's foreign key resolves.
Table("areas", PlainBase.metadata, Column("code", String(63), primary_key=True))


class PlainEvent(PlainBase):
    """audit_events' columns, primary key, foreign key and index; nothing else."""

    __tablename__ = "bench_plain_events"
    __table_args__ = (Index("ix_bench_plain_events_area_at", "area_code", "at"),)

    area_code: Mapped[str] = mapped_column(ForeignKey("local_areas.code"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    subtrees: Mapped[bytes] = mapped_column(LargeBinary)
    action: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


def bench_appends(node: Node, backend: str, args: argparse.Namespace) -> dict[str, Any]:
    PlainBase.metadata.create_all(node.engine, tables=[PlainEvent.__table__])
    leaves = Leaves(args.seed)
    plain_seq = iter(range(10**9))

    def record_one() -> None:
        with node.sessions() as session, session.begin():
            audit_package.record(session, LOCAL, leaves.sent_without_personal(), utcnow())

    def plain_one() -> None:
        seq = next(plain_seq)
        with node.sessions() as session, session.begin():
            at = audit_log.truncate_at(utcnow())
            leaf = audit_log._leaf(LOCAL, seq, at, leaves.sent_without_personal(), None)
            encoded = canonical_json(leaf)
            hashed = leaf_hash(encoded)
            session.add(
                PlainEvent(
                    area_code=LOCAL,
                    seq=seq,
                    leaf=encoded.decode("ascii"),
                    leaf_hash=hashed,
                    subtrees=hashed,  # 32 bytes: one completed level, the mean
                    action=actions.TRANSFER_SENT,
                    at=at,
                )
            )

    variants: dict[str, Callable[[], None]] = {"record": record_one, "plain_insert": plain_one}
    for fn in variants.values():
        for _ in range(args.warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    per_round = max(1, args.appends // args.rounds)
    clock = time.perf_counter
    for round_no in range(args.rounds):
        order = list(variants.items())
        if round_no % 2:
            order.reverse()  # neither variant always runs first
        for name, fn in order:
            for _ in range(per_round):
                started = clock()
                fn()
                samples[name].append(clock() - started)
    measured = {}
    for name, values in samples.items():
        mean = sum(values) / len(values)
        measured[name] = {
            "transactions": len(values),
            "per_s": r(1.0 / mean, 1),
            **stats_ms(values),
        }
    ratio = measured["record"]["mean_ms"] / measured["plain_insert"]["mean_ms"]
    line = {
        "bench": BENCH,
        "backend": backend,
        "phase": "append",
        "appends_per_s": measured["record"]["per_s"],
        "record": measured["record"],
        "baseline_plain_insert": measured["plain_insert"],
        "ratio": r(ratio, 3),
        "merkle_overhead_ms": r(
            measured["record"]["mean_ms"] - measured["plain_insert"]["mean_ms"], 4
        ),
        "load_1m": load_1m(),
    }
    emit(line)
    return line


# --- 1b. sends --------------------------------------------------------------------------
class CallTimer:
    """Seconds spent inside chosen functions, by wrapping module attributes in this process
    only; `commit` is Session before_commit..after_commit (final flush + COMMIT)."""

    TARGETS: tuple[tuple[str, ModuleType, str], ...] = (
        ("audit.record", audit_package, "record"),
        ("checkpoints.issue", checkpoints, "issue"),
        ("evidence.prove", evidence, "prove"),
        ("seal_envelope", envelope_writer, "seal_envelope"),
        # Not audit: the rest of sending.send, so "other" is what is left.
        ("load_transfer_request", sending, "load_transfer_request"),
        ("dump_transfer_request", sending, "dump_transfer_request"),
        ("current_secret_keys (seal)", envelope_writer, "current_secret_keys"),
        ("recipient_key", envelope_writer, "recipient_key"),
    )

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.reset()

    def reset(self) -> None:
        self.spent = {name: 0.0 for name, _, _ in self.TARGETS} | {"commit": 0.0}

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        clock = time.perf_counter

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[name] += clock() - started

        return timed

    @contextlib.contextmanager
    def installed(self, node: Node) -> Iterator[None]:
        originals = [(module, attr, getattr(module, attr)) for _, module, attr in self.TARGETS]
        commit_started = [0.0]

        def before_commit(_session: Session) -> None:
            commit_started[0] = time.perf_counter()

        def after_commit(_session: Session) -> None:
            self.spent["commit"] += time.perf_counter() - commit_started[0]

        for (name, module, attr), (_, _, original) in zip(self.TARGETS, originals, strict=True):
            setattr(module, attr, self._wrap(name, original))
        event.listen(node.sessions, "before_commit", before_commit)
        event.listen(node.sessions, "after_commit", after_commit)
        try:
            yield
        finally:
            event.remove(node.sessions, "before_commit", before_commit)
            event.remove(node.sessions, "after_commit", after_commit)
            for module, attr, original in originals:
                setattr(module, attr, original)


def bench_sends(node: Node, backend: str, args: argparse.Namespace) -> dict[str, Any]:
    counter = iter(range(10**9))

    def send() -> None:
        data = sample_transfer(LOCAL, PEER, victim=f"Ada{next(counter)}")
        with node.sessions() as session:
            sending.send(
                session,
                node.master,
                Principal.operator(),
                sending.addressed(data, LOCAL, PEER),
                utcnow(),
            )

    for _ in range(args.warmup):
        send()
    timer = CallTimer()
    totals: list[float] = []
    parts: dict[str, list[float]] = {name: [] for name in timer.spent}
    clock = time.perf_counter
    with timer.installed(node):
        for _ in range(args.sends):
            timer.reset()
            started = clock()
            send()
            totals.append(clock() - started)
            for name, spent in timer.spent.items():
                parts[name].append(spent)
    total = sum(totals)
    audit_names = ("audit.record", "checkpoints.issue", "evidence.prove")
    audit_spent = sum(sum(parts[name]) for name in audit_names)
    accounted = sum(sum(values) for values in parts.values())
    mean_ms = {name: r(sum(values) / len(values) * 1e3, 4) for name, values in parts.items()}
    mean_ms["other"] = r((total - accounted) / len(totals) * 1e3, 4)
    share = {name: r(sum(values) / total, 4) for name, values in parts.items()}
    share["other"] = r((total - accounted) / total, 4)
    line = {
        "bench": BENCH,
        "backend": backend,
        "phase": "send",
        "sends": len(totals),
        "sends_per_s": r(len(totals) / total, 2),
        **stats_ms(totals),
        "audit_share": r(audit_spent / total, 4),
        "audit_ms_mean": r(audit_spent / len(totals) * 1e3, 4),
        "parts_mean_ms": mean_ms,
        "parts_share": share,
        "load_1m": load_1m(),
    }
    emit(line)
    return line


# --- 2. bulk load -----------------------------------------------------------------------
COLUMNS = ("area_code", "seq", "leaf", "leaf_hash", "subtrees", "action", "at")
PG_TYPES = ("varchar", "int8", "text", "bytea", "bytea", "varchar", "timestamptz")
Row = tuple[str, int, str, bytes, bytes, str, datetime]


def insert_rows(session: Session, rows: list[Row]) -> None:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        statement = f"COPY audit_events ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(list(PG_TYPES))
            for row in rows:
                copy.write_row(row)
        return
    connection.execute(
        AuditEvent.__table__.insert(), [dict(zip(COLUMNS, row, strict=True)) for row in rows]
    )


def checkpoint_sizes(start: int, events: int, count: int) -> list[int]:
    """`count` sizes spread evenly up to `events` (the last is the full log)."""
    sizes = {max(start + 1, round(k * events / count)) for k in range(1, count + 1)}
    return sorted(size for size in sizes if start < size <= events)


def database_bytes(node: Node) -> int:
    with node.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            return int(
                connection.execute(text("SELECT pg_database_size(current_database())")).scalar()
                or 0
            )
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar() or 0
        size = connection.exec_driver_sql("PRAGMA page_size").scalar() or 0
        return int(pages) * int(size)


def bench_load(node: Node, backend: str, args: argparse.Namespace) -> dict[str, Any]:
    started_all = time.perf_counter()
    base = utcnow() - LOG_SPAN
    create_area(node, BULK, base)
    leaves = Leaves(args.seed + 1)
    rng = leaves.rng
    with node.sessions() as session, session.begin():
        head = session.get(AuditHead, BULK)
        assert head is not None
        frontier = Frontier.from_bytes(head.size, head.frontier)
    start = frontier.size
    events = args.events
    step_ms = max(1, int(LOG_SPAN.total_seconds() * 1000) // events)
    marks = checkpoint_sizes(start, events, args.checkpoints)
    next_mark = iter(marks)
    mark = next(next_mark, None)
    build_s = insert_s = issue_s = 0.0
    clock = time.perf_counter
    make_leaf, encode, hash_leaf = audit_log._leaf, canonical_json, leaf_hash
    truncate, delta = audit_log.truncate_at, timedelta
    seq = start
    last_note = clock()
    with node.sessions() as session:
        while seq < events:
            t0 = clock()
            rows: list[Row] = []
            due: list[tuple[int, bytes, datetime]] = []
            for s in range(seq, min(events, seq + args.batch)):
                at = truncate(base + delta(milliseconds=s * step_ms + rng.randrange(step_ms)))
                event_, commitment = leaves.next_event()
                encoded = encode(make_leaf(BULK, s, at, event_, commitment))
                hashed = hash_leaf(encoded)
                completed = frontier.append(hashed)
                rows.append(
                    (
                        BULK,
                        s,
                        encoded.decode("ascii"),
                        hashed,
                        b"".join(completed),
                        event_.action,
                        at,
                    )
                )
                if frontier.size == mark:
                    due.append((frontier.size, frontier.to_bytes(), at))
                    mark = next(next_mark, None)
            seq += len(rows)
            t1 = clock()
            with session.begin():
                insert_rows(session, rows)
                t2 = clock()
                head = session.get(AuditHead, BULK)
                assert head is not None
                for size, blob, at in due:
                    # issue() signs the head as it stands: set it to the size being signed.
                    head.size, head.frontier, head.updated_at = size, blob, at
                    checkpoints.issue(session, node.master, BULK, at)
                t3 = clock()
                head.size, head.frontier = frontier.size, frontier.to_bytes()
                head.updated_at = rows[-1][-1]
            t4 = clock()
            build_s += t1 - t0
            insert_s += (t2 - t1) + (t4 - t3)
            issue_s += t3 - t2
            if clock() - last_note > 15:
                last_note = clock()
                note(f"{BENCH} [{backend}]: loaded {seq:,}/{events:,}")
    load_s = clock() - started_all
    t0 = clock()
    if node.engine.dialect.name == "postgresql":
        with node.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE audit_events"))
            connection.execute(text("VACUUM ANALYZE audit_checkpoints"))
            connection.execute(text("VACUUM ANALYZE audit_heads"))
        maintenance = "VACUUM ANALYZE"
    else:
        with node.engine.connect() as connection:  # the driver's own, outside BEGIN
            connection.connection.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        maintenance = "wal_checkpoint(TRUNCATE)"
    maintenance_s = clock() - t0
    loaded = events - start
    line = {
        "bench": BENCH,
        "backend": backend,
        "phase": "load",
        "events": events,
        "loaded": loaded,
        "checkpoints": len(marks),
        "seconds": r(load_s, 2),
        "rows_per_s": r(loaded / load_s, 0),
        "build_leaves_s": r(build_s, 2),
        "insert_commit_s": r(insert_s, 2),
        "issue_checkpoints_s": r(issue_s, 2),
        "method": "COPY (FORMAT BINARY)" if backend == "postgresql" else "executemany",
        "batch_rows": args.batch,
        "maintenance": maintenance,
        "maintenance_s": r(maintenance_s, 2),
        "database_mb": r(database_bytes(node) / 1e6, 1),
        "load_1m": load_1m(),
    }
    emit(line)
    return line


# --- 2. verify --------------------------------------------------------------------------
def verify_select() -> Any:
    """The SELECT verify_log streams, as it issues it."""
    return (
        select(
            AuditEvent.seq,
            AuditEvent.leaf,
            AuditEvent.leaf_hash,
            AuditEvent.subtrees,
            AuditEvent.action,
            AuditEvent.at,
        )
        .where(AuditEvent.area_code == BULK)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=audit_verify.BATCH)
    )


def bench_verify(node: Node, backend: str, events: int, checkpoint_count: int) -> dict[str, Any]:
    clock = time.perf_counter
    with node.sessions() as session, session.begin():
        started = clock()
        scanned = sum(1 for _ in session.execute(verify_select()))
        scan_s = clock() - started
    with node.sessions() as session, session.begin():
        started = clock()
        report = audit_verify.verify_log(session, BULK)
        verify_s = clock() - started
    if not report.ok or report.entries != events or scanned != events:
        raise RuntimeError(f"verify_log did not pass: {json.dumps(report.as_dict())[:2000]}")
    if report.checkpoints < checkpoint_count:
        raise RuntimeError(f"verify_log saw {report.checkpoints} checkpoints")
    goal_s = GOAL_VERIFY_S * events / GOAL_VERIFY_EVENTS
    line = {
        "bench": BENCH,
        "backend": backend,
        "phase": "verify",
        "ok": report.ok,
        "entries": report.entries,
        "checkpoints": report.checkpoints,
        "seconds": r(verify_s, 2),
        "entries_per_s": r(report.entries / verify_s, 0),
        "baseline_scan": {
            "seconds": r(scan_s, 2),
            "rows_per_s": r(scanned / scan_s, 0),
        },
        "ratio": r(verify_s / scan_s, 2),
        "goal_s": r(goal_s, 2),
        "goal_met": verify_s < goal_s,
        "load_1m": load_1m(),
    }
    if events != GOAL_VERIFY_EVENTS:
        line["goal_note"] = f"goal scaled from {GOAL_VERIFY_S:.0f} s per 1,000,000 entries"
    emit(line)
    return line


def each(fn: Callable[[Any], object], items: Sequence[Any]) -> Callable[[], None]:
    """A loop calling fn on every item and keeping no result (kept results would make the
    garbage collector's full passes, not fn, the cost being measured)."""

    def run() -> None:
        for item in items:
            fn(item)

    return run


def verify_breakdown(node: Node, backend: str, sample: int) -> None:
    """Where verify_log's per-entry time goes, on the first `sample` rows held in memory
    (informational: the sum is not exactly verify_log, which also fetches and loops)."""
    with node.sessions() as session, session.begin():
        rows = list(session.execute(verify_select().limit(sample)))
    encoded = [row.leaf.encode("utf-8") for row in rows]
    parsed = [json.loads(leaf) for leaf in encoded]
    report = audit_verify.LogReport(BULK)

    def entry_checks() -> None:
        check = audit_verify._check_fields
        for row in rows:
            check(report, BULK, row.seq, row.leaf, row.action, audit_log.format_at(row.at))

    def deep_checks() -> None:
        check = audit_verify._check_deep
        for row in rows:
            check(report, BULK, row.seq, row.leaf, row.action, audit_log.format_at(row.at))

    def tree() -> None:
        frontier = Frontier()
        for row in rows:
            if b"".join(frontier.append(row.leaf_hash)) != row.subtrees:
                raise RuntimeError("subtrees mismatch")

    parts: dict[str, Callable[[], object]] = {
        "leaf_hash(leaf)": each(leaf_hash, encoded),
        "json.loads(leaf)": each(json.loads, encoded),
        "canonical_json(parsed) == leaf": each(
            lambda pair: canonical_json(pair[0]) == pair[1], list(zip(parsed, encoded, strict=True))
        ),
        "format_at(at)": each(audit_log.format_at, [row.at for row in rows]),
        "Frontier.append + subtrees compare": tree,
        "_check_fields (default entry checks)": entry_checks,
        "_check_deep (--deep entry checks)": deep_checks,
    }
    mean_us = {}
    for label, fn in parts.items():
        fn()
        started = time.perf_counter()
        fn()
        mean_us[label] = r((time.perf_counter() - started) / len(rows) * 1e6, 3)
    if report.problems:
        raise RuntimeError(f"breakdown found problems: {report.problems[:3]}")
    emit(
        {
            "bench": BENCH,
            "backend": backend,
            "phase": "verify",
            "kind": "breakdown",
            "rows": len(rows),
            "mean_us_per_entry": mean_us,
        }
    )


# --- 3. proofs --------------------------------------------------------------------------
@dataclass
class ProofCase:
    a: int  # index (inclusion) or old size (consistency)
    b: int  # size (inclusion) or new size (consistency)


def bench_proofs(
    node: Node, backend: str, size: int, pairs: int, seed: int
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    inclusion = []
    for _ in range(pairs):
        tree = rng.randint(1, size)
        inclusion.append(ProofCase(rng.randrange(tree), tree))
    consistency = []
    for _ in range(pairs):
        new = rng.randint(1, size)
        consistency.append(ProofCase(rng.randint(1, new), new))
    pk_keys = [rng.randrange(size) for _ in range(pairs)]

    def pk_select(session: Session, seq: int) -> bytes:
        return session.execute(
            select(AuditEvent.leaf_hash).where(AuditEvent.area_code == BULK, AuditEvent.seq == seq)
        ).scalar_one()

    kinds: dict[str, tuple[Callable[[int, int], list[NodeId]], Callable[..., list[bytes]]]] = {
        "inclusion": (inclusion_nodes, inclusion_proof),
        "consistency": (consistency_nodes, consistency_proof),
    }
    cases = {"inclusion": inclusion, "consistency": consistency}
    prove: dict[str, list[float]] = {kind: [] for kind in kinds}
    fetch: dict[str, list[float]] = {kind: [] for kind in kinds}
    node_counts: dict[str, list[int]] = {kind: [] for kind in kinds}
    proofs: dict[str, list[list[bytes]]] = {kind: [] for kind in kinds}
    baseline: list[float] = []
    clock = time.perf_counter
    with node.sessions() as session, session.begin():
        for warm in range(min(50, pairs)):  # statement caches, connection, pages
            pk_select(session, pk_keys[warm])
            for kind, (ids_of, build) in kinds.items():
                case = cases[kind][warm]
                build(case.a, case.b, audit_log.fetch_nodes(session, BULK, ids_of(case.a, case.b)))
        for i in range(pairs):
            t0 = clock()
            pk_select(session, pk_keys[i])
            baseline.append(clock() - t0)
            for kind, (ids_of, build) in kinds.items():
                case = cases[kind][i]
                t0 = clock()
                ids = ids_of(case.a, case.b)
                t1 = clock()
                nodes = audit_log.fetch_nodes(session, BULK, ids)
                t2 = clock()
                proof = build(case.a, case.b, nodes)
                t3 = clock()
                prove[kind].append(t3 - t0)
                fetch[kind].append(t2 - t1)
                node_counts[kind].append(len(ids))
                proofs[kind].append(proof)

        # Verification inputs (untimed): leaf hashes and roots, from the stored nodes.
        roots: dict[int, bytes] = {}

        def root_at(tree_size: int) -> bytes:
            if tree_size not in roots:
                fetched = audit_log.fetch_nodes(session, BULK, root_nodes(tree_size))
                roots[tree_size] = root_from_nodes(tree_size, fetched)
            return roots[tree_size]

        leaf_hashes = [
            audit_log.fetch_nodes(session, BULK, [(0, case.a)])[(0, case.a)] for case in inclusion
        ]
        for case in inclusion:
            root_at(case.b)
        for case in consistency:
            root_at(case.a)
            root_at(case.b)
        head_size, head_root = audit_log.head_of(session, BULK)
    assert head_size == size
    assert root_at(size) == head_root

    def verify_one_inclusion(i: int) -> None:
        case = inclusion[i]
        verify_inclusion(leaf_hashes[i], case.a, case.b, proofs["inclusion"][i], roots[case.b])

    def verify_one_consistency(i: int) -> None:
        case = consistency[i]
        verify_consistency(case.a, case.b, roots[case.a], roots[case.b], proofs["consistency"][i])

    verifiers = {"inclusion": verify_one_inclusion, "consistency": verify_one_consistency}
    verify_samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    for kind, verify in verifiers.items():
        for i in range(pairs):
            verify(i)  # every proof must verify before anything is timed
        gc.collect()
        for i in range(pairs):
            t0 = clock()
            verify(i)
            verify_samples[kind].append(clock() - t0)

    base_stats = stats_ms(baseline)
    lines = [
        {
            "bench": BENCH,
            "backend": backend,
            "phase": "proof",
            "kind": "baseline",
            "op": "pk_select",
            "leaves": size,
            "selects": len(baseline),
            **base_stats,
        }
    ]
    for kind in kinds:
        prove_stats = stats_ms(prove[kind])
        verify_stats = stats_ms(verify_samples[kind])
        common = {"bench": BENCH, "backend": backend, "phase": "proof", "kind": kind}
        lines.append(
            {
                **common,
                "op": "prove",
                "leaves": size,
                "pairs": pairs,
                **prove_stats,
                "fetch_nodes": stats_ms(fetch[kind]),
                "node_ids_mean": r(sum(node_counts[kind]) / pairs, 1),
                "node_ids_max": max(node_counts[kind]),
                "ratio_p50_to_pk_select": r(prove_stats["p50_ms"] / base_stats["p50_ms"], 2),
                "goal_ms": GOAL_PROVE_MS,
                "goal_met": prove_stats["p99_ms"] < GOAL_PROVE_MS,
            }
        )
        lines.append(
            {
                **common,
                "op": "verify",
                "leaves": size,
                "pairs": pairs,
                **verify_stats,
                "proof_hashes_mean": r(sum(len(p) for p in proofs[kind]) / pairs, 1),
                "goal_ms": GOAL_PROOF_VERIFY_MS,
                "goal_met": verify_stats["p99_ms"] < GOAL_PROOF_VERIFY_MS,
            }
        )
    for line in lines:
        emit(line)
    return lines


# --- orchestration ----------------------------------------------------------------------
@contextlib.contextmanager
def terminate_on_signals() -> Iterator[None]:
    """SIGTERM/SIGHUP raise SystemExit, so the finally blocks drop the bench database."""

    def _exit(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, _exit) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_backend(backend: str, admin: str | None, args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix=f"marac-bench-audit-{backend}-"))
    database = PgDatabase(admin) if backend == "postgresql" and admin else None
    node: Node | None = None
    try:
        url = database.create() if database else f"sqlite:///{workdir / 'node' / 'gateway.db'}"
        note(f"{BENCH} [{backend}]: setting up {database.name if database else url}")
        node = setup_node(workdir, url)
        note(f"{BENCH} [{backend}]: appends ({args.appends} per variant, {args.rounds} rounds)")
        appends = bench_appends(node, backend, args)
        note(f"{BENCH} [{backend}]: {args.sends} sending.send calls")
        sends = bench_sends(node, backend, args)
        note(f"{BENCH} [{backend}]: bulk-loading {args.events:,} events")
        load = bench_load(node, backend, args)
        note(f"{BENCH} [{backend}]: verify_log over {args.events:,} entries")
        verify = bench_verify(node, backend, args.events, load["checkpoints"])
        if args.breakdown:
            verify_breakdown(node, backend, min(args.events, 50_000))
        note(f"{BENCH} [{backend}]: {args.pairs} proofs of each kind")
        proofs = bench_proofs(node, backend, args.events, args.pairs, args.seed)
        goals = {
            "verify": verify["goal_met"],
            **{
                f"{line['kind']}_{line['op']}": line["goal_met"]
                for line in proofs
                if "goal_met" in line
            },
        }
        summary = {
            "bench": BENCH,
            "backend": backend,
            "kind": "summary",
            "events": args.events,
            "appends_per_s": appends["appends_per_s"],
            "append_ratio": appends["ratio"],
            "sends_per_s": sends["sends_per_s"],
            "send_audit_share": sends["audit_share"],
            "load_s": load["seconds"],
            "verify_s": verify["seconds"],
            "verify_entries_per_s": verify["entries_per_s"],
            "prove_p99_ms_max": max(x["p99_ms"] for x in proofs if x.get("op") == "prove"),
            "verify_p99_ms_max": max(x["p99_ms"] for x in proofs if x.get("op") == "verify"),
            "goals": goals,
            "goal_met": all(goals.values()),
            "seconds": r(time.perf_counter() - started, 1),
        }
        emit(summary)
        return summary
    finally:
        if node is not None:
            node.close()
        if database is not None:
            with contextlib.suppress(Exception):
                database.drop()
        shutil.rmtree(workdir, ignore_errors=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend",
        choices=("all", "sqlite", "postgresql"),
        default="all",
        help="all = SQLite, plus PostgreSQL when an admin URL is set",
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="size of the loaded log")
    parser.add_argument("--checkpoints", type=int, default=1_000, help="signed, in the load")
    parser.add_argument("--batch", type=int, default=20_000, help="rows per load transaction")
    parser.add_argument("--appends", type=int, default=1_000, help="per variant (record, plain)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved append rounds")
    parser.add_argument("--sends", type=int, default=200, help="timed sending.send calls")
    parser.add_argument("--warmup", type=int, default=10, help="untimed appends/sends first")
    parser.add_argument("--pairs", type=int, default=1_000, help="random proofs of each kind")
    parser.add_argument("--seed", type=int, default=9162)
    parser.add_argument(
        "--no-breakdown", dest="breakdown", action="store_false", help="skip informational lines"
    )
    args = parser.parse_args(argv)
    if args.events < 10:
        parser.error("--events must be at least 10")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    admin = pg_admin_url()
    if args.backend == "postgresql" and admin is None:
        note(f"{BENCH}: --backend postgresql needs {PG_ENVS[0]} (or {PG_ENVS[1]})")
        return 2
    backends = ["sqlite"] if args.backend in ("all", "sqlite") else []
    if args.backend in ("all", "postgresql") and admin is not None:
        backends.append("postgresql")
    emit(
        {
            "bench": BENCH,
            "kind": "machine",
            **environment(),
            "sqlite": sqlite3.sqlite_version,
            "postgresql": pg_version(admin) if admin else None,
            "sqlalchemy": sqlalchemy.__version__,
            "psycopg": psycopg.__version__,
            "backends": backends,
            "load_1m": load_1m(),
        }
    )
    with terminate_on_signals():
        for backend in backends:
            run_backend(backend, admin, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

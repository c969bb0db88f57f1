"""What a flag lookup costs the database: a node playing both linkage roles (the embedded
default) answers a lookup with a fixed, small number of statements, its audit log still
verifies, every role's rate limit still holds, and the token keys a process keeps in
memory do not keep a client revoked by another process alive; a send signs no checkpoint
and a claimed burst signs one; a batch is stored in one write transaction. Real nodes,
SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import event, func, select
from support.clock import pin_clock
from support.nodes import Pair, RunningNode

from adapters.db.models import AuditEvent
from adapters.db.session import writes_together
from gateway.cli import main
from gateway.devtools.samples import sample_transfer
from gateway.domain import audit
from gateway.domain.areas import local_areas
from gateway.domain.audit import actions
from gateway.domain.audit.log import fetch_nodes
from gateway.domain.clock import utcnow
from gateway.domain.federation.delivery import claim_due
from gateway.domain.identity import clients
from gateway.domain.identity.actors import Actor
from keys import (
    PublicAreaKey,
    b64url_decode,
    canonical_json,
    issue_request_token,
    seal_envelope,
    verify_document,
)
from schemas.wire.envelope import ENVELOPE_BATCHES_PATH

HOLDER, ASKER = "holdshire", "askvale"
PERSON = {"given_names": "Perpetua", "family_name": "Lindqvist", "date_of_birth": "1979-11-02"}


@dataclass
class Counted:
    statements: list[str] = field(default_factory=list)
    commits: int = 0
    # Each statement whole, for the few tests that look past its first words.
    whole: list[str] = field(default_factory=list)

    @property
    def work(self) -> list[str]:
        """Statements other than SQLite's own BEGIN (PostgreSQL's is implicit)."""
        return [s for s in self.statements if not s.startswith("BEGIN")]

    @property
    def queries(self) -> list[str]:
        """`work` without savepoints (as bench/profile_transfer.py counts)."""
        return [s for s in self.work if not s.startswith(("SAVEPOINT", "RELEASE"))]


@contextmanager
def counting(node: RunningNode) -> Iterator[Counted]:
    counted = Counted()
    engine = node.node.engine

    def on_statement(_c: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        counted.statements.append(" ".join(statement.split())[:90])
        counted.whole.append(statement)

    def on_commit(_c: Any) -> None:
        counted.commits += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_commit)


def bearer(node: RunningNode, area: str, scopes: str) -> tuple[str, dict[str, str]]:
    with node.node.sessions() as session:
        made, secret = clients.create_client(
            session, node.node.master, name="cms", area=area, scopes=scopes, now=utcnow()
        )
    answer = node.app.test_client().post(
        "/api/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(made.id, secret)
    )
    assert answer.status_code == 200, answer.text
    return made.id, {"Authorization": "Bearer " + answer.json["access_token"]}


def solo(node_factory: Callable[..., RunningNode]) -> RunningNode:
    node = node_factory("solo")
    node.create_area(HOLDER)
    node.create_area(ASKER)
    return node


def lookup(node: RunningNode, headers: dict[str, str], **person: str) -> Any:
    return node.app.test_client().post(
        "/api/v1/flags/lookups", json={**PERSON, **person}, headers=headers
    )


def test_a_lookup_costs_seven_statements_in_two_transactions(
    node_factory: Callable[..., RunningNode],
) -> None:
    node = solo(node_factory)
    _, writer = bearer(node, HOLDER, "flags:write flags:query")
    _, reader = bearer(node, ASKER, "flags:query")
    made = node.app.test_client().post(
        "/api/v1/flags",
        json={
            "case_ref": "H-1",
            "reviewed_at": utcnow().date().isoformat(),
            "source": "local",
            "subjects": [{"role": "victim", **PERSON}],
        },
        headers=writer,
    )
    assert made.status_code == 201, made.text
    assert lookup(node, reader).status_code == 200  # warms the process cache
    leaves = node.count("audit_events")

    with counting(node) as counted:
        answer = lookup(node, reader)
    assert answer.status_code == 200, answer.text
    assert [m["kind"] for m in answer.json["matches"]] == ["remote"]
    # The bearer check: the client's row. The lookup: the three rate limits in one
    # upsert, the index match, the local match, and the three audit events appended at
    # commit with one head lock, one insert and one head update. (Before: 19 statements
    # in three transactions.)
    print("\n".join(counted.statements))
    assert len(counted.work) == 7, counted.statements
    assert counted.commits == 2
    assert sum("audit_heads" in s for s in counted.work) == 2  # lock, then one update

    # The three events are in the log, in their order, and the log still verifies.
    with node.node.engine.connect() as connection:
        actions = [
            row[0]
            for row in connection.exec_driver_sql(
                "SELECT action FROM audit_events WHERE area_code = 'askvale' "
                "ORDER BY seq DESC LIMIT 3"
            )
        ]
    assert actions == ["lookup", "index.matched", "linkage.evaluated"]
    assert node.count("audit_events") == leaves + 3
    verified = CliRunner(env=node.env).invoke(main, ["audit", "verify", "--area", ASKER, "--deep"])
    assert verified.exit_code == 0, verified.output


def test_the_lookup_rate_limit_still_counts_each_role(
    node_factory: Callable[..., RunningNode], monkeypatch: pytest.MonkeyPatch
) -> None:
    node = node_factory("solo", GATEWAY_LINKAGE_RATE_LIMIT="2/hour")
    node.create_area(ASKER)
    pin_clock(monkeypatch)  # every evaluation in one hour's window
    _, reader = bearer(node, ASKER, "flags:query")
    assert lookup(node, reader).status_code == 200
    assert lookup(node, reader).status_code == 200
    refused = lookup(node, reader)
    assert refused.status_code == 429, refused.text
    assert "linkage evaluations" in refused.json["detail"]
    # The refused lookup left nothing behind: no audit event, no count.
    assert int(node.scalar("SELECT count(*) FROM audit_events WHERE action = 'lookup'")) == 2


REVOKE = """
import sys
from gateway.config import Settings
from gateway.domain.clock import utcnow
from gateway.domain.identity import clients
from gateway.domain.identity.principals import Principal
from gateway.node import build_node

node = build_node(Settings.from_env())
with node.sessions() as session:
    clients.revoke_client(session, Principal.operator(), sys.argv[1], sys.argv[2], utcnow())
node.close()
"""


def test_a_client_revoked_by_another_process_is_refused_at_once(
    node_factory: Callable[..., RunningNode],
) -> None:
    node = solo(node_factory)
    client_id, reader = bearer(node, ASKER, "flags:query")
    http = node.app.test_client()
    assert http.get("/api/v1/flags", headers=reader).status_code == 200  # cached here now
    assert http.get("/api/v1/flags", headers=reader).status_code == 200

    subprocess.run([sys.executable, "-c", REVOKE, ASKER, client_id], env=node.env, check=True)
    refused = http.get("/api/v1/flags", headers=reader)
    assert refused.status_code == 401, refused.text


def post_batch(pair: Pair, bodies: list[str]) -> Any:
    """POST a batch to south-vale as the northshire node would: a signed request token."""
    url = pair.south.url + ENVELOPE_BATCHES_PATH
    body = ('{"envelopes":[' + ",".join(bodies) + "]}").encode("ascii")
    with pair.north.node.sessions() as session, session.begin():
        keys = local_areas.current_secret_keys(
            session, pair.north.node.master, "northshire", utcnow()
        )
    token = issue_request_token(keys, audience="south-vale", method="POST", url=url, body=body)
    return httpx.post(
        url,
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )


BATCH = 10


def outbound_bodies(pair: Pair) -> list[str]:
    """The bytes the worker would send: each body with its evidence, as the claim proves it."""
    pair.north.prove_queued()
    with pair.north.node.engine.connect() as connection:
        return [
            str(row[0])
            for row in connection.exec_driver_sql(
                "SELECT body FROM envelopes WHERE direction = 'outbound' ORDER BY pk"
            )
        ]


def test_a_batch_of_ten_is_stored_in_one_write_transaction(pair: Pair) -> None:
    pair.send()
    assert pair.north.deliver() == 1  # warms the receiver's caches
    for _ in range(BATCH):
        pair.send()
    bodies = outbound_bodies(pair)[1:]
    leaves = pair.south.count("audit_events")

    with counting(pair.south) as counted:
        answer = post_batch(pair, bodies)
    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == [202] * BATCH
    print(f"{counted.commits} transactions, {len(counted.queries)} statements")
    print("\n".join(counted.statements))
    # The request token's check (a read), the ten envelopes verified in one read
    # transaction, then all ten stored in one write transaction that spends the token:
    # three transactions for the batch (before: 2 + 2 per envelope, 22 for ten).
    assert counted.commits == 3
    if pair.south.node.engine.dialect.name == "sqlite":
        # The two checks only read: deferred, so a store elsewhere neither holds them up
        # nor is held up by them (adapters/db/session.py `read_only`).
        begins = [s for s in counted.statements if s.startswith("BEGIN")]
        assert begins == ["BEGIN", "BEGIN", "BEGIN IMMEDIATE"], begins
    # The token's key and the area's URL come from the key cache: its generation alone.
    assert counted.queries[0].startswith("SELECT key_generation"), counted.statements
    assert counted.queries[1].startswith("SELECT key_generation"), counted.statements
    # Verifying: the generation, then the fork check of the one checkpoint the batch's
    # envelopes share (no key lookups: 50 for ten before). Storing: the token, the
    # sender's checkpoint kept once for the batch (an insert that does nothing once held),
    # the duplicate check for the whole batch, then, all ten in one savepoint (a savepoint
    # each only when one of them is refused while storing), the audit salts and leaves, the
    # envelopes, transfers, notifications and timeline steps, a statement per table for
    # the ten (six per envelope before); the audit head locked once and updated once.
    # SQLite alone inserts the envelopes one by one: it returns their ids a row at a time.
    envelope_inserts = BATCH if pair.south.node.engine.dialect.name == "sqlite" else 1
    assert len(counted.queries) == 2 + 1 + 1 + 2 + envelope_inserts + 5 + 2, counted.statements
    assert sum(s.startswith("INSERT INTO envelopes") for s in counted.work) == envelope_inserts
    for table in ("transfers", "audit_salts", "audit_events", "transfer_events", "notifications"):
        assert sum(s.startswith(f"INSERT INTO {table} ") for s in counted.work) == 1, table
    assert sum(s.startswith("SAVEPOINT") for s in counted.work) == 1
    assert sum("audit_heads" in s for s in counted.work) == 2
    assert pair.south.count("envelopes") == BATCH + 1
    assert pair.south.count("audit_events") == leaves + BATCH
    verified = CliRunner(env=pair.south.env).invoke(
        main, ["audit", "verify", "--area", "south-vale", "--deep"]
    )
    assert verified.exit_code == 0, verified.output


def test_an_envelope_refused_while_storing_leaves_the_others_of_its_batch(pair: Pair) -> None:
    """The second envelope with the first's id and other content verifies on its own, and
    is refused as a conflict only when stored, after the first was written in the same
    transaction: it is answered alone and the others are stored."""
    for _ in range(2):
        pair.send()
    bodies = outbound_bodies(pair)
    first = json.loads(bodies[0])
    south = pair.south.bundle("south-vale")["body"]
    recipient = PublicAreaKey(
        "south-vale",
        south["key_id"],
        b64url_decode(south["signing_key"]),
        b64url_decode(south["encryption_key"]),
        datetime(2020, 1, 1, tzinfo=UTC),
    )
    with pair.north.node.sessions() as session, session.begin():
        keys = local_areas.current_secret_keys(
            session, pair.north.node.master, "northshire", utcnow()
        )
    other = seal_envelope(
        sender=keys,
        recipient=recipient,
        payload_type="transfer_request",
        payload=sample_transfer("northshire", "south-vale", victim="Other"),
        envelope_id=first["id"],
    )
    leaves = pair.south.count("audit_events")
    batch = [bodies[0], canonical_json(other.wire).decode("ascii"), bodies[1]]
    with counting(pair.south) as counted:
        answer = post_batch(pair, batch)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [202, 409, 202]
    assert pair.south.count("envelopes") == 2
    assert pair.south.count("audit_events") == leaves + 2
    # Tried together first (one savepoint), rolled back at the conflict, then stored one
    # savepoint each: the log has no gap or leftover from the first try, and each receipt
    # names the event that was kept.
    assert sum(s.startswith("SAVEPOINT") for s in counted.work) == 1 + len(batch)
    verified = CliRunner(env=pair.south.env).invoke(
        main, ["audit", "verify", "--area", "south-vale", "--deep"]
    )
    assert verified.exit_code == 0, verified.output
    south_signing = b64url_decode(south["signing_key"])
    seqs = [
        verify_document(results[i]["receipt"], "receipt", south_signing)["audit"]["seq"]
        for i in (0, 2)
    ]
    assert seqs == [leaves, leaves + 1], seqs


def test_an_audit_savepoint_rolls_back_its_events_and_the_head_kept_in_memory(
    node_factory: Callable[..., RunningNode],
) -> None:
    """What the batch receiver relies on: an event appended in a savepoint that rolls
    back leaves no gap, and the head row is written once at commit."""
    node = node_factory("solo")
    node.create_area(HOLDER)
    size = node.count("audit_events")

    def event(name: str) -> audit.Event:
        return audit.Event(action="test." + name, actor=Actor.operator())

    with node.node.sessions() as session, counting(node) as counted, session.begin():
        audit.record(session, HOLDER, event("a"), utcnow())
        with contextlib.suppress(LookupError), audit.savepoint(session):
            audit.record(session, HOLDER, event("rolled-back"), utcnow())
            raise LookupError
        audit.record(session, HOLDER, event("c"), utcnow())
    assert sum(s.startswith("UPDATE audit_heads") for s in counted.work) == 1
    with node.node.engine.connect() as connection:
        rows = list(
            connection.exec_driver_sql(
                "SELECT seq, action FROM audit_events WHERE area_code = 'holdshire' ORDER BY seq"
            )
        )
    assert [(int(seq), action) for seq, action in rows[size:]] == [
        (size, "test.a"),
        (size + 1, "test.c"),
    ]
    verified = CliRunner(env=node.env).invoke(main, ["audit", "verify", "--area", HOLDER])
    assert verified.exit_code == 0, verified.output


def test_rows_kept_together_are_written_once_read_before_and_dropped_with_a_raise(
    node_factory: Callable[..., RunningNode],
) -> None:
    """What the batch receiver relies on in `writes_together`: appends inside it insert
    nothing until the block ends (then one statement per table), a query through the
    session, or a proof's plain-SQL read of the tree, first writes what is kept; a block
    that raises drops what it kept, inside the savepoint that rolls back."""
    node = node_factory("solo")
    node.create_area(HOLDER)
    size = node.count("audit_events")

    def event(name: str) -> audit.Event:
        return audit.Event(action="test." + name, actor=Actor.operator())

    count = select(func.count()).select_from(AuditEvent).where(AuditEvent.area_code == HOLDER)
    with node.node.sessions() as session, counting(node) as counted, session.begin():
        with writes_together(session):
            for name in ("a", "b", "c"):
                audit.record(session, HOLDER, event(name), utcnow())
            assert not any(s.startswith("INSERT INTO audit_events") for s in counted.work)
            assert session.scalar(count) == size + 3  # the query wrote them first
            recorded = audit.record(session, HOLDER, event("d"), utcnow())
            proof = fetch_nodes(session, HOLDER, {(0, recorded.seq)})
            assert proof == {(0, recorded.seq): recorded.leaf_hash}
        with (
            contextlib.suppress(LookupError),
            audit.savepoint(session),
            writes_together(session),
        ):
            audit.record(session, HOLDER, event("dropped"), utcnow())
            raise LookupError
        audit.record(session, HOLDER, event("e"), utcnow())
    inserts = [s for s in counted.work if s.startswith("INSERT INTO audit_events")]
    assert len(inserts) == 3, counted.statements  # a+b+c together, d, then e
    with node.node.engine.connect() as connection:
        actions = [
            action
            for (action,) in connection.exec_driver_sql(
                "SELECT action FROM audit_events WHERE area_code = 'holdshire' ORDER BY seq"
            )
        ]
    assert actions[size:] == ["test.a", "test.b", "test.c", "test.d", "test.e"]
    verified = CliRunner(env=node.env).invoke(main, ["audit", "verify", "--area", HOLDER])
    assert verified.exit_code == 0, verified.output


def test_a_send_signs_no_checkpoint_and_a_claimed_burst_signs_one(pair: Pair) -> None:
    """The send appends its leaf and writes envelope and outbox row; it neither reads nor
    writes checkpoints. The worker's claim of a burst signs one for all of it."""
    pair.send()
    pair.north.deliver()  # warm-up: the worker's first pass also signs its due checkpoint
    with counting(pair.north) as sent:
        for name in ("Ada", "Bea", "Cora"):
            pair.send(victim=name)
    assert not [s for s in sent.work if "audit_checkpoints" in s], sent.statements
    # Each send locks the head once and updates it once, and writes one leaf.
    assert sum("audit_heads" in s for s in sent.work) == 2 * 3
    with counting(pair.north) as claimed, pair.north.node.sessions() as session:
        claims = claim_due(session, pair.north.node.master, now=utcnow(), lease=60, limit=10)
    assert len(claims) == 3
    signed = [s for s in claimed.work if s.startswith("INSERT INTO audit_checkpoints")]
    assert len(signed) == 1, claimed.statements
    assert claimed.commits == 1
    # The head is read (to sign it), never locked, by the claim.
    assert not [s for s in claimed.work if "audit_heads" in s and "FOR UPDATE" in s]


def test_a_batch_of_receipts_is_recorded_with_a_statement_per_table_not_per_receipt(
    pair: Pair,
) -> None:
    """The worker records a batch's receipts in one transaction whose statements do not
    grow with the batch: its outbox rows, envelopes and transfers are read in one query
    and written together, each transfer's step on its timeline goes in with the others,
    and the delivery events go into the log in one insert with one lock and update of the
    head."""
    pair.send()
    assert pair.north.deliver() == 1  # warm-up: first-pass chores, caches
    statements: dict[int, Counter[str]] = {}
    for burst in (3, 9):
        for _ in range(burst):
            pair.send()
        with counting(pair.north) as counted:
            assert pair.north.deliver() == burst
        statements[burst] = Counter(" ".join(s.split()[:3]) for s in counted.work)
    grown = statements[9] - statements[3]
    assert grown == Counter(), grown
    assert statements[9]["INSERT INTO transfer_events"] == 1, statements[9]
    assert statements[9]["INSERT INTO audit_events"] == 1, statements[9]
    # The outbox rows, envelopes and transfers: one UPDATE each for the batch's receipts
    # (adapters.db.session.update_later), besides the claim's one of the outbox rows (the
    # lease) and one of the envelopes (their evidence); what every row then holds is
    # checked below.
    updates = {table: statements[9][f"UPDATE {table} SET"] for table in ("outbox", "envelopes")}
    assert updates == {"outbox": 2, "envelopes": 2}, statements[9]
    assert statements[9]["UPDATE transfers SET"] == 1, statements[9]
    if pair.north.node.engine.dialect.name == "postgresql":
        # The claim's and the receipts' alike: one statement over arrays, not a row each.
        changed = [s for s in counted.whole if s.startswith(("UPDATE outbox", "UPDATE env"))]
        changed += [s for s in counted.whole if s.startswith("UPDATE transfers")]
        assert len(changed) == 5
        assert all("FROM unnest(" in statement for statement in changed), changed
    assert (
        pair.north.scalar(
            "SELECT count(*) FROM outbox WHERE status = 'delivered' AND finished_at IS NOT NULL"
            " AND claimed_until IS NULL AND last_error IS NULL"
        )
        == 1 + 3 + 9
    )
    assert (
        pair.north.scalar(
            "SELECT count(*) FROM envelopes WHERE direction = 'outbound' AND receipt IS NOT NULL"
        )
        == 1 + 3 + 9
    )
    assert (
        pair.north.scalar(
            "SELECT count(*) FROM transfers WHERE status = 'delivered' AND failure_reason IS NULL"
            " AND delivered_at IS NOT NULL AND updated_at = delivered_at"
        )
        == 1 + 3 + 9
    )
    delivered = pair.north.scalar(
        "SELECT count(*) FROM audit_events WHERE action = :action",
        action=actions.TRANSFER_DELIVERED,
    )
    assert int(delivered) == 1 + 3 + 9
    # Every transfer has its own delivered step, once.
    steps = pair.north.scalar(
        "SELECT count(DISTINCT transfer_id) FROM transfer_events WHERE kind = 'delivered'"
    )
    assert int(steps) == 1 + 3 + 9
    every = pair.north.scalar("SELECT count(*) FROM transfer_events WHERE kind = 'delivered'")
    assert every == steps
    verified = CliRunner(env=pair.north.env).invoke(
        main, ["audit", "verify", "--area", "northshire", "--deep"]
    )
    assert verified.exit_code == 0, verified.output


def test_a_claim_reads_its_batch_in_order_from_the_index_without_sorting_the_queue(
    pair: Pair,
) -> None:
    """The claim's order (next attempt, then id) is the outbox index's own, so the
    database reads the first due rows from the index and stops at the limit, rather than
    fetching every due row of a long queue, joining its envelope and sorting them all."""
    for name in ("Ada", "Bea", "Cora", "Dot"):
        pair.send(victim=name)
    engine = pair.north.node.engine
    seen: list[tuple[str, Any]] = []

    def on_statement(_c: Any, _cursor: Any, statement: str, parameters: Any, *_r: Any) -> None:
        if statement.lstrip().startswith("SELECT outbox.id"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        with pair.north.node.sessions() as session:
            claims = claim_due(session, pair.north.node.master, now=utcnow(), lease=60, limit=2)
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
    assert len(claims) == 2
    [(statement, parameters)] = seen
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            [(plan,)] = connection.exec_driver_sql(
                f"EXPLAIN (FORMAT JSON) {statement}", parameters
            ).all()
            nodes = json.dumps(plan)
            assert '"Node Type": "Index Scan"' in nodes and "ix_outbox_due" in nodes, nodes
            assert "Sort" not in nodes, nodes
        else:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            details = " | ".join(str(row[-1]) for row in plan)
            assert "ix_outbox_due" in details, details
            assert "TEMP B-TREE" not in details, details


def test_a_batch_of_rows_is_one_statement_whose_text_does_not_grow_with_it(pair: Pair) -> None:
    """A batch's rows (here a burst's delivered timeline steps) go in as one statement: on
    PostgreSQL one INSERT ... SELECT FROM unnest of an array a column (adapters.db.bulk),
    not a pipeline of one INSERT a row nor a multi-row INSERT ... VALUES whose text psycopg
    would convert afresh for every batch (bench/batch_insert.py); on SQLite one prepared
    statement run per row, in process."""
    pair.send()
    assert pair.north.deliver() == 1  # warm-up
    for _ in range(4):
        pair.send()
    engine = pair.north.node.engine
    seen: list[tuple[str, bool]] = []

    def on_statement(
        _c: Any, _cursor: Any, statement: str, _p: Any, _ctx: Any, executemany: bool
    ) -> None:
        if statement.startswith("INSERT INTO transfer_events"):
            seen.append((statement, executemany))

    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        assert pair.north.deliver() == 4
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
    [(statement, executemany)] = seen
    if engine.dialect.name == "postgresql":
        assert "SELECT * FROM unnest(" in statement and not executemany, statement
    else:
        assert executemany
    assert statement.count("), (") == 0, statement
    steps = pair.north.scalar("SELECT count(*) FROM transfer_events WHERE kind = 'delivered'")
    assert int(steps) == 5

"""Retention: case content past its period is purged, the audit stays and still verifies.

Two ways in: the domain service with a clock 13 months ahead (every template case is then
old), and the real command with `GATEWAY_RETENTION_MONTHS=1` after one case's rows have been
made old (transfers and envelopes are not append-only, so their times can be set back).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from support.audit_world import (
    NORTH,
    SAMPLE_VICTIM,
    SOUTH,
    Job,
    RunningNode,
    World,
    column,
    invoke,
    leaves,
    raw_leaves,
    rows,
    run_cli,
    verify_area,
)

from gateway.devtools.samples import sample_transfer
from gateway.domain import retention
from gateway.domain.audit import subject
from gateway.domain.clock import utcnow
from gateway.domain.identity.actors import Actor
from keys.envelope import HEADER_FIELDS

VICTIM = subject.Person(SAMPLE_VICTIM[0], SAMPLE_VICTIM[1], date.fromisoformat(SAMPLE_VICTIM[2]))


def envelope_rows(node: RunningNode, area: str) -> dict[str, dict[str, Any]]:
    found = rows(
        node,
        "SELECT envelope_id, body, self_sealed_key, purged_at FROM envelopes WHERE area_code = :a",
        a=area,
    )
    return {
        envelope_id: {"body": json.loads(body), "self": self_sealed, "purged_at": purged_at}
        for envelope_id, body, self_sealed, purged_at in found
    }


def salts_of(node: RunningNode, area: str) -> list[str | None]:
    return column(node, "SELECT envelope_id FROM audit_salts WHERE area_code = :a", a=area)


def assert_tombstone(envelope: dict[str, Any]) -> None:
    assert set(envelope["body"]) <= set(HEADER_FIELDS), envelope["body"].keys()
    for gone in ("ciphertext", "sealed_key", "nonce", "sig", "evidence"):
        assert gone not in envelope["body"]
    assert envelope["self"] is None
    assert envelope["purged_at"] is not None


def assert_intact(envelope: dict[str, Any], outbound: bool) -> None:
    assert {"ciphertext", "sealed_key", "sig"} <= set(envelope["body"])
    assert envelope["purged_at"] is None
    assert (envelope["self"] is not None) == outbound


def search(node: RunningNode, area: str) -> list[dict[str, Any]]:
    with node.node.sessions() as session:
        return subject.search(
            session, node.node.master, area, VICTIM, actor=Actor.operator(), now=utcnow()
        ).disclosures


def test_purge_with_the_clock_thirteen_months_on(world: World) -> None:
    later = utcnow() + timedelta(days=400)
    for node, area, outbound in ((world.north, NORTH, True), (world.south, SOUTH, False)):
        assert len(search(node, area)) == 1
        log_before = raw_leaves(node, area)
        before = envelope_rows(node, area)
        assert len(before) == 3 and len(salts_of(node, area)) == 3
        for envelope in before.values():
            assert_intact(envelope, outbound)

        with node.node.sessions() as session:
            [report] = retention.purge(session, now=later, actor=Actor.operator())

        assert (report.area, report.transfers, report.envelopes, report.salts) == (area, 3, 3, 3)
        after = envelope_rows(node, area)
        for envelope_id, envelope in after.items():
            assert_tombstone(envelope)
            header = {k: v for k, v in before[envelope_id]["body"].items() if k in HEADER_FIELDS}
            assert envelope["body"] == header
        assert salts_of(node, area) == []
        assert all(column(node, "SELECT purged_at FROM transfers WHERE area_code = :a", a=area))
        # The leaves are untouched and the log verifies; the purge is one more leaf.
        log_after = raw_leaves(node, area)
        assert log_after[: len(log_before)] == log_before
        purged = json.loads(log_after[len(log_before)][1])
        assert purged["action"] == "retention.purged"
        assert purged["details"]["transfers"] == 3
        assert purged["details"]["commitment_salts"] == 3
        assert verify_area(node, area).ok
        # The commitments about the case can no longer be tied to anyone, nor the case found.
        assert search(node, area) == []


def _age(node: RunningNode, envelope_id: str, days: int) -> None:
    """Set a case's times back (no one edits these in practice; the clock stands in)."""
    old = utcnow() - timedelta(days=days)
    with node.node.engine.begin() as connection:
        connection.execute(
            text("UPDATE transfers SET updated_at = :t, created_at = :t WHERE envelope_id = :e"),
            {"t": old, "e": envelope_id},
        )
        connection.execute(
            text("UPDATE envelopes SET created_at = :t WHERE envelope_id = :e"),
            {"t": old, "e": envelope_id},
        )


def _sqlite_bytes(node: RunningNode) -> bytes:
    path = Path(node.settings.database_url.removeprefix("sqlite:///"))
    with node.node.engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_purge_command_honours_the_period_pending_items_and_dry_run(world: World) -> None:
    north = world.north
    old_case, recent = world.sent[0], world.sent[1:]
    pending = north.send(sample_transfer(NORTH, SOUTH, victim="Pia"), NORTH, SOUTH)
    for envelope_id in (old_case.envelope_id, pending.envelope_id):
        _age(north, envelope_id, days=45)
    env = {**north.env, "GATEWAY_RETENTION_MONTHS": "1"}
    before = envelope_rows(north, NORTH)
    log_before = raw_leaves(north, NORTH)
    salts_before = sorted(map(str, salts_of(north, NORTH)))
    ciphertext = before[old_case.envelope_id]["body"]["ciphertext"]

    [dry] = run_cli([Job(env, ["retention", "purge", "--area", NORTH, "--dry-run"])])
    assert dry.returncode == 0, dry.stderr
    assert f"{NORTH}: would purge 1 case(s), 1 envelope(s)" in dry.stdout
    assert envelope_rows(north, NORTH) == before
    assert raw_leaves(north, NORTH) == log_before
    assert sorted(map(str, salts_of(north, NORTH))) == salts_before

    [done] = run_cli([Job(env, ["retention", "purge", "--area", NORTH])])
    assert done.returncode == 0, done.stderr
    assert f"{NORTH}: purged 1 case(s), 1 envelope(s)" in done.stdout

    after = envelope_rows(north, NORTH)
    assert_tombstone(after[old_case.envelope_id])
    for kept in (*[sent.envelope_id for sent in recent], pending.envelope_id):
        assert after[kept] == before[kept], "a recent or undelivered case was purged"
    assert old_case.envelope_id not in salts_of(north, NORTH)
    assert len(salts_of(north, NORTH)) == len(salts_before) - 1
    log_after = raw_leaves(north, NORTH)
    assert log_after[: len(log_before)] == log_before
    [purged] = [json.loads(leaf) for _, leaf, _ in log_after[len(log_before) :]]
    assert purged["action"] == "retention.purged"
    assert purged["details"]["months"] == 1
    assert purged["details"]["transfers"] == 1
    assert verify_area(north, NORTH).ok
    assert search(north, NORTH) == []  # Ada's case was the old one
    # South's copy is south's to purge, on its own schedule.
    assert all(e["purged_at"] is None for e in envelope_rows(world.south, SOUTH).values())

    if world.backend == "sqlite":
        # secure_delete: the ciphertext is gone from the file itself, not merely unlinked.
        stored = _sqlite_bytes(north)
        assert before[recent[0].envelope_id]["body"]["ciphertext"][:200].encode() in stored
        assert ciphertext[:200].encode() not in stored
        assert ciphertext[-200:].encode() not in stored


def test_a_case_waiting_for_delivery_is_never_purged(world: World) -> None:
    north = world.north
    pending = north.send(sample_transfer(NORTH, SOUTH, victim="Pia"), NORTH, SOUTH)
    with north.node.sessions() as session:
        [report] = retention.purge(
            session, now=utcnow() + timedelta(days=400), area=NORTH, actor=Actor.operator()
        )
    assert report.transfers == 3  # the delivered ones
    assert pending.id not in report.transfer_ids
    kept = envelope_rows(north, NORTH)[pending.envelope_id]
    assert_intact(kept, outbound=True)
    assert pending.envelope_id in salts_of(north, NORTH)
    # Once delivered it ages like any other case.
    assert north.deliver() == 1
    with north.node.sessions() as session:
        [report] = retention.purge(
            session, now=utcnow() + timedelta(days=400), area=NORTH, actor=Actor.operator()
        )
    assert report.transfer_ids == [pending.id]
    assert_tombstone(envelope_rows(north, NORTH)[pending.envelope_id])
    assert verify_area(north, NORTH).ok
    assert [leaf["action"] for leaf in leaves(north, NORTH)].count("retention.purged") == 2


@pytest.mark.parametrize("months", [None, 24])
def test_an_area_may_keep_content_longer(world: World, months: int | None) -> None:
    north = world.north
    with north.node.engine.begin() as connection:
        connection.execute(text("UPDATE areas SET retention_months = :m"), {"m": months})
    later: datetime = utcnow() + timedelta(days=400)
    with north.node.sessions() as session:
        [report] = retention.purge(session, now=later, actor=Actor.operator())
    assert report.transfers == (3 if months is None else 0)


def test_purge_of_an_unknown_area_is_refused(world: World) -> None:
    done = invoke(world.north, "retention", "purge", "--area", "nowhere")
    assert done.exit_code == 1, done.output
    assert "nowhere is not hosted on this node" in done.stderr

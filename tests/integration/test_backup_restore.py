"""Backup and restore of a real node (SQLite and PostgreSQL), with a real peer holding
checkpoints of entries the restore lost: the restored node verifies, resumes delivery with
nothing lost or duplicated, and its peer takes the declared restore for what it is (not a
fork); an undeclared rewrite is still caught."""

from __future__ import annotations

import time
from pathlib import Path

from click.testing import CliRunner, Result
from support.nodes import Pair, RunningNode

from adapters.db.backup import restore
from gateway.cli import main
from gateway.domain.audit import witness
from gateway.domain.clock import utcnow


def cli(node: RunningNode, *args: str, **env: str) -> Result:
    return CliRunner(env={**node.env, **env}).invoke(main, list(args))


def statuses(node: RunningNode, area: str) -> dict[str, str]:
    return {t.id: t.status for t in node.transfers(area)}


def verify_peer(node: RunningNode, peer: str) -> witness.PeerReport:
    with node.node.sessions() as session:
        return witness.verify_peer(session, node.node.master, node.node.client, peer, utcnow())


def received_envelopes(pair: Pair) -> list[str]:
    with pair.south.node.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT envelope_id FROM transfers WHERE area_code='south-vale'"
        ).all()
    return [str(row[0]) for row in rows]


def back_up_then_lose_work(pair: Pair, tmp_path: Path) -> tuple[Path, str, str]:
    """T1 delivered and T2 queued when the backup is taken; then T2 and T3 are delivered
    (the peer now holds checkpoints of entries the backup lacks)."""
    first = pair.send()
    pair.north.deliver()
    queued = pair.send()
    backup_file = tmp_path / "north.backup"
    made = cli(pair.north, "backup", str(backup_file))
    assert made.exit_code == 0, made.output
    assert backup_file.stat().st_mode & 0o777 == 0o600
    pair.north.deliver()
    lost = pair.send()
    pair.north.deliver()
    assert set(statuses(pair.north, "northshire").values()) == {"delivered"}
    assert {first.id, queued.id, lost.id} <= set(statuses(pair.north, "northshire"))
    return backup_file, queued.id, lost.id


def test_restore_resumes_delivery_and_the_peer_sees_a_declared_restore(
    pair: Pair, tmp_path: Path
) -> None:
    backup_file, queued, lost = back_up_then_lose_work(pair, tmp_path)
    master = pair.north.settings.master_key_file.read_bytes()
    assert master not in backup_file.read_bytes()  # the key is kept apart

    pair.north.node.engine.dispose()
    began = time.monotonic()
    restored = cli(pair.north, "restore", str(backup_file), "--yes")
    assert restored.exit_code == 0, restored.output
    assert "audit log restored" in restored.output
    pair.north.node.engine.dispose()

    verified = cli(pair.north, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    now = statuses(pair.north, "northshire")
    assert now[queued] == "queued" and lost not in now  # the backup's view

    # The queued transfer goes again (the peer already has it: absorbed, not doubled),
    # and new disclosures carry the declaration past the checkpoints the peer holds.
    again = [pair.send(), pair.send()]
    pair.north.deliver()
    print(f"\nrestored and caught up in {time.monotonic() - began:.2f} s")  # pytest -s
    reasons = {t.failure_reason for t in pair.north.transfers("northshire")}
    assert set(statuses(pair.north, "northshire").values()) == {"delivered"}, reasons
    received = received_envelopes(pair)
    assert len(received) == len(set(received)) == 5  # T1, T2, T3 and the two new ones
    assert {t.id for t in again} <= set(statuses(pair.north, "northshire"))

    restored_events = pair.south.scalar(
        "SELECT count(*) FROM audit_events WHERE area_code='south-vale' "
        "AND action='audit.peer_log_restored'"
    )
    assert restored_events == 1
    report = verify_peer(pair.south, "northshire")
    assert report.ok, report.problems
    assert report.lost_sizes  # reported, not hidden
    as_cli = cli(pair.south, "audit", "verify", "--peer", "northshire")
    assert as_cli.exit_code == 0, as_cli.output
    assert "restored from a backup; checkpoints lost" in as_cli.output


def test_an_undeclared_rollback_is_still_a_fork(pair: Pair, tmp_path: Path) -> None:
    backup_file, _queued, _lost = back_up_then_lose_work(pair, tmp_path)
    pair.north.node.engine.dispose()
    restore(pair.north.settings.database_url, backup_file)  # no declaration signed
    pair.north.node.engine.dispose()
    report = verify_peer(pair.south, "northshire")
    assert not report.ok and not report.lost_sizes
    assert any("truncated" in p or "rewritten" in p for p in report.problems)


def test_restore_refuses_a_foreign_backup_and_a_wrong_master_key(
    pair: Pair, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a backup at all")
    refused = cli(pair.north, "restore", str(junk), "--yes")
    assert refused.exit_code == 1 and "not a" in refused.output

    backup_file = tmp_path / "north.backup"
    assert cli(pair.north, "backup", str(backup_file)).exit_code == 0
    assert cli(pair.north, "backup", str(backup_file)).exit_code == 1  # never overwritten
    other_key = tmp_path / "other.key"
    other_key.write_bytes(b"\x01" * 32)
    other_key.chmod(0o600)
    pair.north.node.engine.dispose()
    wrong = cli(
        pair.north,
        "restore",
        str(backup_file),
        "--yes",
        GATEWAY_MASTER_KEY_FILE=str(other_key),
    )
    assert wrong.exit_code == 1 and "master key" in wrong.output

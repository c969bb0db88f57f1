"""The audit commands as an operator runs them: real `marac-gateway` processes against the
template's nodes (exports, subject access, the disclosure report), plus the same commands
in-process for variants and refusals (see support/audit_world.py, invoke).

The exported lines are checked the way an outside auditor would: every leaf hash recomputed,
every inclusion proof verified against the root of the export's own checkpoint, whose
signature verifies with north's public key from its published bundle.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.audit_world import (
    NORTH,
    SAMPLE_VICTIM,
    SOUTH,
    Job,
    RunningNode,
    Template,
    World,
    invoke,
    leaves,
    raw_leaves,
    restore,
    run_cli,
    signing_public,
)

from gateway.domain.audit import subject
from gateway.domain.identity.actors import Actor
from keys import b64url_decode, canonical_json, verify_document
from keys.errors import ProofError
from keys.merkle import leaf_hash, verify_inclusion
from schemas.wire.grounds import LEGAL_GROUNDS

CSV_HEADER = [
    "seq",
    "at",
    "action",
    "actor_kind",
    "actor_id",
    "actor_role",
    "peer_area",
    "transfer",
    "envelope",
    "envelope_digest",
    "legal_basis",
    "consent",
    "details",
    "leaf_hash",
]
GROUNDS = ["crime_and_disorder_act_1998_s115", "dpa_2018_sch1_para18_safeguarding"]
VICTIM_STDIN = "\n".join(SAMPLE_VICTIM) + "\n"
UNKNOWN_STDIN = "Nobody\nExample\n1990-04-01\n"


@dataclass
class Batch:
    """What one round of real CLI processes printed, and both logs right after."""

    first_day: date
    old_day: date
    last_day: date
    runs: dict[str, subprocess.CompletedProcess[str]]
    north_leaves: list[dict[str, Any]]
    north_raw: list[tuple[int, str, bytes]]
    south_leaves: list[dict[str, Any]]
    north_key: bytes


def day(value: date) -> str:
    return value.isoformat()


def first_day(node: RunningNode) -> date:
    return datetime.fromisoformat(leaves(node, NORTH)[0]["at"].replace("Z", "+00:00")).date()


def record_an_old_event(node: RunningNode, when: date) -> None:
    """One event on an earlier day, so a date range has something to leave out: a subject
    search (for nobody) run with the clock set back to noon that day."""
    with node.node.sessions() as session:
        subject.search(
            session,
            node.node.master,
            NORTH,
            subject.Person("Nobody", None, date(2001, 2, 3)),
            actor=Actor.operator(),
            now=datetime.combine(when, time(12), UTC),
        )


@pytest.fixture(scope="module")
def batch(audit_template: Template) -> Batch:
    restore(audit_template)
    north, south = audit_template.north, audit_template.south
    first = first_day(north)
    old_day = first - timedelta(days=3)
    record_an_old_event(north, old_day)
    last_day = datetime.now(UTC).date() + timedelta(days=1)
    span = ("--from", day(old_day), "--to", day(last_day))
    jobs = {
        "jsonl": Job(north.env, ["audit", "export", "--area", NORTH, *span, "--format", "jsonl"]),
        "csv": Job(north.env, ["audit", "export", "--area", NORTH, *span, "--format", "csv"]),
        "subject-north": Job(north.env, ["audit", "subject", "--area", NORTH], VICTIM_STDIN),
        "subject-south": Job(
            south.env, ["audit", "subject", "--area", SOUTH, "--json"], VICTIM_STDIN
        ),
        "report": Job(north.env, ["audit", "report", "--area", NORTH, *span]),
    }
    runs = dict(zip(jobs, run_cli(list(jobs.values())), strict=True))
    for name, done in runs.items():
        assert done.returncode == 0, f"{name}: {done.stderr}"
    return Batch(
        first,
        old_day,
        last_day,
        runs,
        leaves(north, NORTH),
        raw_leaves(north, NORTH),
        leaves(south, SOUTH),
        signing_public(north, NORTH),
    )


# --- export ---------------------------------------------------------------------------------


def test_jsonl_export_proves_every_line_against_its_signed_checkpoint(batch: Batch) -> None:
    lines = [json.loads(line) for line in batch.runs["jsonl"].stdout.splitlines()]
    *entries, last = lines
    assert set(last) == {"checkpoint"}
    body = verify_document(last["checkpoint"], "checkpoint", batch.north_key)
    assert body["area"] == NORTH
    size, root = body["size"], b64url_decode(body["root"], length=32)

    # Every event up to the checkpoint, the export's own among them, in order.
    assert [entry["seq"] for entry in entries] == list(range(size))
    stored = {seq: (leaf, hashed) for seq, leaf, hashed in batch.north_raw}
    for entry in entries:
        assert set(entry) == {"seq", "leaf", "leaf_hash", "proof", "tree_size"}
        assert entry["tree_size"] == size
        encoded = canonical_json(entry["leaf"])
        assert entry["leaf_hash"] == leaf_hash(encoded).hex()
        assert (encoded.decode(), bytes.fromhex(entry["leaf_hash"])) == stored[entry["seq"]]
        proof = [b64url_decode(h, length=32) for h in entry["proof"]]
        verify_inclusion(bytes.fromhex(entry["leaf_hash"]), entry["seq"], size, proof, root)
    exported = entries[-1]["leaf"]
    assert exported["action"] == "audit.exported"
    assert exported["details"] == {
        "from": day(batch.old_day),
        "to": day(batch.last_day),
        "format": "jsonl",
    }
    # The same proof for another position does not verify (the check can fail).
    entry = entries[2]
    proof = [b64url_decode(h, length=32) for h in entry["proof"]]
    with pytest.raises(ProofError):
        verify_inclusion(bytes.fromhex(entry["leaf_hash"]), 3, size, proof, root)


def test_csv_export_has_the_header_and_one_row_per_event(batch: Batch) -> None:
    table = list(csv.reader(io.StringIO(batch.runs["csv"].stdout)))
    header, *body = table
    assert header == CSV_HEADER
    [own] = [
        leaf
        for leaf in batch.north_leaves
        if leaf["action"] == "audit.exported" and leaf["details"]["format"] == "csv"
    ]
    # The export saw every event up to and including its own record.
    assert [int(row[0]) for row in body] == list(range(own["seq"] + 1))
    stored = {seq: hashed for seq, _, hashed in batch.north_raw}
    by_seq = {leaf["seq"]: leaf for leaf in batch.north_leaves}
    for row in body:
        record = dict(zip(header, row, strict=True))
        leaf = by_seq[int(record["seq"])]
        assert record["leaf_hash"] == stored[leaf["seq"]].hex()
        assert (record["action"], record["at"]) == (leaf["action"], leaf["at"])
        assert record["legal_basis"] == ";".join(leaf["legal_basis"])
    sent = [dict(zip(header, row, strict=True)) for row in body if row[2] == "transfer.sent"]
    assert len(sent) == 3
    assert all(r["legal_basis"] == ";".join(GROUNDS) and r["consent"] == "refused" for r in sent)


def test_export_date_range_filters_by_event_time(world: World) -> None:
    north = world.north
    first = first_day(north)
    old_day = first - timedelta(days=3)
    record_an_old_event(north, old_day)

    def export(start: date, end: date, fmt: str) -> list[str]:
        done = invoke(
            north, "audit", "export", "--area", NORTH, "--from", day(start), "--to", day(end),
            "--format", fmt,
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        return done.stdout.splitlines()

    [_header, only] = export(old_day, old_day, "csv")
    assert only.split(",")[:3] == ["9", f"{day(old_day)}T12:00:00.000Z", "audit.subject_access"]
    # Nothing happened on the days in between: the checkpoint line alone.
    [line] = export(old_day + timedelta(days=1), first - timedelta(days=1), "jsonl")
    assert set(json.loads(line)) == {"checkpoint"}
    # From the first day on: everything but the old event (and the exports are recorded).
    later = export(first, datetime.now(UTC).date(), "csv")[1:]
    seqs = [int(row.split(",")[0]) for row in later]
    assert 9 not in seqs
    assert seqs[:9] == list(range(9))
    assert later[-1].split(",")[2] == "audit.exported"


def test_export_to_a_file_and_a_refused_one_leaves_no_file(world: World, tmp_path: Path) -> None:
    written, refused = tmp_path / "audit.csv", tmp_path / "refused.csv"
    span = ("--from", "2000-01-01", "--to", "2100-01-01", "--format", "csv")
    done = invoke(world.north, "audit", "export", "--area", NORTH, *span, "--output", str(written))
    assert done.exit_code == 0, done.output
    assert done.stdout == ""
    lines = written.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(CSV_HEADER)
    assert len(lines) == 1 + world.north.count("audit_events")

    done = invoke(
        world.north, "audit", "export", "--area", "nowhere", *span, "--output", str(refused)
    )
    assert done.exit_code == 1
    assert "nowhere is not hosted on this node" in done.stderr
    assert not refused.exists(), "a refused export left an (empty) file behind"


# --- subject access -------------------------------------------------------------------------


def _ground_labels(text: str) -> None:
    for code in GROUNDS:
        assert f"{LEGAL_GROUNDS[code]} [{code}]" in text


def test_subject_access_finds_the_disclosure_on_both_sides(
    batch: Batch, audit_template: Template
) -> None:
    sent = audit_template.sent[0]
    report = batch.runs["subject-north"].stdout
    assert "Disclosures found: 1" in report
    assert f"outbound  {NORTH} -> {SOUTH}" in report
    assert "concerning the person as: victim" in report
    assert "consent: refused" in report
    _ground_labels(report)
    assert f"transfer {sent.transfer_id}, envelope {sent.envelope_id}" in report
    assert "audit entry 2 " in report  # T1's transfer.sent leaf

    inbound = json.loads(batch.runs["subject-south"].stdout)
    [found] = inbound["disclosures"]
    assert (found["direction"], found["disclosed_by"], found["disclosed_to"]) == (
        "inbound",
        NORTH,
        SOUTH,
    )
    assert found["envelope"] == sent.envelope_id
    assert found["roles"] == ["victim"]
    assert found["legal_basis"] == [{"code": c, "label": LEGAL_GROUNDS[c]} for c in GROUNDS]
    assert found["audit"]["seq"] == 2  # south: area.created, peer.imported, received T1
    assert batch.south_leaves[2]["objects"]["envelope"] == sent.envelope_id


def test_subject_access_for_someone_else_finds_nothing(world: World) -> None:
    for stdin in (UNKNOWN_STDIN, "Ada\nExample\n1990-04-02\n", "Ada\nOther\n1990-04-01\n"):
        done = invoke(world.north, "audit", "subject", "--area", NORTH, "--json", stdin=stdin)
        assert done.exit_code == 0, done.output
        found = json.loads(done.stdout[done.stdout.index("{") :])
        assert found == {"area": NORTH, "disclosures": []}
    matches = [
        leaf["details"]
        for leaf in leaves(world.north, NORTH)
        if leaf["action"] == "audit.subject_access"
    ]
    assert matches == [{"matches": 0, "as_perpetrator": 0}] * 3


def test_subject_search_leaves_no_trace_of_the_person(batch: Batch) -> None:
    given, family, born = SAMPLE_VICTIM
    person = [re.compile(rf"\b{re.escape(word)}\b") for word in (given, family, born)]
    logged = [
        json.dumps(leaf)
        for leaf in batch.north_leaves + batch.south_leaves
        if leaf["action"] == "audit.subject_access"
    ]
    assert len(logged) == 3  # the nobody search and one search on each node
    everything = "\n".join(json.dumps(leaf) for leaf in batch.north_leaves + batch.south_leaves)
    for name in ("subject-north", "subject-south"):
        assert "Given names" in batch.runs[name].stderr  # the prompts, nothing more
        for pattern in person:
            assert not pattern.search(batch.runs[name].stderr), (name, pattern)
    for pattern in person:
        assert not pattern.search(everything), pattern
    for side in (batch.north_leaves, batch.south_leaves):
        [search] = [
            leaf
            for leaf in side
            if leaf["action"] == "audit.subject_access" and leaf["details"]["matches"] == 1
        ]
        assert (search["commitment"], search["objects"], search["legal_basis"]) == (None, {}, [])
        assert search["actor"] == {"kind": "operator", "id": "cli"}


# --- the disclosure report ------------------------------------------------------------------


def test_report_counts_disclosures_and_delivery_time(batch: Batch) -> None:
    report = json.loads(batch.runs["report"].stdout)
    assert report["area"] == NORTH
    sent = report["disclosures_sent"]
    assert sent["total"] == 3
    assert sent["by_peer_area"] == {SOUTH: 3}
    assert sent["by_legal_basis"] == dict.fromkeys(GROUNDS, 3)
    assert sent["by_consent"] == {"refused": 3}
    assert sum(sent["by_period"].values()) == 3
    assert report["disclosures_received"]["total"] == 0
    delivery = report["delivery"]
    assert delivery["count"] == 3
    assert 0 <= delivery["median_seconds"] <= delivery["max_seconds"] < 60
    assert report["acknowledgement"]["count"] == 0


# --- refusals -------------------------------------------------------------------------------

BAD_INPUT = {
    "export-to-before-from": (
        ["audit", "export", "--area", NORTH, "--from", "2026-02-02", "--to", "2026-02-01",
         "--format", "csv"],
        None,
        "--to is before --from",
    ),
    "export-unknown-area": (
        ["audit", "export", "--area", "nowhere", "--from", "2026-02-01", "--to", "2026-02-02",
         "--format", "jsonl"],
        None,
        "nowhere is not hosted on this node",
    ),
    "export-bad-date": (
        ["audit", "export", "--area", NORTH, "--from", "2026-02-30", "--to", "2026-03-01",
         "--format", "csv"],
        None,
        "Invalid value for '--from'",
    ),
    "export-bad-format": (
        ["audit", "export", "--area", NORTH, "--from", "2026-02-01", "--to", "2026-02-02",
         "--format", "xml"],
        None,
        "Invalid value for '--format'",
    ),
    "report-to-before-from": (
        ["audit", "report", "--area", NORTH, "--from", "2026-02-02", "--to", "2026-02-01"],
        None,
        "--to is before --from",
    ),
    "report-unknown-area": (
        ["audit", "report", "--area", "nowhere", "--from", "2026-02-01", "--to", "2026-02-02"],
        None,
        "nowhere is not hosted on this node",
    ),
    "report-bad-date": (
        ["audit", "report", "--area", NORTH, "--from", "01/02/2026", "--to", "2026-02-02"],
        None,
        "Invalid value for '--from'",
    ),
    "subject-unknown-area": (
        ["audit", "subject", "--area", "nowhere"],
        UNKNOWN_STDIN,
        "nowhere is not hosted on this node",
    ),
    "subject-bad-date": (
        ["audit", "subject", "--area", NORTH],
        "Nobody\nExample\n1990-02-30\n",
        "does not match the format",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_exits_non_zero_with_a_clear_message(world: World, case: str) -> None:
    args, stdin, message = BAD_INPUT[case]
    events = world.north.count("audit_events")
    done = invoke(world.north, *args, stdin=stdin)
    assert done.exit_code != 0, done.output
    assert message in done.stderr, done.stderr
    assert world.north.count("audit_events") == events  # refused: nothing recorded

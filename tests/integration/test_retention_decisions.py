"""Retention by decision (seed 004 ISP 8.4-8.6, 9.7-9.8) on the audit world's two real nodes
(SQLite and PostgreSQL): a legal hold on either copy of a case (the sender's or the
receiver's) keeps it through `retention purge` until it is lifted; an early purge removes
a case's content at once and keeps its metadata and audit; a dry run lists what is due and
why, in counts and opaque ids, and changes nothing. Every decision is audited with its
reason code; its note stays sealed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text
from support.audit_world import (
    NORTH,
    SOUTH,
    TEMPLATE_VICTIMS,
    RunningNode,
    World,
    column,
    invoke,
    leaves,
    raw_leaves,
    rows,
    verify_area,
)
from test_retention import assert_intact, assert_tombstone, envelope_rows, salts_of

from gateway.devtools.samples import sample_transfer
from gateway.domain import retention
from gateway.domain.clock import utcnow
from gateway.domain.identity import users
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import Principal
from gateway.errors import Conflict, NotFound

NOTE = "Canary order of HHJ Quillon in re Zqxheld"  # may name people: never in a leaf
LATER = timedelta(days=400)  # past the default 12 months for every template case


def person(node: RunningNode, area: str, role: str) -> tuple[str, Principal]:
    email = f"{role}@{area}.example"
    with node.node.sessions() as session:
        grant = users.add_user_role(
            session,
            node.node.master,
            email=email,
            area=area,
            role=role,
            password="correct horse battery staple 42",
            now=utcnow(),
        )
    return email, Principal.user(grant.user_id, [(area, role)])


def decide(
    node: RunningNode, principal: Principal, transfer_id: str, decision: str, reason: str
) -> retention.RetentionView:
    with node.node.sessions() as session:
        return retention.decide(
            session,
            node.node.master,
            principal,
            transfer_id,
            decision,
            {"reason": reason, "note": NOTE},
            utcnow(),
        )


def purge(node: RunningNode, area: str) -> retention.PurgeReport:
    with node.node.sessions() as session:
        [report] = retention.purge(session, now=utcnow() + LATER, area=area, actor=Actor.operator())
    return report


def inbound_id(node: RunningNode, envelope_id: str) -> str:
    [found] = column(node, "SELECT id FROM transfers WHERE envelope_id = :e", e=envelope_id)
    return str(found)


def age_every_case(node: RunningNode) -> None:
    old = utcnow() - LATER
    with node.node.engine.begin() as connection:
        connection.execute(
            text("UPDATE transfers SET updated_at = :t, created_at = :t"), {"t": old}
        )
        connection.execute(text("UPDATE envelopes SET created_at = :t"), {"t": old})


def test_a_held_case_survives_the_purge_until_the_hold_is_lifted(world: World) -> None:
    north, south = world.north, world.south
    held = world.sent[0]
    coordinator_email, _ = person(north, NORTH, "coordinator")
    _, chair = person(south, SOUTH, "chair")
    received = inbound_id(south, held.envelope_id)

    # The sender's copy held by its coordinator at the command line, the receiver's by its chair.
    done = invoke(
        north,
        "retention", "hold", held.transfer_id,
        "--reason", "court_order", "--note", NOTE, "--by", coordinator_email,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert f"{held.transfer_id}\theld (court_order)" in done.output
    view = decide(south, chair, received, "hold", "court_proceedings")
    assert view.legal_hold == "court_proceedings" and view.legal_hold_since is not None
    with pytest.raises(Conflict):
        decide(south, chair, received, "hold", "court_order")  # held once; lift to change

    for node, area, kept, outbound in (
        (north, NORTH, held.transfer_id, True),
        (south, SOUTH, received, False),
    ):
        report = purge(node, area)
        assert report.transfers == 2 and kept not in report.transfer_ids
        assert report.held == [(kept, "court_order" if outbound else "court_proceedings")]
        envelope = envelope_rows(node, area)[held.envelope_id]
        assert_intact(envelope, outbound)
        assert held.envelope_id in salts_of(node, area)
        assert [
            leaf["details"]["held"]
            for leaf in leaves(node, area)
            if leaf["action"] == "retention.purged"
        ] == [1]

    # Lifted, the schedule applies again.
    _, coordinator = person(north, NORTH, "chair")  # a chair of the area may lift it too
    lifted = decide(north, coordinator, held.transfer_id, "lift", "proceedings_concluded")
    assert lifted.legal_hold is None
    report = purge(north, NORTH)
    assert report.transfer_ids == [held.transfer_id] and report.held == []
    assert_tombstone(envelope_rows(north, NORTH)[held.envelope_id])
    assert verify_area(north, NORTH).ok and verify_area(south, SOUTH).ok

    # Audited with the reason code; the note is in no leaf and sealed at rest.
    decisions = [
        leaf for leaf in leaves(north, NORTH) if leaf["action"].startswith("retention.hold")
    ]
    assert [(d["action"], d["details"]["reason"]) for d in decisions] == [
        ("retention.hold_set", "court_order"),
        ("retention.hold_lifted", "proceedings_concluded"),
    ]
    for node, area in ((north, NORTH), (south, SOUTH)):
        assert "Quillon" not in json.dumps(leaves(node, area))
        for (sealed,) in rows(node, "SELECT note_sealed FROM retention_decisions"):
            assert b"Quillon" not in bytes(sealed)


def test_who_may_decide(world: World) -> None:
    north, case = world.north, world.sent[0].transfer_id
    auditor_email, auditor = person(north, NORTH, "auditor")
    _, admin = person(north, NORTH, "admin")
    _, elsewhere = person(world.south, SOUTH, "coordinator")
    for principal in (auditor, admin, Principal.client("cms", NORTH, ["transfers:write"])):
        with pytest.raises(NotFound):
            decide(north, principal, case, "hold", "court_order")
    with pytest.raises(NotFound):
        decide(world.south, elsewhere, case, "hold", "court_order")  # not this node's id
    done = invoke(
        north,
        "retention",
        "hold",
        case,
        "--reason",
        "court_order",
        "--note",
        NOTE,
        "--by",
        auditor_email,
    )
    assert done.exit_code == 1 and "neither a coordinator nor a chair" in done.stderr
    assert column(north, "SELECT count(*) FROM retention_decisions") == [0]


def test_early_purge_removes_content_and_keeps_metadata_and_audit(world: World) -> None:
    north = world.north
    target, held = world.sent[1], world.sent[2]
    email, coordinator = person(north, NORTH, "coordinator")
    before = envelope_rows(north, NORTH)
    log_before = raw_leaves(north, NORTH)
    status_before = column(
        north, "SELECT status FROM transfers WHERE id = :t", t=target.transfer_id
    )

    done = invoke(
        north,
        "retention", "purge-case", target.transfer_id,
        "--reason", "risk_no_longer_present", "--note", NOTE, "--by", email,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert f"{target.transfer_id}\tpurged" in done.output

    after = envelope_rows(north, NORTH)
    assert_tombstone(after[target.envelope_id])
    for other in (world.sent[0], held):
        assert after[other.envelope_id] == before[other.envelope_id]
    assert target.envelope_id not in salts_of(north, NORTH)
    # The metadata stays: the row, its areas and state, now marked purged.
    [(status, peer, purged_at)] = rows(
        north,
        "SELECT status, peer_area, purged_at FROM transfers WHERE id = :t",
        t=target.transfer_id,
    )
    assert [status] == status_before and peer == SOUTH and purged_at is not None
    log_after = raw_leaves(north, NORTH)
    assert log_after[: len(log_before)] == log_before
    [event] = [json.loads(leaf) for _, leaf, _ in log_after[len(log_before) :]]
    assert event["action"] == "retention.purged_early"
    assert event["details"] == {
        "reason": "risk_no_longer_present",
        "envelopes": 1,
        "commitment_salts": 1,
    }
    assert verify_area(north, NORTH).ok
    with pytest.raises(Conflict):
        decide(north, coordinator, target.transfer_id, "purge", "other")  # already purged

    # Nothing that has not left yet: a transfer waiting for a chair is withdrawn instead.
    waiting = sample_transfer(NORTH, SOUTH, victim="Pia")
    waiting["consent"]["decision_forum"] = "chair_after_meeting"
    held_for_chair = north.send(waiting, NORTH, SOUTH)
    with pytest.raises(Conflict, match="awaiting_approval"):
        decide(north, coordinator, held_for_chair.id, "purge", "sent_in_error")

    # A held case is not purged early: the hold is lifted first.
    decide(north, coordinator, held.transfer_id, "hold", "subject_access_request")
    with pytest.raises(Conflict):
        decide(north, coordinator, held.transfer_id, "purge", "sent_in_error")
    assert_intact(envelope_rows(north, NORTH)[held.envelope_id], outbound=True)


def test_a_dry_run_lists_what_is_due_and_what_is_held_and_changes_nothing(world: World) -> None:
    north = world.north
    _, coordinator = person(north, NORTH, "coordinator")
    held = world.sent[0]
    decide(north, coordinator, held.transfer_id, "hold", "police_investigation")
    age_every_case(north)
    before = envelope_rows(north, NORTH)
    log_before = raw_leaves(north, NORTH)
    salts_before = sorted(map(str, salts_of(north, NORTH)))
    transfers_before = rows(north, "SELECT id, status, purged_at, legal_hold_reason FROM transfers")

    done = invoke(north, "retention", "purge", "--area", NORTH, "--dry-run")
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0].startswith(f"{NORTH}: would purge 2 case(s), 2 envelope(s)")
    assert lines[0].endswith("1 case(s) kept under a legal hold")
    due = sorted(line for line in lines if ": due " in line)
    assert due == sorted(
        f"{NORTH}: due {sent.transfer_id}: no activity since {lines[0].split('since ')[1][:10]}"
        for sent in world.sent[1:]
    )
    assert f"{NORTH}: held {held.transfer_id}: legal hold (police_investigation)" in lines
    for canary in (*TEMPLATE_VICTIMS, "DEMO-0001", "Example", "Quillon"):
        assert canary not in done.output

    assert envelope_rows(north, NORTH) == before
    assert raw_leaves(north, NORTH) == log_before
    assert sorted(map(str, salts_of(north, NORTH))) == salts_before
    assert (
        rows(north, "SELECT id, status, purged_at, legal_hold_reason FROM transfers")
        == transfers_before
    )

"""Audit: events append to the area's Merkle log and verify; the database refuses to change
or delete an entry; an insider's edit is named by verification, and a consistent rewrite
of the whole log is caught by the signed checkpoint."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from support.audit_world import edit_leaf, insider, leaf_text, rebuild_tree
from support.local_nodes import NORTH, LocalNode

from gateway.domain import audit
from gateway.domain.audit import actions, checkpoints
from gateway.domain.audit.verify import verify_area
from gateway.domain.identity.actors import Actor


def append(node: LocalNode, now: datetime, count: int) -> list[audit.Recorded]:
    with node.session() as session, session.begin():
        return [
            audit.record(
                session,
                NORTH,
                audit.Event(
                    action=actions.AREA_SETTINGS_SET,
                    actor=Actor.operator(),
                    details={"ack_working_days": 2 + i},
                ),
                now + timedelta(seconds=i),
            )
            for i in range(count)
        ]


def test_events_append_in_order_and_verify(north: LocalNode, now: datetime) -> None:
    recorded = append(north, now, 5)
    assert [r.seq for r in recorded] == [1, 2, 3, 4, 5]  # 0: the area's creation
    with north.session() as session:
        report = verify_area(session, NORTH, deep=True)
    assert report.ok and report.entries == 6
    assert north.scalar("SELECT size FROM audit_heads WHERE area_code = :a", a=NORTH) == 6


def test_an_area_without_a_log_records_nothing(north: LocalNode, now: datetime) -> None:
    event = audit.Event(action=actions.AREA_SETTINGS_SET, actor=Actor.operator())
    with north.session() as session, session.begin(), pytest.raises(LookupError):
        audit.record(session, "nowhere", event, now)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'nothing.happened' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = 1",
    ],
)
def test_the_log_is_append_only(north: LocalNode, now: datetime, statement: str) -> None:
    append(north, now, 2)
    before = entries(north)
    with pytest.raises(DBAPIError, match="append-only"), north.node.engine.begin() as db:
        db.execute(text(statement))
    assert entries(north) == before and len(before) == 3


def entries(node: LocalNode) -> list[tuple[int, str, str]]:
    with node.node.engine.connect() as db:
        rows = db.execute(text("SELECT seq, action, leaf FROM audit_events ORDER BY seq"))
        return [(int(seq), str(action), str(leaf)) for seq, action, leaf in rows]


def test_an_edited_entry_is_named(north: LocalNode, now: datetime) -> None:
    append(north, now, 4)
    with insider(north) as db:  # type: ignore[arg-type]
        changed = edit_leaf(leaf_text(db, NORTH, 2), details={"ack_working_days": 30})
        db.execute(
            text("UPDATE audit_events SET leaf = :leaf WHERE area_code = :a AND seq = 2"),
            {"leaf": changed, "a": NORTH},
        )
    with north.session() as session:
        report = verify_area(session, NORTH)
    assert not report.ok
    assert report.first_bad is not None and report.first_bad.seq == 2
    assert "modified" in report.first_bad.what


def test_a_consistent_rewrite_is_caught_by_the_checkpoint(north: LocalNode, now: datetime) -> None:
    append(north, now, 3)
    with north.session() as session:
        checkpoints.issue_now(session, north.master, NORTH, now)
        assert verify_area(session, NORTH).ok
    with insider(north) as db:  # type: ignore[arg-type]
        changed = edit_leaf(leaf_text(db, NORTH, 1), details={"ack_working_days": 30})
        rebuild_tree(db, NORTH, {1: changed})
    with north.session() as session:
        report = verify_area(session, NORTH)
    assert not report.ok
    assert any("checkpoint" in p.what for p in report.problems)

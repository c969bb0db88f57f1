"""The MARAC's own rules around its meetings: a decision called `at_meeting` must fall on a
meeting day or wait for a chair (seed 001 5.1); the listing date of an acknowledgement
(seeds 000 4.5.2, 001 4.3, 003)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from support.local_nodes import NORTH, SOUTH, LocalNode

from gateway.devtools.samples import sample_transfer
from gateway.domain.identity.principals import Principal
from gateway.domain.schedule import meetings
from gateway.domain.schedule.working_calendar import london_day

OPERATOR = Principal.operator()


def set_meetings(node: LocalNode, area: str, now: datetime, *days: Any) -> None:
    with node.session() as session:
        meetings.set_meetings(session, OPERATOR, area, now=now, replace=list(days))


def decided_at(moment: datetime) -> dict[str, Any]:
    consent = sample_transfer(NORTH, SOUTH)["consent"]
    return {**consent, "decided_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_a_meeting_decision_on_a_meeting_day_leaves_at_once(linked: Any, now: datetime) -> None:
    north: LocalNode = linked.north
    decided = now - timedelta(hours=1)
    set_meetings(north, NORTH, now, london_day(decided), london_day(decided) + timedelta(days=28))
    sent = north.send(NORTH, SOUTH, now, consent=decided_at(decided))
    assert sent.status == "queued"


def test_a_meeting_decision_on_another_day_waits_for_a_chair(linked: Any, now: datetime) -> None:
    """Calling a chair's decision a meeting decision does not bypass the chair."""
    north: LocalNode = linked.north
    decided = now - timedelta(hours=1)
    set_meetings(north, NORTH, now, london_day(decided) + timedelta(days=3))
    sent = north.send(NORTH, SOUTH, now, consent=decided_at(decided))
    assert sent.status == "awaiting_approval"
    assert north.count("outbox") == 0
    assert north.count("audit_events", "action = 'transfer.awaiting_approval'") == 1
    assert north.count("audit_events", "action = 'transfer.sent'") == 0


def test_without_recorded_meetings_the_forum_is_taken_as_stated(linked: Any, now: datetime) -> None:
    north: LocalNode = linked.north
    set_meetings(linked.south, SOUTH, now, london_day(now) + timedelta(days=3))
    assert north.send(NORTH, SOUTH, now).status == "queued"

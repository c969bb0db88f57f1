"""The MARAC's own rules around its meetings: a decision called `at_meeting` must fall on a
meeting day or wait for a chair (seed 001 5.1); the listing date of an acknowledgement
(seeds 000 4.5.2, 001 4.3, 003)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from support.local_nodes import NORTH, SOUTH, LocalNode, carry

from gateway.devtools.samples import sample_transfer
from gateway.domain.casework import acknowledgements
from gateway.domain.identity.principals import Principal
from gateway.domain.schedule import meetings
from gateway.domain.schedule.working_calendar import add_working_days, is_working_day, london_day
from gateway.errors import Invalid, NotFound
from schemas.api.areas import MAX_DEADLINE_WORKING_DAYS

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


# --- acknowledgement: the listing date --------------------------------------------------------

SAM = {"name": "Sam Sample", "role": "MARAC coordinator"}


def acceptance(listed_for: date) -> dict[str, Any]:
    return {
        "status": "accepted",
        "listed_for": listed_for.isoformat(),
        "idva_referred": False,
        "acknowledged_by": SAM,
    }


@pytest.fixture
def arrived(linked: Any, now: datetime) -> str:
    linked.north.send(NORTH, SOUTH, now)
    carry(linked.north, linked.south, now)
    return str(linked.south.scalar("SELECT id FROM transfers WHERE direction = 'inbound'"))


def acknowledge(node: LocalNode, transfer_id: str, body: dict[str, Any], now: datetime) -> Any:
    with node.session() as session:
        return acknowledgements.acknowledge(session, node.master, OPERATOR, transfer_id, body, now)


def test_a_case_is_never_listed_for_a_past_day(linked: Any, arrived: str, now: datetime) -> None:
    south: LocalNode = linked.south
    past = london_day(now) - timedelta(days=2)
    set_meetings(south, SOUTH, now, past)  # even a recorded meeting, once it is over
    before = south.counts("envelopes", "outbox", "audit_events")
    with pytest.raises(Invalid) as refused:
        acknowledge(south, arrived, acceptance(past), now)
    assert refused.value.errors == {"listed_for": ["Must not be in the past."]}
    assert south.counts("envelopes", "outbox", "audit_events") == before


def settings(node: LocalNode, now: datetime, **values: int) -> meetings.Schedule:
    with node.session() as session:
        return meetings.set_settings(session, OPERATOR, NORTH, now=now, **values)


def on_a_working_day(now: datetime) -> datetime:
    """`now`, or the same time on the next working day. A referral deadline always falls on
    a working day, so on a weekend or a bank holiday the deadline of the meeting two working
    days ahead has already passed (it was the last working day)."""
    while not is_working_day(london_day(now)):
        now += timedelta(days=1)
    return now


def test_the_suggested_meeting_is_the_first_whose_deadline_has_not_passed(
    north: LocalNode, now: datetime
) -> None:
    now = on_a_working_day(now)
    today = london_day(now)
    soon, later = add_working_days(today, 2), add_working_days(today, 12)
    set_meetings(north, NORTH, now, today - timedelta(days=7), soon, later)
    assert settings(north, now, referral_deadline_working_days=0).suggested_listing(now) == soon
    found = settings(north, now, referral_deadline_working_days=2)
    assert (found.referral_deadline_working_days, found.ack_working_days) == (2, 2)
    assert found.suggested_listing(now) == soon  # its deadline is today
    assert settings(north, now, referral_deadline_working_days=3).suggested_listing(now) == later
    assert settings(north, now, referral_deadline_working_days=20).suggested_listing(now) is None
    assert settings(north, now, ack_working_days=4).referral_deadline_working_days == 20


def test_the_referral_deadline_is_bounded_and_set_by_an_admin(
    north: LocalNode, now: datetime
) -> None:
    coordinator = north.user("c@north.example", NORTH, "coordinator", now)
    before = north.count("audit_events")
    with north.session() as session:
        for days in (-1, MAX_DEADLINE_WORKING_DAYS + 1):
            with pytest.raises(Invalid) as refused:
                meetings.set_settings(
                    session, OPERATOR, NORTH, now=now, referral_deadline_working_days=days
                )
            assert refused.value.errors is not None
            assert list(refused.value.errors) == ["referral_deadline_working_days"]
        with pytest.raises(NotFound):
            meetings.set_settings(
                session, coordinator, NORTH, now=now, referral_deadline_working_days=1
            )
    assert north.count("audit_events") == before

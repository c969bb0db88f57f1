"""Flags: set by a coordinator of the area, reviewed (never backwards, never after a
clear), expired by the daily chore once; this node plays the linkage authority and the
flag index itself, so the tokens are real."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from support.local_nodes import NORTH, LocalNode

from gateway.domain.flags import lifecycle
from gateway.domain.flags.months import add_months
from gateway.domain.identity.principals import Principal
from gateway.errors import Conflict, DomainError, Invalid, NotFound

WRITTEN = ("flags", "flag_tokens", "index_tokens", "audit_events")


def written(node: LocalNode) -> dict[str, int]:
    return node.counts(*WRITTEN)


def new_flag(reviewed_at: date, case_ref: str = "NS-2026-001", **changes: Any) -> dict[str, Any]:
    return {
        "case_ref": case_ref,
        "reviewed_at": reviewed_at.isoformat(),
        "source": "local",
        "subjects": [
            {
                "role": "victim",
                "given_names": "Ada",
                "family_name": "Example",
                "date_of_birth": "1990-04-01",
                "aliases": [],
                "previous_family_names": [],
            }
        ],
        **changes,
    }


def set_flag(
    node: LocalNode, who: Principal, data: dict[str, Any], now: datetime, area: str | None = NORTH
) -> lifecycle.FlagView:
    with node.session() as session:
        return lifecycle.set_flag(session, node.node.flag_roles, who, area, data, now)


def review(
    node: LocalNode, who: Principal, flag_id: str, data: dict[str, Any], now: datetime
) -> lifecycle.FlagView:
    with node.session() as session:
        return lifecycle.review(session, node.node.flag_roles, who, flag_id, data, now)


@pytest.fixture
def coordinator(north: LocalNode, now: datetime) -> Principal:
    return north.user("c@north.example", NORTH, "coordinator", now)


def test_a_flag_runs_twelve_months_from_its_review(
    north: LocalNode, coordinator: Principal, now: datetime
) -> None:
    reviewed = now.date() - timedelta(days=3)
    flag = set_flag(north, coordinator, new_flag(reviewed), now)
    assert (flag.status, flag.expires_at, flag.sits_with) == (
        "active",
        add_months(reviewed, 12),
        NORTH,
    )
    assert north.count("flag_tokens", "flag_id = :f", f=flag.id) > 0
    assert north.count("audit_events", "action = 'flag.set'") == 1


@pytest.mark.parametrize(
    ("who", "area", "data", "error", "field"),
    [
        (Principal.user("u", {(NORTH, "chair")}), NORTH, {}, NotFound, None),
        (Principal.user("u", {(NORTH, "chair")}), None, {}, Invalid, "area"),
        (Principal.client("c", NORTH, {"flags:query"}), NORTH, {}, NotFound, None),
        (None, NORTH, {"subjects": []}, Invalid, "subjects"),
        (None, NORTH, {"source": {"transfer": str(uuid.uuid4())}}, Invalid, "source"),
        (None, NORTH, {"reviewed_at": "2999-01-01"}, Invalid, "reviewed_at"),
    ],
)
def test_a_flag_is_refused_and_nothing_is_written(
    north: LocalNode,
    coordinator: Principal,
    now: datetime,
    who: Principal | None,
    area: str | None,
    data: dict[str, Any],
    error: type[DomainError],
    field: str | None,
) -> None:
    before = written(north)
    with pytest.raises(error) as refused:
        set_flag(north, who or coordinator, {**new_flag(now.date()), **data}, now, area)
    assert type(refused.value) is error
    if field is not None:
        assert refused.value.errors is not None and field in refused.value.errors
    assert written(north) == before


def test_a_case_is_flagged_once_per_area(
    north: LocalNode, coordinator: Principal, now: datetime
) -> None:
    set_flag(north, coordinator, new_flag(now.date()), now)
    before = written(north)
    with pytest.raises(Conflict, match="already flagged"):
        set_flag(north, coordinator, new_flag(now.date()), now)
    assert written(north) == before


def test_review_refusals(north: LocalNode, coordinator: Principal, now: datetime) -> None:
    reviewed = now.date() - timedelta(days=10)
    flag = set_flag(north, coordinator, new_flag(reviewed), now)
    before = written(north)
    stranger = Principal.user("u", {("east-fen", "coordinator"), (NORTH, "chair")})
    with pytest.raises(NotFound):
        review(north, stranger, flag.id, {"reviewed_at": now.date().isoformat()}, now)
    with pytest.raises(NotFound):
        review(north, coordinator, str(uuid.uuid4()), {"reviewed_at": now.date().isoformat()}, now)
    older = (reviewed - timedelta(days=1)).isoformat()
    with pytest.raises(Invalid) as refused:
        review(north, coordinator, flag.id, {"reviewed_at": older}, now)
    assert refused.value.errors == {"reviewed_at": ["Must not be before the last review."]}
    assert written(north) == before
    extended = review(north, coordinator, flag.id, {"reviewed_at": now.date().isoformat()}, now)
    assert extended.expires_at == add_months(now.date(), 12)
    cleared = review(
        north,
        coordinator,
        flag.id,
        {"reviewed_at": now.date().isoformat(), "outcome": "clear"},
        now,
    )
    assert cleared.status == "cleared"
    before = written(north)
    with pytest.raises(Conflict, match="cleared"):
        review(north, coordinator, flag.id, {"reviewed_at": now.date().isoformat()}, now)
    assert written(north) == before


def test_the_daily_chore_expires_a_lapsed_flag_once(
    north: LocalNode, coordinator: Principal, now: datetime
) -> None:
    reviewed = add_months(now.date(), -11)
    lapsing = set_flag(north, coordinator, new_flag(reviewed), now)
    cleared = set_flag(north, coordinator, new_flag(reviewed, case_ref="NS-2"), now)
    review(
        north,
        coordinator,
        cleared.id,
        {"reviewed_at": reviewed.isoformat(), "outcome": "clear"},
        now,
    )
    roles = north.node.flag_roles
    with north.session() as session:
        assert lifecycle.expire_due(session, roles, now) == 0
        later = now + timedelta(days=62)
        assert lifecycle.expire_due(session, roles, later) == 1
        assert lifecycle.expire_due(session, roles, later) == 0
    statuses = {
        lapsing.id: "expired",
        cleared.id: "cleared",
    }
    for flag_id, status in statuses.items():
        assert north.scalar("SELECT status FROM flags WHERE id = :f", f=flag_id) == status
    assert north.count("audit_events", "action = 'flag.expired'") == 1


def test_one_flag_is_read_by_its_own_area_only(
    north: LocalNode, coordinator: Principal, now: datetime
) -> None:
    made = set_flag(north, coordinator, new_flag(now.date()), now)
    chair = north.user("chair@north.example", NORTH, "chair", now)
    with north.session() as session:
        assert lifecycle.get_flag(session, chair, made.id) == made
    outsider = Principal.user(str(uuid.uuid4()), (("eastmoor", "coordinator"),))
    auditor = north.user("a@north.example", NORTH, "auditor", now)
    for who, flag_id in ((outsider, made.id), (auditor, made.id), (chair, str(uuid.uuid4()))):
        with north.session() as session, pytest.raises(NotFound):
            lifecycle.get_flag(session, who, flag_id)

"""Restricted cases (seed 001 4.5.3): the receiving chair decides who is named; a chair may
restrict a received case after arrival, and the sending area's chair its own copy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from support.local_nodes import NORTH, SOUTH, LocalNode, carry

from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import reading, restriction
from gateway.errors import ChairDecides, Invalid, NotFound, Restricted

WRITTEN = ("audit_events", "transfer_events")


def restrict(node: LocalNode, who: Principal, transfer_id: str, now: datetime, reason: str) -> Any:
    with node.session() as session:
        return restriction.restrict(session, who, transfer_id, reason, now)


def open_as(node: LocalNode, who: Principal, transfer_id: str, now: datetime) -> Any:
    with node.session() as session:
        return reading.open_transfer(session, node.master, who, transfer_id, now=now)


def name(node: LocalNode, who: Principal, transfer_id: str, users: list[str], now: datetime) -> Any:
    with node.session() as session:
        return restriction.name_users(session, who, transfer_id, users, now)


def test_a_received_case_is_restricted_after_arrival_by_a_chair(linked: Any, now: datetime) -> None:
    north: LocalNode = linked.north
    south: LocalNode = linked.south
    north.send(NORTH, SOUTH, now)
    carry(north, south, now)
    arrived = str(south.scalar("SELECT id FROM transfers WHERE direction = 'inbound'"))
    coordinator = south.user("c@south.example", SOUTH, "coordinator", now)
    other = south.user("o@south.example", SOUTH, "coordinator", now)
    chair = south.user("chair@south.example", SOUTH, "chair", now)
    assert open_as(south, coordinator, arrived, now).content
    before = south.counts(*WRITTEN)
    for who, reason, error in (
        (coordinator, "honour_based_violence", NotFound),  # only a chair restricts
        (chair, "gossip", Invalid),
    ):
        with pytest.raises(error):
            restrict(south, who, arrived, now, reason)
    assert south.counts(*WRITTEN) == before
    assert restrict(south, chair, arrived, now, "position_of_trust").restricted
    assert south.count("audit_events", "action = 'transfer.restricted'") == 1
    with pytest.raises(Restricted):
        open_as(south, coordinator, arrived, now)
    # The chair decides who is named, and may change it even when not named.
    assert name(south, chair, arrived, [coordinator.id], now).users == [coordinator.id]
    assert open_as(south, coordinator, arrived, now).content
    # Only the chair names (seed 001 4.5.3): a coordinator, named or not, is refused.
    before = south.counts(*WRITTEN)
    for who in (other, coordinator):
        with pytest.raises(ChairDecides):
            name(south, who, arrived, [other.id], now)
    assert south.counts(*WRITTEN) == before
    assert name(south, chair, arrived, [other.id], now).users == [other.id]
    with pytest.raises(Restricted):
        open_as(south, coordinator, arrived, now)


def test_the_sending_area_restricts_its_own_copy(linked: Any, now: datetime) -> None:
    north: LocalNode = linked.north
    coordinator = north.user("c@north.example", NORTH, "coordinator", now)
    chair = north.user("chair@north.example", NORTH, "chair", now)
    sent = north.send(NORTH, SOUTH, now, coordinator)
    assert open_as(north, coordinator, sent.id, now).content
    restrict(north, chair, sent.id, now, "honour_based_violence")
    with pytest.raises(Restricted):
        open_as(north, coordinator, sent.id, now)
    name(north, chair, sent.id, [coordinator.id], now)
    assert open_as(north, coordinator, sent.id, now).content["victim"]["given_names"] == "Ada"

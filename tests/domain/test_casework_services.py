"""Casework: acknowledgement, chair approval (four eyes), withdrawal and forwarding, on a
transfer that really travelled: sealed by north, carried to south's receiving service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from support.local_nodes import NORTH, SOUTH, LocalNode, carry

from gateway.devtools.samples import sample_transfer
from gateway.domain.casework import acknowledgements, chair_approval, forwarding, withdrawal
from gateway.domain.identity.principals import Principal
from gateway.domain.schedule import meetings
from gateway.domain.transfers import reading, sending
from gateway.errors import Conflict, Forbidden, Invalid, NotFound

WRITTEN = ("transfers", "envelopes", "outbox", "audit_events", "transfer_events")
WEST = "west-moor"
SAM = {"name": "Sam Sample", "role": "MARAC coordinator"}
OPERATOR = Principal.operator()


def written(node: LocalNode) -> dict[str, int]:
    return node.counts(*WRITTEN)


def inbound_id(south: LocalNode) -> str:
    return str(south.scalar("SELECT id FROM transfers WHERE direction = 'inbound'"))


def status(node: LocalNode, transfer_id: str) -> str:
    return str(node.scalar("SELECT status FROM transfers WHERE id = :t", t=transfer_id))


def acceptance(listed_for: date) -> dict[str, Any]:
    return {
        "status": "accepted",
        "listed_for": listed_for.isoformat(),
        "idva_referred": True,
        "acknowledged_by": SAM,
    }


def acknowledge(
    node: LocalNode,
    transfer_id: str,
    body: dict[str, Any],
    now: datetime,
    who: Principal = OPERATOR,
) -> reading.TransferView:
    with node.session() as session:
        return acknowledgements.acknowledge(session, node.master, who, transfer_id, body, now)


@pytest.fixture
def arrived(linked: Any, now: datetime) -> str:
    linked.north.send(NORTH, SOUTH, now)
    (accepted,) = carry(linked.north, linked.south, now)
    assert not accepted.duplicate
    transfer_id = inbound_id(linked.south)
    assert status(linked.south, transfer_id) == "received"
    return transfer_id


def test_an_acknowledgement_is_sealed_back_and_given_once(
    linked: Any, arrived: str, now: datetime
) -> None:
    south: LocalNode = linked.south
    answered = acknowledge(south, arrived, acceptance(now.date()), now)
    assert answered.status == "acknowledged"
    assert south.count("outbox", "status = 'pending'") == 1
    before = written(south)
    with pytest.raises(Conflict) as refused:
        acknowledge(south, arrived, acceptance(now.date()), now)
    assert "'acknowledged'" in refused.value.detail
    assert written(south) == before


def test_the_sending_area_cannot_acknowledge(linked: Any, arrived: str, now: datetime) -> None:
    north: LocalNode = linked.north
    outbound = str(north.scalar("SELECT id FROM transfers"))
    before = written(north)
    with pytest.raises(Conflict, match="only the receiving area acknowledges"):
        acknowledge(north, outbound, acceptance(now.date()), now)
    assert written(north) == before


def test_another_area_cannot_acknowledge(linked: Any, arrived: str, now: datetime) -> None:
    south: LocalNode = linked.south
    stranger = Principal.user("someone", {(NORTH, "coordinator"), (SOUTH, "chair")})
    before = written(south)
    with pytest.raises(NotFound):
        acknowledge(south, arrived, acceptance(now.date()), now, stranger)
    assert written(south) == before and status(south, arrived) == "received"


def test_the_case_is_listed_for_one_of_the_meeting_dates(
    linked: Any, arrived: str, now: datetime
) -> None:
    south: LocalNode = linked.south
    meeting = now.date() + timedelta(days=14)
    with south.session() as session:
        meetings.set_meetings(session, OPERATOR, SOUTH, now=now, replace=[meeting])
    before = written(south)
    with pytest.raises(Invalid) as refused:
        acknowledge(south, arrived, acceptance(meeting + timedelta(days=1)), now)
    [message] = refused.value.errors["listed_for"]  # type: ignore[index]
    assert message.startswith("Not one of the area's meeting dates")
    assert "only an urgent transfer" in message
    assert written(south) == before and status(south, arrived) == "received"
    assert acknowledge(south, arrived, acceptance(meeting), now).listed_for == meeting
    assert south.count("transfer_events", "detail LIKE '%emergency_meeting%'") == 0


def test_an_urgent_transfer_may_be_listed_for_an_emergency_meeting(
    linked: Any, now: datetime
) -> None:
    """Seed 000 4.22 (an emergency MARAC within 24 hours), 001 4.3.1: an urgent case may
    be listed for a day that is not one of the area's meetings; the past stays refused."""
    north: LocalNode = linked.north
    south: LocalNode = linked.south
    north.send(NORTH, SOUTH, now, urgent=True, urgent_reason="Threats to kill this weekend")
    carry(north, south, now)
    arrived = inbound_id(south)
    meeting = now.date() + timedelta(days=14)
    with south.session() as session:
        meetings.set_meetings(session, OPERATOR, SOUTH, now=now, replace=[meeting])
    before = written(south)
    with pytest.raises(Invalid) as refused:
        acknowledge(south, arrived, acceptance(now.date() - timedelta(days=1)), now)
    assert refused.value.errors == {"listed_for": ["Must not be in the past."]}
    assert written(south) == before
    tomorrow = now.date() + timedelta(days=1)
    assert acknowledge(south, arrived, acceptance(tomorrow), now).listed_for == tomorrow
    # The timeline and the audit say it is an emergency meeting; nothing of the case.
    assert south.count("transfer_events", "detail LIKE '%emergency_meeting%'") == 1
    assert south.count("audit_events", "leaf LIKE '%emergency_meeting%'") == 1


def test_an_incomplete_acknowledgement_is_invalid(linked: Any, arrived: str, now: datetime) -> None:
    south: LocalNode = linked.south
    before = written(south)
    body = {**acceptance(now.date()), "listed_for": None}
    with pytest.raises(Invalid) as refused:
        acknowledge(south, arrived, body, now)
    assert refused.value.errors is not None and "listed_for" in refused.value.errors
    assert written(south) == before


def held_by(linked: Any, now: datetime, maker: Principal) -> str:
    payload = sample_transfer(NORTH, SOUTH)
    payload["consent"]["decision_forum"] = "chair_after_meeting"
    with linked.north.session() as session:
        sent = sending.send(session, linked.north.master, maker, payload, now)
    assert sent.status == "awaiting_approval"
    return sent.id


def approve(node: LocalNode, transfer_id: str, who: Principal, now: datetime) -> str:
    with node.session() as session:
        return chair_approval.approve(session, node.master, who, transfer_id, now).status


def test_the_maker_of_a_held_transfer_may_not_approve_it(linked: Any, now: datetime) -> None:
    north: LocalNode = linked.north
    maker = north.user("both@north.example", NORTH, "coordinator", now)
    maker = north.user("both@north.example", NORTH, "chair", now)
    transfer_id = held_by(linked, now, maker)
    assert north.count("outbox") == 0
    before = written(north)
    with pytest.raises(Forbidden, match="ask another chair"):
        approve(north, transfer_id, maker, now)
    assert written(north) == before
    # A coordinator who is no chair does not even see it to approve.
    coordinator = north.user("c@north.example", NORTH, "coordinator", now)
    before = written(north)
    with pytest.raises(NotFound):
        approve(north, transfer_id, coordinator, now)
    assert written(north) == before and status(north, transfer_id) == "awaiting_approval"
    other_chair = north.user("chair@north.example", NORTH, "chair", now)
    assert approve(north, transfer_id, other_chair, now) == "queued"
    assert north.count("outbox") == 1
    with pytest.raises(Conflict):
        approve(north, transfer_id, other_chair, now)


def withdraw(node: LocalNode, transfer_id: str, now: datetime) -> str:
    body = {"reason": "sent_in_error", "withdrawn_by": SAM}
    with node.session() as session:
        return withdrawal.withdraw(session, node.master, OPERATOR, transfer_id, body, now).status


def test_a_transfer_is_withdrawn_once(linked: Any, now: datetime) -> None:
    north: LocalNode = linked.north
    sent = north.send(NORTH, SOUTH, now)
    assert withdraw(north, sent.id, now) == "withdrawn"
    before = written(north)
    with pytest.raises(Conflict) as refused:
        withdraw(north, sent.id, now)
    assert "'withdrawn'" in refused.value.detail
    assert written(north) == before


def test_the_receiving_area_never_withdraws(linked: Any, arrived: str, now: datetime) -> None:
    south: LocalNode = linked.south
    before = written(south)
    with pytest.raises(Conflict, match="only the sending area withdraws"):
        withdraw(south, arrived, now)
    assert written(south) == before and status(south, arrived) == "received"


def own_forward(to_area: str) -> dict[str, Any]:
    """A forward with the forwarding area's own sender and consent decision."""
    own = sample_transfer(SOUTH, to_area)
    return {"to_area": to_area, "sender": own["sender"], "consent": own["consent"]}


def test_forwarding_needs_the_originating_areas_grant(
    linked: Any, arrived: str, now: datetime, make_node: Callable[[str, str], LocalNode]
) -> None:
    south: LocalNode = linked.south
    south.import_peer(make_node("west", WEST).bundle(WEST, now), now)
    before = written(south)
    with south.session() as session, pytest.raises(Conflict, match="No permission"):
        forwarding.forward(session, south.master, OPERATOR, arrived, own_forward(WEST), now)
    assert written(south) == before
    # Asking for the grant names a third area, never one of the transfer's two.
    ask = {"forward_to": NORTH, "reason": "relocation_refuge", "requested_by": SAM}
    with south.session() as session, pytest.raises(Invalid) as refused:
        forwarding.request_permission(session, south.master, OPERATOR, arrived, ask, now)
    assert refused.value.errors is not None and "forward_to" in refused.value.errors
    assert written(south) == before
    # The originating area forwards nothing: it sends its own transfer.
    north: LocalNode = linked.north
    outbound = str(north.scalar("SELECT id FROM transfers"))
    north_before = written(north)
    with north.session() as session, pytest.raises(Conflict, match="Only the area that received"):
        forwarding.forward(session, north.master, OPERATOR, outbound, own_forward(WEST), now)
    assert written(north) == north_before

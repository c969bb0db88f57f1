"""A redirect says why (seed 004 ISP 3.7); until the sender's receipt of it the redirecting
area still holds the case (the drop itself: tests/api/test_workflow.py, real delivery)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from support.local_nodes import NORTH, SOUTH, LocalNode, carry

from gateway.domain.casework import acknowledgements, messages
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import reading
from gateway.errors import Invalid

OPERATOR = Principal.operator()
WRITTEN = ("envelopes", "outbox", "audit_events", "transfer_events")
REDIRECT = {
    "status": "redirected",
    "redirect_to": "west-moor",
    "idva_referred": False,
    "acknowledged_by": {"name": "Sam Sample", "role": "MARAC coordinator"},
}


@pytest.fixture
def arrived(linked: Any, now: datetime) -> str:
    linked.north.send(NORTH, SOUTH, now)
    carry(linked.north, linked.south, now)
    return str(linked.south.scalar("SELECT id FROM transfers WHERE direction = 'inbound'"))


def redirect(node: LocalNode, transfer_id: str, now: datetime, **changes: Any) -> Any:
    with node.session() as session:
        return acknowledgements.acknowledge(
            session, node.master, OPERATOR, transfer_id, {**REDIRECT, **changes}, now
        )


@pytest.mark.parametrize(
    ("changes", "field"),
    [({}, "redirect_reason"), ({"redirect_reason": "other"}, "note")],
)
def test_a_redirect_without_its_reason_is_refused(
    linked: Any, arrived: str, now: datetime, changes: dict[str, Any], field: str
) -> None:
    south: LocalNode = linked.south
    before = south.counts(*WRITTEN)
    with pytest.raises(Invalid) as refused:
        redirect(south, arrived, now, **changes)
    assert refused.value.errors is not None and list(refused.value.errors) == [field]
    assert south.counts(*WRITTEN) == before


def test_the_reason_reaches_the_sender_and_the_case_stays_until_the_receipt(
    linked: Any, arrived: str, now: datetime
) -> None:
    south: LocalNode = linked.south
    north: LocalNode = linked.north
    answered = redirect(south, arrived, now, redirect_reason="other", note="Moved abroad.")
    assert answered.status == "redirected"
    carry(south, north, now)
    outbound = str(north.scalar("SELECT id FROM transfers"))
    assert north.scalar("SELECT status FROM transfers WHERE id = :t", t=outbound) == "redirected"
    # The peer's bundle lists version 2: the reason travels as its own member.
    with north.session() as session:
        _, thread = messages.list_messages(session, OPERATOR, outbound)
    [answer] = [m.envelope_id for m in thread if m.type == "acknowledgement"]
    with north.session() as session:
        opened = messages.open_message(session, north.master, OPERATOR, outbound, answer, now)
    message = opened.content
    assert (message["schema_version"], message["redirect_reason"]) == (2, "other")
    assert message["note"] == "Moved abroad."
    with south.session() as session:
        opened = reading.open_transfer(session, south.master, OPERATOR, arrived, now=now)
    assert opened.content["victim"]["given_names"] == "Ada"

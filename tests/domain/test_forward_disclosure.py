"""Forwarding is a new disclosure (seed 004 ISP 3.4, 3.5): the forwarding area's own sender
details and consent decision travel, and its own chair rule applies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from support.local_nodes import NORTH, SOUTH, LocalNode, carry

from gateway.devtools.samples import sample_transfer
from gateway.domain.casework import forwarding
from gateway.domain.identity.principals import Principal
from gateway.errors import Invalid

OPERATOR = Principal.operator()
WEST = "west-moor"
SAM = {"name": "Sam Sample", "role": "MARAC coordinator"}


def granted(linked: Any, now: datetime, west: LocalNode) -> str:
    """A case north sent to south, with north's grant for south to forward it to west."""
    north: LocalNode = linked.north
    south: LocalNode = linked.south
    south.import_peer(west.bundle(WEST, now), now)
    north.send(NORTH, SOUTH, now)
    carry(north, south, now)
    arrived = str(south.scalar("SELECT id FROM transfers WHERE direction = 'inbound'"))
    ask = {"forward_to": WEST, "reason": "relocation_permanent", "requested_by": SAM}
    with south.session() as session:
        asked = forwarding.request_permission(session, south.master, OPERATOR, arrived, ask, now)
    carry(south, north, now)
    outbound = str(north.scalar("SELECT id FROM transfers"))
    decision = {"request_id": asked.request_id, "decision": "granted", "decided_by": SAM}
    with north.session() as session:
        forwarding.decide(session, north.master, OPERATOR, outbound, decision, now)
    carry(north, south, now)
    return arrived


def own(**consent: Any) -> dict[str, Any]:
    sample = sample_transfer(SOUTH, WEST)
    sender = {"name": "Forwarding Coordinator", "role": "Coordinator", "mailbox": "f@s.example"}
    return {"to_area": WEST, "sender": sender, "consent": {**sample["consent"], **consent}}


def test_the_forward_is_the_forwarding_areas_own_decision(
    linked: Any, now: datetime, make_node: Callable[[str, str], LocalNode]
) -> None:
    south: LocalNode = linked.south
    arrived = granted(linked, now, make_node("west", WEST))
    before = south.count("envelopes")
    with south.session() as session, pytest.raises(Invalid) as refused:
        forwarding.forward(session, south.master, OPERATOR, arrived, {"to_area": WEST}, now)
    assert refused.value.errors is not None and set(refused.value.errors) == {"sender", "consent"}
    assert south.count("envelopes") == before
    # Decided by the forwarding area's chair after its meeting: held for that chair.
    with south.session() as session:
        sent = forwarding.forward(
            session,
            south.master,
            OPERATOR,
            arrived,
            own(decision_forum="chair_after_meeting"),
            now,
        )
    assert sent.status == "awaiting_approval" and sent.from_area == SOUTH
    queued = "outbox o JOIN envelopes e ON e.pk = o.envelope_pk"
    assert south.count(queued, "e.envelope_id = :e", e=sent.envelope_id) == 0

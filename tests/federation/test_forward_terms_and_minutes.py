"""Two payload versions across real nodes (docs/contract.md): a forward_permission grant of
version 2 carries the originating area's restrictions and the documents it covers to a
third area (seed 004 ISP 3.4, 3.5), and a document of version 2 carries minutes of format
version 2 (seed 002 appendix 3 II, 000 4.18); nodes capped at version 1 keep working."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from support.nodes import RunningNode

from gateway.devtools.samples import sample_transfer
from gateway.domain.casework import documents, forwarding
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import reading
from gateway.errors import Conflict, Invalid
from schemas.wire.document import MINUTES_JSON

OPERATOR = Principal.operator()
NORTH, SOUTH, WEST = "north-fen", "south-fen", "west-fen"
SAM = {"name": "Sam Sample", "role": "MARAC coordinator"}
RESTRICTIONS = "Not to be shared with the housing provider."


def posted_minutes(**changes: Any) -> dict[str, Any]:
    today = datetime.now(UTC).date().isoformat()
    return {
        "meeting_date": today,
        "marac": "North Fen MARAC",
        "attendees": [{"agency": "Police", "area": NORTH}, {"agency": "IDVA"}],
        "confidentiality_statement_confirmed": True,
        "referral_basis": "repeat",
        "entries": [
            {"kind": "professional_judgement", "source_agency": "Police", "text": "Rising."},
            {"kind": "fact", "source_agency": "IDVA", "text": "Moved to a refuge."},
        ],
        "sharing_agreed_by": ["Police", "IDVA"],
        **changes,
    }


def linked(*nodes: tuple[RunningNode, str]) -> None:
    for node, area in nodes:
        node.create_area(area)
    for node, _ in nodes:
        for other, other_area in nodes:
            if other is not node:
                node.import_peer(other.bundle(other_area))


def inbound(node: RunningNode, area: str) -> reading.TransferView:
    [found] = [t for t in node.transfers(area) if t.direction == "inbound"]
    return found


def opened(node: RunningNode, transfer_id: str) -> dict[str, Any]:
    with node.node.sessions() as session:
        found = reading.open_transfer(
            session, node.node.master, OPERATOR, transfer_id, now=utcnow()
        )
    return found.content


def send_document(node: RunningNode, transfer_id: str, outgoing: documents.Outgoing) -> str:
    with node.node.sessions() as session:
        sent = documents.send_document(
            session, node.node.master, OPERATOR, transfer_id, outgoing, utcnow()
        )
    return sent.id


def received_documents(node: RunningNode, transfer_id: str) -> list[tuple[str, bytes]]:
    with node.node.sessions() as session:
        _, listed = documents.list_documents(session, OPERATOR, transfer_id)
    found = []
    for item in listed:
        with node.node.sessions() as session:
            got = documents.open_document(
                session, node.node.master, OPERATOR, transfer_id, item.id, utcnow()
            )
        found.append((item.id, got.content))
    return found


def call(node: RunningNode, use_case: Callable[..., Any], *args: Any) -> Any:
    with node.node.sessions() as session:
        return use_case(session, node.node.master, OPERATOR, *args, utcnow())


def asked(north: RunningNode, south: RunningNode) -> tuple[str, str, str]:
    """North's case delivered to south, with a minutes document and a file; south asks to
    forward it to west. Returns (north's transfer, south's transfer, the request)."""
    sent = north.send(sample_transfer(NORTH, SOUTH), NORTH, SOUTH)
    assert north.deliver() >= 1
    arrived = inbound(south, SOUTH).id
    ask = {"forward_to": WEST, "reason": "relocation_permanent", "requested_by": SAM}
    request = call(south, forwarding.request_permission, arrived, ask)
    assert south.deliver() >= 1
    return sent.id, arrived, request.request_id


@pytest.fixture
def three(node_factory: Any) -> tuple[RunningNode, RunningNode, RunningNode]:
    north, south, west = node_factory("north"), node_factory("south"), node_factory("west")
    linked((north, NORTH), (south, SOUTH), (west, WEST))
    return north, south, west


def forward_body(**changes: Any) -> dict[str, Any]:
    sample = sample_transfer(SOUTH, WEST)
    sender = {"name": "South Coordinator", "role": "Coordinator", "mailbox": "m@south.example"}
    return {"to_area": WEST, "sender": sender, "consent": sample["consent"], **changes}


def test_a_grants_restrictions_and_covered_documents_travel_with_the_forward(
    three: tuple[RunningNode, RunningNode, RunningNode],
) -> None:
    north, south, west = three
    outbound, arrived, request = asked(north, south)
    minutes = documents.minutes_upload({"kind": "minutes", "minutes": posted_minutes()}, 10**6)
    covered = send_document(north, outbound, minutes)
    other = send_document(north, outbound, documents.Outgoing("other", b"note\n", "text/plain"))
    assert north.deliver() >= 2
    # Only documents exchanged on this case can be covered.
    grant = {
        "request_id": request,
        "decision": "granted",
        "decided_by": SAM,
        "restrictions": RESTRICTIONS,
        "restricted": True,
        "restricted_reason": "forced_marriage",
        "documents": ["5b23be00-3994-4213-9c58-71d742e02698"],
    }
    with pytest.raises(Invalid) as refused:
        call(north, forwarding.decide, outbound, grant)
    assert set(refused.value.errors or {}) == {"documents"}
    call(north, forwarding.decide, outbound, {**grant, "documents": [covered]})
    assert north.deliver() >= 1
    # A document the grant does not cover is refused, naming the field; nothing leaves.
    envelopes = south.count("envelopes")
    with pytest.raises(Invalid) as refused:
        call(south, forwarding.forward, arrived, forward_body(documents=[covered, other]))
    assert set(refused.value.errors or {}) == {"documents"}
    assert south.count("envelopes") == envelopes
    forwarded = call(south, forwarding.forward, arrived, forward_body(documents=[covered]))
    # The case, then the document its receipt released.
    assert south.deliver() >= 2
    # West holds the case as restricted, with north's restrictions after south's own.
    there = inbound(west, WEST)
    assert there.restricted and there.from_area == SOUTH
    content = opened(west, there.id)
    assert content["restricted_reason"] == "forced_marriage"
    assert content["consent"]["restrictions"].endswith(
        f"Restrictions set by the originating area ({NORTH}) on this forward: {RESTRICTIONS}"
    )
    # And the covered document only, byte for byte what north sent.
    [(document_id, content_bytes)] = received_documents(west, there.id)
    assert document_id != covered
    assert json.loads(content_bytes)["sharing_agreed_by"] == ["Police", "IDVA"]
    with south.node.sessions() as session:
        _, south_docs = documents.list_documents(session, OPERATOR, forwarded.id)
    assert [d.direction for d in south_docs] == ["outbound"]


def test_a_forwarding_node_capped_at_version_1_gets_a_bare_grant_only(
    node_factory: Any,
) -> None:
    north = node_factory("north")
    south = node_factory("south", GATEWAY_PAYLOAD_VERSIONS="forward_permission=1")
    west = node_factory("west")
    linked((north, NORTH), (south, SOUTH), (west, WEST))
    assert south.bundle(SOUTH)["body"]["accepts"]["forward_permission"] == [1]
    outbound, arrived, request = asked(north, south)
    envelopes = north.count("envelopes")
    terms = {"request_id": request, "decision": "granted", "decided_by": SAM}
    with pytest.raises(Conflict) as refused:
        call(north, forwarding.decide, outbound, {**terms, "restrictions": RESTRICTIONS})
    assert "forward_permission version(s) 1 only" in refused.value.detail
    assert set(refused.value.errors or {}) == {"restrictions"}
    assert RESTRICTIONS not in str(refused.value.detail)
    assert north.count("envelopes") == envelopes
    # Without terms it fits version 1, and the forward goes as before.
    call(north, forwarding.decide, outbound, terms)
    assert north.deliver() >= 1
    call(south, forwarding.forward, arrived, forward_body())
    assert south.deliver() >= 1
    there = inbound(west, WEST)
    assert not there.restricted
    assert "originating area" not in str(opened(west, there.id)["consent"]["restrictions"])


def test_a_version_1_node_and_an_upgraded_node_exchange_minutes_both_ways(
    node_factory: Any,
) -> None:
    old = node_factory("old", GATEWAY_PAYLOAD_VERSIONS="document=1")
    new = node_factory("new")
    linked((old, NORTH), (new, SOUTH))
    assert old.bundle(NORTH)["body"]["accepts"]["document"] == [1]
    assert new.bundle(SOUTH)["body"]["accepts"]["document"] == [1, 2]
    sent = new.send(sample_transfer(SOUTH, NORTH), SOUTH, NORTH)
    assert new.deliver() >= 1
    arrived = inbound(old, NORTH).id
    # Upgraded to capped: format version 2 minutes rewritten as version 1, no fact lost.
    minutes = documents.minutes_upload({"kind": "minutes", "minutes": posted_minutes()}, 10**6)
    send_document(new, sent.id, minutes)
    assert new.deliver() >= 1
    [(_, got)] = received_documents(old, arrived)
    old_minutes = json.loads(got)
    assert "schema_version" not in old_minutes and "sharing_agreed_by" not in old_minutes
    assert [e["kind"] for e in old_minutes["entries"]] == ["opinion", "fact", "fact"]
    assert old_minutes["entries"][-1]["text"] == (
        "Agencies that agreed to share these minutes: Police; IDVA."
    )
    assert (old_minutes["referral_basis"], old_minutes["repeat"]) == (None, True)
    assert old_minutes["attendees"][0]["agency"] == f"Police (covers {NORTH})"
    # The sender keeps what it sent: its digest is of the bytes the peer got.
    [(_, kept)] = received_documents(new, sent.id)
    assert kept == got
    # Capped to upgraded: the upgraded node accepts the newest the capped one sends.
    send_document(old, arrived, minutes)
    assert old.deliver() >= 1
    both = received_documents(new, sent.id)
    assert len(both) == 2
    assert json.loads(both[1][1])["sharing_agreed_by"] == ["Police", "IDVA"]
    # Minutes that cannot be written as version 1 are refused before sealing.
    crowded = posted_minutes(entries=[posted_minutes()["entries"][1]] * 500)
    envelopes = new.count("envelopes")
    with pytest.raises(Conflict) as refused:
        send_document(
            new, sent.id, documents.minutes_upload({"kind": "minutes", "minutes": crowded}, 10**7)
        )
    assert "document version(s) 1 only" in refused.value.detail
    assert set(refused.value.errors or {}) == {"minutes.sharing_agreed_by"}
    assert new.count("envelopes") == envelopes


def test_the_receiver_refuses_minutes_an_agency_did_not_agree_to_share(
    node_factory: Any,
) -> None:
    sender, receiver = node_factory("sender"), node_factory("receiver")
    linked((sender, SOUTH), (receiver, NORTH))
    sent = sender.send(sample_transfer(SOUTH, NORTH), SOUTH, NORTH)
    assert sender.deliver() >= 1
    arrived = inbound(receiver, NORTH).id
    # Sealed without the sender's own check (as a careless or older sender might): the
    # receiver judges the minutes by their own rules (seed 002 appendix 3 II).
    unagreed = {"schema_version": 2, **posted_minutes(sharing_agreed_by=["IDVA"])}
    raw = json.dumps(unagreed, sort_keys=True, separators=(",", ":")).encode("ascii")
    send_document(sender, sent.id, documents.Outgoing("minutes", raw, MINUTES_JSON))
    sender.deliver()
    # Refused for good (the detail naming the agencies is the receiver's answer, checked
    # in tests/schemas/test_documents_schema.py; the sender keeps only its slug).
    error = str(sender.scalar("SELECT last_error FROM outbox WHERE status = 'failed'"))
    assert error == "peer answered HTTP 422 (invalid-payload)"
    with receiver.node.sessions() as session:
        _, listed = documents.list_documents(session, OPERATOR, arrived)
    assert listed == []

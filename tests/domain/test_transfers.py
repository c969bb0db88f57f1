"""Transfers: sending (who may, to whom), drafts, and reading, where another area's
transfer answers exactly like one that does not exist."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from support.local_nodes import NORTH, SOUTH, LocalNode

from gateway.devtools.samples import sample_transfer
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import drafts, reading, sending
from gateway.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

WRITTEN = ("transfers", "envelopes", "outbox", "audit_events", "transfer_events")
EAST = "east-fen"


def written(node: LocalNode) -> dict[str, int]:
    return node.counts(*WRITTEN)


def test_a_coordinator_sends_and_the_sealed_copy_opens(linked: Any, now: datetime) -> None:
    north: LocalNode = linked.north
    coordinator = north.user("c@north.example", NORTH, "coordinator", now)
    sent = north.send(NORTH, SOUTH, now, coordinator)
    assert (sent.status, sent.direction, sent.peer_area) == ("queued", "outbound", SOUTH)
    assert north.count("outbox", "status = 'pending'") == 1
    assert north.count("audit_events", "action = 'transfer.sent'") == 1
    with north.session() as session:
        opened = reading.open_transfer(session, north.master, coordinator, sent.id, now=now)
    assert opened.content["victim"]["given_names"] == "Ada"


@pytest.mark.parametrize(
    ("who", "error"),
    [
        # Holds roles, but not the one that sends.
        (lambda ids: Principal.user(ids, {(NORTH, "chair"), (NORTH, "auditor")}), Forbidden),
        # A coordinator, of another area.
        (lambda ids: Principal.user(ids, {(EAST, "coordinator")}), Forbidden),
        # A client without transfers:write.
        (lambda ids: Principal.client(ids, NORTH, {"transfers:read"}), Invalid),
    ],
)
def test_a_sender_without_the_role_is_refused(
    linked: Any, now: datetime, who: Callable[[str], Principal], error: type[DomainError]
) -> None:
    north: LocalNode = linked.north
    before = written(north)
    payload = sample_transfer(NORTH, SOUTH)
    if error is Invalid:
        del payload["from_area"]  # a client's area is its own; it cannot name another
    with north.session() as session, pytest.raises(error) as refused:
        sending.send(session, north.master, who(str(uuid.uuid4())), payload, now)
    assert type(refused.value) is error
    assert written(north) == before


def test_sending_to_an_unknown_peer_is_refused(north: LocalNode, now: datetime) -> None:
    before = written(north)
    with pytest.raises(NotFound, match="not a known peer"):
        north.send(NORTH, "nowhere", now)
    assert written(north) == before


def test_sending_from_an_area_not_hosted_here_is_refused_even_with_the_cache_warm(
    north: LocalNode, now: datetime
) -> None:
    """The sending area is checked against the key cache; a warm cache (a send from the
    hosted area first) still refuses an area this node does not host, writing nothing."""
    with pytest.raises(NotFound, match="not a known peer"):
        north.send(NORTH, "nowhere", now)  # warms the cache for the hosted area
    before = written(north)
    with north.session() as session, pytest.raises(NotFound, match="not hosted on this node"):
        sending.send(session, north.master, Principal.operator(), sample_transfer(EAST, SOUTH), now)
    assert written(north) == before


def test_an_invalid_request_names_the_field(linked: Any, now: datetime) -> None:
    north: LocalNode = linked.north
    before = written(north)
    with pytest.raises(Invalid) as refused:
        north.send(NORTH, SOUTH, now, dash_score=-3)
    assert refused.value.errors is not None and "dash_score" in refused.value.errors
    assert written(north) == before


def refusals(node: LocalNode, who: Principal, transfer_id: str, now: datetime) -> list[Any]:
    """What opening, listing the timeline of and sending a draft of the transfer answer."""
    answers = []
    with node.session() as session:
        for call in (
            lambda: reading.open_transfer(session, node.master, who, transfer_id, now=now),
            lambda: reading.transfer_timeline(session, who, transfer_id),
            lambda: drafts.send_draft(session, node.master, who, transfer_id, now),
        ):
            with pytest.raises(NotFound) as refused:
                call()
            answers.append(refused.value.problem("/problems/"))
    return answers


def test_another_areas_transfer_answers_like_a_missing_one(linked: Any, now: datetime) -> None:
    north: LocalNode = linked.north
    north.create_area(EAST, now)
    sent = north.send(NORTH, SOUTH, now)
    stranger = north.user("c@east.example", EAST, "coordinator", now)
    before = written(north)
    theirs = refusals(north, stranger, sent.id, now)
    missing = refusals(north, stranger, str(uuid.uuid4()), now)
    assert theirs == missing and len(theirs) == 3
    assert written(north) == before


def test_a_draft_is_kept_then_sent_once(linked: Any, now: datetime) -> None:
    north: LocalNode = linked.north
    coordinator = north.user("c@north.example", NORTH, "coordinator", now)
    with north.session() as session:
        draft = drafts.save_draft(
            session, north.master, coordinator, sample_transfer(NORTH, SOUTH), now
        )
    assert draft.status == "draft"
    assert north.count("outbox") == 0
    assert north.count("audit_events", "action = 'transfer.drafted'") == 1
    with north.session() as session:
        opened = reading.open_transfer(session, north.master, coordinator, draft.id, now=now)
        assert opened.content["to_area"] == SOUTH
        sent = drafts.send_draft(session, north.master, coordinator, draft.id, now)
    assert sent.status == "queued" and north.count("outbox") == 1
    # The draft's own copy is replaced by the envelope sealed to the recipient.
    assert north.count("envelopes", "type = 'transfer_draft'") == 0
    before = written(north)
    with north.session() as session, pytest.raises(Conflict, match="not a draft"):
        drafts.send_draft(session, north.master, coordinator, draft.id, now)
    assert written(north) == before


def test_a_draft_for_an_unknown_peer_is_refused(north: LocalNode, now: datetime) -> None:
    before = written(north)
    with north.session() as session, pytest.raises(NotFound):
        drafts.save_draft(
            session, north.master, Principal.operator(), sample_transfer(NORTH, "nowhere"), now
        )
    assert written(north) == before

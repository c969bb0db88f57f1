"""Subject access (seed 004 ISP 6.2, 9.2-9.4): the search is audited with the request's
reference, who asked and its match counts (never the name); a match as a perpetrator is
marked; the decision taken is recorded once, naming the search. Also the disclosure log's
peer-area filter and the report's overdue acknowledgements."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from conftest import Linked
from support.local_nodes import NORTH, SOUTH, LocalNode, carry

from gateway.domain import audit
from gateway.domain.audit import actions, events, reports, subject, witness
from gateway.domain.identity.actors import Actor
from gateway.errors import Conflict, Invalid, NotFound

AUDITOR = Actor.user("auditor-1", "auditor")
PERPETRATOR = {
    "given_names": "Quentin",
    "family_name": "Canaryman",
    "aliases": [],
    "date_of_birth": "1980-02-03",
    "address": "2 Imaginary Lane",
    "relationship_to_victim": "ex-partner",
}


def last_leaf(node: LocalNode) -> dict[str, Any]:
    leaf = node.scalar("SELECT leaf FROM audit_events ORDER BY seq DESC LIMIT 1")
    return dict(json.loads(leaf))


def search(node: LocalNode, now: datetime, person: subject.Person, ref: str | None) -> Any:
    with node.session() as session:
        return subject.search(
            session, node.master, NORTH, person, actor=AUDITOR, now=now, reference=ref
        )


def test_a_search_is_audited_with_its_reference_and_marks_a_perpetrator(
    linked: Linked, now: datetime
) -> None:
    north = linked.north
    north.send(NORTH, SOUTH, now, perpetrators=[PERPETRATOR])
    as_perpetrator = subject.Person("Quentin", "Canaryman", date(1980, 2, 3))
    answer = search(north, now, as_perpetrator, "SAR/2026-041")
    [found] = answer.disclosures
    assert found["roles"] == ["perpetrator"] and found["perpetrator"] is True
    assert answer.perpetrator and answer.suppliers == [NORTH]
    leaf = last_leaf(north)
    assert leaf["action"] == actions.SUBJECT_ACCESS and leaf["seq"] == answer.seq
    assert leaf["actor"] == {"kind": "user", "id": "auditor-1", "role": "auditor"}
    assert leaf["details"] == {"matches": 1, "as_perpetrator": 1, "reference": "SAR/2026-041"}
    assert "Canaryman" not in json.dumps(leaf) and "1980-02-03" not in json.dumps(leaf)

    victim = search(north, now, subject.Person("Ada", "Example", date(1990, 4, 1)), None)
    assert [d["perpetrator"] for d in victim.disclosures] == [False]
    assert not victim.perpetrator
    assert "reference" not in last_leaf(north)["details"]


@pytest.mark.parametrize("reference", ["", "has spaces in it", "x" * 41, "-leading"])
def test_a_reference_that_could_carry_words_is_refused(
    north: LocalNode, now: datetime, reference: str
) -> None:
    size = north.count("audit_events")
    with pytest.raises(Invalid) as refused:
        search(north, now, subject.Person("Ada", None, date(1990, 4, 1)), reference)
    assert refused.value.errors == {"reference": [subject.REFERENCE_HELP]}
    assert north.count("audit_events") == size


def decide(node: LocalNode, now: datetime, seq: int, ref: str, decision: str) -> int:
    with node.session() as session:
        return subject.decide(session, NORTH, seq, ref, decision, actor=AUDITOR, now=now)


def test_the_decision_is_recorded_once_naming_its_search(north: LocalNode, now: datetime) -> None:
    answer = search(north, now, subject.Person("Nobody", None, date(2000, 1, 1)), "DPA-7")
    size = north.count("audit_events")
    with pytest.raises(NotFound):
        decide(north, now, answer.seq, "DPA-8", "withheld")  # another request's reference
    with pytest.raises(NotFound):
        decide(north, now, answer.seq - 1, "DPA-7", "withheld")  # not a search
    with pytest.raises(NotFound):
        decide(north, now, 10_000, "DPA-7", "withheld")
    with pytest.raises(Invalid):
        decide(north, now, answer.seq, "DPA-7", "shredded")
    assert north.count("audit_events") == size
    seq = decide(north, now, answer.seq, "DPA-7", "partly_disclosed")
    leaf = last_leaf(north)
    assert leaf["seq"] == seq and leaf["action"] == actions.SUBJECT_ACCESS_DECIDED
    assert leaf["details"] == {
        "search": answer.seq,
        "reference": "DPA-7",
        "decision": "partly_disclosed",
    }
    assert leaf["actor"]["id"] == "auditor-1"
    with pytest.raises(Conflict):
        decide(north, now, answer.seq, "DPA-7", "withheld")


def test_the_log_filters_by_peer_area(linked: Linked, now: datetime) -> None:
    north = linked.north
    north.send(NORTH, SOUTH, now)
    with north.session() as session, session.begin():
        audit.record(
            session,
            NORTH,
            audit.Event(action=actions.AREA_SETTINGS_SET, actor=AUDITOR, peer_area="south_x"),
            now,
        )
    with north.session() as session:
        page = events.list_events(session, NORTH, peer_area=SOUTH)
    assert page.items and all(item["peer_area"] == SOUTH for item in page.items)
    with north.session() as session:
        # `_` is a LIKE wildcard: the filter must match it literally.
        assert events.list_events(session, NORTH, peer_area="south-x").items == []


def test_the_report_counts_overdue_acknowledgements_once_per_transfer(
    north: LocalNode, now: datetime
) -> None:
    with north.session() as session, session.begin():
        for day, transfer in ((0, "t-1"), (1, "t-1"), (1, "t-2")):
            audit.record(
                session,
                NORTH,
                audit.Event(
                    action=actions.ACKNOWLEDGEMENT_OVERDUE,
                    actor=AUDITOR,
                    peer_area=SOUTH,
                    objects={"transfer": transfer, "envelope": f"e-{transfer}"},
                ),
                now + timedelta(seconds=day),
            )
    with north.session() as session:
        report = reports.disclosures(session, NORTH, now.date(), now.date() + timedelta(days=1))
    assert report["overdue_acknowledgements"] == {"total": 2, "by_peer_area": {SOUTH: 2}}


def test_the_peers_an_area_can_hold_to_their_checkpoints(linked: Linked, now: datetime) -> None:
    north, south = linked.north, linked.south
    with north.session() as session:
        assert witness.held_peers(session, NORTH) == []
    south.send(SOUTH, NORTH, now)
    assert carry(south, north, now)  # the envelope carries the peer's signed checkpoint
    with north.session() as session:
        [held] = witness.held_peers(session, NORTH)
    assert (held.peer, held.last_verified) == (SOUTH, None)
    assert held.checkpoints >= 1 and held.largest >= 1
    with north.session() as session, pytest.raises(NotFound):
        witness.held_peers(session, "nowhere")

"""The holder's answer to a verification request (docs/contract.md "Verification
answers"), on one node playing both roles with two areas: the asker's reply key, the
index's one relay back, the asker's sealed copy, refusals and the audit trail."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from support.local_nodes import NORTH, LocalNode

from adapters.db.models import FlagVerification
from gateway.domain.flags import answers, lifecycle, lookup, verification
from gateway.domain.flags.verification import _sealed_context
from gateway.domain.identity.principals import Principal
from gateway.errors import CannotAnswer, Conflict, Invalid, NotFound
from keys import canonical_json

EAST = "eastmoor"
PERSON = {
    "given_names": "Ada",
    "family_name": "Example",
    "date_of_birth": "1990-04-01",
    "aliases": [],
    "previous_family_names": [],
}


@pytest.fixture
def two(north: LocalNode, now: datetime) -> tuple[LocalNode, Principal, Principal]:
    north.create_area(EAST, now)
    holder = north.user("c@north.example", NORTH, "coordinator", now)
    asker = north.user("c@east.example", EAST, "coordinator", now)
    flag = {
        "case_ref": "NS-ANSWER",
        "reviewed_at": (date.today() - timedelta(days=10)).isoformat(),
        "source": "local",
        "subjects": [{"role": "victim", **PERSON}],
    }
    with north.session() as session:
        lifecycle.set_flag(session, north.node.flag_roles, holder, NORTH, flag, now)
    return north, holder, asker


def ask(node: LocalNode, asker: Principal, now: datetime) -> str:
    roles, limit = node.node.flag_roles, node.node.lookup_limit
    with node.session() as session:
        [found] = lookup.lookup(session, roles, asker, EAST, PERSON, limit, now)
    with node.session() as session:
        body = {"ref": found.ref, "person": PERSON, "note": None}
        return verification.request(session, roles, asker, EAST, body, limit, now)


def answer(node: LocalNode, who: Principal, request_id: str, word: Any, now: datetime) -> str:
    with node.session() as session:
        return answers.answer(
            session, node.node.flag_roles, who, None, request_id, {"answer": word}, now
        )


def sent(node: LocalNode, asker: Principal, now: datetime) -> list[dict[str, Any]]:
    with node.session() as session:
        return answers.list_sent(session, node.master, asker, EAST, now)


def test_a_confirmed_answer_names_the_holder_to_the_asker_only(
    two: tuple[LocalNode, Principal, Principal], now: datetime
) -> None:
    node, holder, asker = two
    request_id = ask(node, asker, now)
    [waiting] = sent(node, asker, now)
    assert (waiting["id"], waiting["answer"], waiting["area"]) == (request_id, None, None)
    with node.session() as session:
        [item] = verification.list_received(session, node.master, holder, NORTH, now)
    assert (item["answer"], item["answerable"]) == (None, True)

    assert answer(node, holder, request_id, "confirmed", now) == "confirmed"
    [done] = sent(node, asker, now)
    assert done["answer"] == "confirmed" and done["area"] == NORTH
    assert done["mailbox"] == f"marac@{NORTH}.example"
    # The reply key served its one purpose; the answer is sealed at rest.
    assert node.scalar("SELECT length(reply_secret_sealed) FROM flag_verifications_sent") == 0
    assert NORTH.encode() not in node.scalar("SELECT answer_sealed FROM flag_verifications_sent")
    assert node.scalar("SELECT answered_at FROM index_relays") is not None
    # Each step audited, the answer word only: never the holder's mailbox.
    with node.node.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT area_code, action FROM audit_events WHERE action LIKE :like"),
            {"like": "%answer%"},
        ).all()
    found = {(area, action) for area, action in rows}
    assert found == {
        (NORTH, "flag.verification_answered"),
        (EAST, "index.answer_relayed"),
        (EAST, "flag.verification_answer_received"),
    }
    assert node.count("audit_events", "leaf LIKE :like", like="%marac@%") == 0


def test_not_a_match_reveals_nothing_else_and_a_second_answer_is_refused(
    two: tuple[LocalNode, Principal, Principal], now: datetime
) -> None:
    node, holder, asker = two
    request_id = ask(node, asker, now)
    answer(node, holder, request_id, "not_a_match", now)
    [done] = sent(node, asker, now)
    assert (done["answer"], done["area"], done["mailbox"]) == ("not_a_match", None, None)
    with pytest.raises(Conflict):
        answer(node, holder, request_id, "confirmed", now)
    [still] = sent(node, asker, now)
    assert still["answer"] == "not_a_match"


def test_refusals_write_nothing(two: tuple[LocalNode, Principal, Principal], now: datetime) -> None:
    node, holder, asker = two
    request_id = ask(node, asker, now)
    before = node.counts("audit_events", "index_relays")
    with pytest.raises(Invalid):
        answer(node, holder, request_id, "maybe", now)
    with pytest.raises(NotFound):  # not a request this area received
        answer(node, holder, "00000000-0000-4000-8000-000000000009", "confirmed", now)
    with pytest.raises(NotFound):  # the asker cannot answer its own request
        answer(node, asker, request_id, "confirmed", now)
    assert node.counts("audit_events", "index_relays") == before
    assert node.count("flag_verifications", "answer IS NOT NULL") == 0


def test_a_request_without_a_reply_key_cannot_be_answered(
    two: tuple[LocalNode, Principal, Principal], now: datetime
) -> None:
    """An older asker's gateway sent no `reply_to`: its request still reaches the holder,
    who is told it cannot be answered here; nothing is sent or recorded."""
    node, holder, asker = two
    request_id = ask(node, asker, now)
    with node.session() as session, session.begin():
        row = session.get(FlagVerification, request_id)
        assert row is not None
        context = _sealed_context(NORTH, request_id)
        inner = json.loads(node.master.open(row.sealed, context))
        del inner["reply_to"]
        row.sealed = node.master.seal(canonical_json(inner), context)
    with node.session() as session:
        [item] = verification.list_received(session, node.master, holder, NORTH, now)
    assert item["answerable"] is False
    with pytest.raises(CannotAnswer):
        answer(node, holder, request_id, "confirmed", now)
    assert node.count("flag_verifications", "answer IS NOT NULL") == 0
    assert sent(node, asker, now)[0]["answer"] is None

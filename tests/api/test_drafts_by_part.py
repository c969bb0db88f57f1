"""Drafts built part by part (the send journey's pages) and documents held with a transfer
until it is delivered, across two real nodes."""

from __future__ import annotations

from typing import Any

import pytest
from support.nodes import Pair

from gateway.devtools.samples import sample_transfer, sample_transfer_v1
from gateway.domain.casework import documents
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import drafts
from gateway.errors import Conflict, Invalid, NotFound

A, B = "northshire", "south-vale"
OPERATOR = Principal.operator()
MINUTES_TEXT = b"Minutes of the meeting: actions agreed.\n"
CANARY = "Quintessa Canarywood"


def _start(pair: Pair, **extra: Any) -> str:
    with pair.north.node.sessions() as db:
        started = drafts.start_draft(
            db,
            pair.north.node.master,
            OPERATOR,
            {"from_area": A, "to_area": B, "reason": "relocation_refuge", **extra},
            utcnow(),
        )
    assert started.status == "draft"
    return started.id


def _update(pair: Pair, transfer_id: str, part: dict[str, Any]) -> None:
    with pair.north.node.sessions() as db:
        drafts.update_draft(db, pair.north.node.master, OPERATOR, transfer_id, part, utcnow())


def _content(pair: Pair, transfer_id: str) -> dict[str, Any]:
    with pair.north.node.sessions() as db:
        return drafts.draft_content(db, pair.north.node.master, OPERATOR, transfer_id)[1]


def _attach(pair: Pair, transfer_id: str) -> documents.DocumentView:
    upload = documents.file_upload("minutes", MINUTES_TEXT, None, documents.DEFAULT_MAX_BYTES)
    with pair.north.node.sessions() as db:
        return documents.send_document(
            db, pair.north.node.master, OPERATOR, transfer_id, upload, utcnow()
        )


def test_a_draft_grows_part_by_part_then_is_sent_with_its_documents(pair: Pair) -> None:
    transfer_id = _start(pair)
    # A canary with a space: base64 ciphertext can never contain one by chance.
    whole = sample_transfer(A, B, victim=CANARY)
    # Each page's answers are checked on their own; a refusal names the field, keeps nothing.
    with pytest.raises(Invalid) as refused:
        _update(pair, transfer_id, {"victim": {"given_names": ""}})
    assert set(refused.value.errors or {}) == {"victim"}
    assert "victim" not in _content(pair, transfer_id)
    parts = {k: v for k, v in whole.items() if k not in ("schema_version", "from_area", "to_area")}
    consent = parts.pop("consent")
    _update(pair, transfer_id, parts)
    # The consent questions arrive one page at a time, each kept beside the others.
    for name, value in consent.items():
        _update(pair, transfer_id, {f"consent.{name}": value})
    assert _content(pair, transfer_id)["consent"]["grounds"] == consent["grounds"]
    held = _attach(pair, transfer_id)
    assert held.direction == documents.HELD
    # Sealed at rest: the victim's name is in no stored envelope.
    assert (
        pair.north.scalar(
            "SELECT count(*) FROM envelopes WHERE body LIKE :canary", canary=f"%{CANARY}%"
        )
        == 0
    )

    with pair.north.node.sessions() as db:
        sent = drafts.send_draft(db, pair.north.node.master, OPERATOR, transfer_id, utcnow())
    assert sent.status == "queued"
    # The worker delivers the transfer; only then is the held document sealed to the peer
    # and queued, so it can never arrive first.
    assert pair.south.count("documents") == 0
    assert pair.north.deliver() >= 1
    pair.north.deliver()
    assert (
        pair.north.scalar("SELECT direction FROM documents WHERE transfer_id = :t", t=transfer_id)
        == "outbound"
    )
    inbound = next(t for t in pair.south.transfers(B) if t.direction == "inbound")
    with pair.south.node.sessions() as db:
        _, arrived = documents.list_documents(db, OPERATOR, inbound.id)
    assert [(d.kind, d.size) for d in arrived] == [("minutes", len(MINUTES_TEXT))]


def test_a_draft_can_be_deleted_with_what_it_held(pair: Pair) -> None:
    transfer_id = _start(pair)
    _attach(pair, transfer_id)
    before = pair.north.count("audit_events")
    with pair.north.node.sessions() as db:
        drafts.delete_draft(db, pair.north.node.master, OPERATOR, transfer_id, utcnow())
    for table in ("transfers", "documents", "envelopes", "transfer_events"):
        assert pair.north.count(table) == 0, table
    assert pair.north.count("audit_events") == before + 1
    with pytest.raises(NotFound):
        _content(pair, transfer_id)


def test_a_started_draft_is_refused_for_a_bad_reason_or_itself(pair: Pair) -> None:
    with pytest.raises(Invalid) as refused:
        _start(pair, reason="holiday")
    assert set(refused.value.errors or {}) == {"reason"}
    with pair.north.node.sessions() as db, pytest.raises(Invalid):
        drafts.start_draft(
            db,
            pair.north.node.master,
            OPERATOR,
            {"from_area": A, "to_area": A, "reason": "relocation_refuge"},
            utcnow(),
        )
    assert pair.north.count("transfers") == 0


def test_an_unfinished_draft_is_not_sent_and_a_sent_one_is_not_a_draft(pair: Pair) -> None:
    transfer_id = _start(pair)
    with pair.north.node.sessions() as db, pytest.raises(Invalid) as refused:
        drafts.send_draft(db, pair.north.node.master, OPERATOR, transfer_id, utcnow())
    assert {"victim", "consent", "sender"} <= set(refused.value.errors or {})
    sent = pair.send()
    with pytest.raises(Conflict):
        _update(pair, sent.id, {"afraid_of": "x"})
    with pytest.raises(Invalid) as fixed:
        _update(pair, transfer_id, {"to_area": "elsewhere", "consent.nope": 1})
    assert set(fixed.value.errors or {}) == {"to_area", "consent.nope"}


def test_a_version_1_draft_keeps_its_version_part_by_part(pair: Pair) -> None:
    older = sample_transfer_v1(A, B)
    with pair.north.node.sessions() as db:
        saved = drafts.save_draft(db, pair.north.node.master, OPERATOR, older, utcnow())
    # Its parts are checked against version 1: the move still carries its safe contact.
    _update(pair, saved.id, {"move": older["move"]})
    with pytest.raises(Invalid) as refused:
        _update(pair, saved.id, {"urgent": True})
    assert set(refused.value.errors or {}) == {"urgent"}
    assert _content(pair, saved.id)["schema_version"] == 1

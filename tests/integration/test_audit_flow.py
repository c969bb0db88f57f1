"""The audit across two real nodes: evidence travels with the disclosure, the receipt
commits to the receiver's leaf, both logs verify, and a peer can hold the sender to its log."""

from __future__ import annotations

import json

from sqlalchemy import text
from support.nodes import Pair

from gateway.domain.audit import verify, witness
from gateway.domain.clock import utcnow
from gateway.domain.federation.delivery import claim_due
from gateway.worker import deliver_batch


def leaves(node, area: str) -> list[dict]:
    with node.node.engine.connect() as connection:
        from sqlalchemy import text

        rows = connection.execute(
            text("SELECT leaf FROM audit_events WHERE area_code = :a ORDER BY seq"), {"a": area}
        )
        return [json.loads(r[0]) for r in rows]


def verify_area(node, area: str) -> verify.LogReport:
    with node.node.sessions() as session, session.begin():
        return verify.verify_log(session, area)


def stored_body(node, envelope_id: str) -> dict:
    return json.loads(
        node.scalar("SELECT body FROM envelopes WHERE envelope_id = :e", e=envelope_id)
    )


def test_disclosure_is_logged_on_both_sides_with_evidence(pair: Pair) -> None:
    sent = pair.send()
    # The send commits the leaf with the outbox row; the evidence waits for the worker.
    assert "evidence" not in stored_body(pair.north, sent.envelope_id)
    seq = pair.north.scalar("SELECT evidence_seq FROM envelopes WHERE area_code='northshire'")
    assert leaves(pair.north, "northshire")[seq]["objects"]["envelope"] == sent.envelope_id

    assert pair.north.deliver() == 1

    body = stored_body(pair.north, sent.envelope_id)
    assert body["evidence"]["leaf"]["action"] == "transfer.sent"
    assert body["evidence"]["leaf"]["objects"]["envelope"] == sent.envelope_id
    assert body["evidence"]["index"] == seq
    assert pair.north.scalar("SELECT evidence_seq FROM envelopes") is None

    north_actions = [leaf["action"] for leaf in leaves(pair.north, "northshire")]
    assert north_actions == ["area.created", "peer.imported", "transfer.sent", "transfer.delivered"]
    south = leaves(pair.south, "south-vale")
    received = south[-1]
    assert received["action"] == "envelope.received"
    assert received["details"]["evidence"] == "verified"
    assert received["legal_basis"] and received["consent"]
    assert received["commitment"]
    assert pair.south.count("peer_checkpoints") == 1

    receipt = json.loads(
        pair.north.scalar("SELECT receipt FROM envelopes WHERE area_code='northshire'")
    )
    assert receipt["body"]["audit"]["seq"] == received["seq"]
    delivered = leaves(pair.north, "northshire")[-1]
    assert delivered["details"]["peer_leaf_hash"] == receipt["body"]["audit"]["leaf_hash"]

    for node, area in ((pair.north, "northshire"), (pair.south, "south-vale")):
        report = verify_area(node, area)
        assert report.ok, report.problems


def test_peer_verification_and_cosignature(pair: Pair) -> None:
    pair.send()
    pair.north.deliver()
    pair.send()
    pair.north.deliver()
    with pair.south.node.sessions() as session:
        report = witness.verify_peer(
            session, pair.south.node.master, pair.south.node.client, "northshire", utcnow()
        )
    assert report.ok, report.problems
    assert report.cosigned
    assert pair.north.count("audit_cosignatures") == 1
    assert verify_area(pair.north, "northshire").ok


def test_a_burst_to_one_peer_carries_one_checkpoint(pair: Pair) -> None:
    """Five sends, one claim: the worker signs ONE checkpoint of the log as it stands and
    proves every envelope against it; the receiver verifies each envelope's evidence and
    keeps the checkpoint once."""
    sent = [pair.send(victim=name) for name in ("Ada", "Bea", "Cora", "Dina", "Eve")]
    assert pair.north.count("audit_checkpoints") == 0
    size = len(leaves(pair.north, "northshire"))

    assert deliver_batch(pair.north.node) == len(sent)

    assert pair.north.count("audit_checkpoints") == 1
    assert pair.south.count("peer_checkpoints") == 1
    documents = set()
    for view in sent:
        evidence = stored_body(pair.north, view.envelope_id)["evidence"]
        assert evidence["checkpoint"]["body"]["size"] == size
        assert evidence["leaf"]["objects"]["envelope"] == view.envelope_id
        documents.add(json.dumps(evidence["checkpoint"], sort_keys=True))
    assert len(documents) == 1
    received = [
        leaf for leaf in leaves(pair.south, "south-vale") if leaf["action"] == "envelope.received"
    ]
    assert len(received) == len(sent)
    assert {leaf["details"]["evidence"] for leaf in received} == {"verified"}
    assert {leaf["details"]["sender_log_size"] for leaf in received} == {size}
    # Only the last envelope's leaf ends the tree; the others sit inside it.
    assert sorted(leaf["details"]["sender_seq"] for leaf in received)[-1] < size
    for node, area in ((pair.north, "northshire"), (pair.south, "south-vale")):
        report = verify_area(node, area)
        assert report.ok, report.problems


def test_a_resent_envelope_carries_the_same_evidence(pair: Pair) -> None:
    """A retry or a resend posts the stored bytes: the evidence is not proved again."""
    first = pair.send()
    assert deliver_batch(pair.north.node) == 1
    body = pair.north.scalar(
        "SELECT body FROM envelopes WHERE envelope_id = :e", e=first.envelope_id
    )
    pair.send()  # the log grows, so a new proof would differ
    assert deliver_batch(pair.north.node) == 1
    checkpoints_before = pair.north.count("audit_checkpoints")
    with pair.north.node.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE outbox SET status = 'pending', next_attempt_at = :t, finished_at = NULL"
                " WHERE envelope_pk = (SELECT pk FROM envelopes WHERE envelope_id = :e)"
            ),
            {"t": utcnow(), "e": first.envelope_id},
        )
    with pair.north.node.sessions() as session:
        [claim] = claim_due(session, pair.north.node.master, now=utcnow(), lease=60, limit=10)
    assert claim.body == body
    assert pair.north.count("audit_checkpoints") == checkpoints_before

"""The audit across two real nodes: evidence travels with the disclosure, the receipt
commits to the receiver's leaf, both logs verify, and a peer can hold the sender to its log."""

from __future__ import annotations

import json

from support.nodes import Pair

from gateway.domain.audit import verify, witness
from gateway.domain.clock import utcnow


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


def test_disclosure_is_logged_on_both_sides_with_evidence(pair: Pair) -> None:
    sent = pair.send()
    body = json.loads(pair.north.scalar("SELECT body FROM envelopes WHERE area_code='northshire'"))
    assert body["evidence"]["leaf"]["action"] == "transfer.sent"
    assert body["evidence"]["leaf"]["objects"]["envelope"] == sent.envelope_id

    assert pair.north.deliver() == 1

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

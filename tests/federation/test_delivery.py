"""Two real nodes over real HTTP: a transfer sealed, queued, delivered, receipted."""

from __future__ import annotations

import json

from support.nodes import Pair, stored_envelope

from keys import canonical_json, verify_document


def test_transfer_is_delivered_once_with_a_signed_receipt(pair: Pair) -> None:
    sent = pair.send()
    assert sent.status == "queued"
    assert pair.north.count("outbox") == 1

    assert pair.north.deliver() == 1

    [outbound] = pair.north.transfers("northshire")
    [inbound] = pair.south.transfers("south-vale")
    assert (outbound.status, outbound.direction, outbound.to_area) == (
        "delivered",
        "outbound",
        "south-vale",
    )
    assert (inbound.status, inbound.direction, inbound.from_area) == (
        "received",
        "inbound",
        "northshire",
    )
    assert inbound.envelope_id == outbound.envelope_id
    receipt = json.loads(
        pair.north.scalar("SELECT receipt FROM envelopes WHERE area_code='northshire'")
    )
    south_key = pair.south.bundle("south-vale")["body"]
    from keys import b64url_decode

    body = verify_document(receipt, "receipt", b64url_decode(south_key["signing_key"]))
    assert body["envelope_id"] == outbound.envelope_id
    assert body["envelope_digest"] == pair.north.scalar(
        "SELECT digest FROM envelopes WHERE area_code='northshire'"
    )
    # The receiver keeps the very envelope the sender sealed, still sealed.
    assert canonical_json(stored_envelope(pair.south, "south-vale")) == canonical_json(
        stored_envelope(pair.north, "northshire")
    )


def test_nothing_due_means_nothing_sent(pair: Pair) -> None:
    assert pair.north.deliver() == 0
    assert pair.south.count("envelopes") == 0


def test_chair_decision_waits_for_approval_and_does_not_leave(pair: Pair) -> None:
    from gateway.devtools.samples import sample_transfer

    payload = sample_transfer("northshire", "south-vale")
    payload["consent"]["decision_forum"] = "chair_after_meeting"
    sent = pair.north.send(payload, "northshire", "south-vale")
    assert sent.status == "awaiting_approval"
    assert pair.north.count("outbox") == 0
    assert pair.north.deliver() == 0
    assert pair.south.count("envelopes") == 0

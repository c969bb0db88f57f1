"""Peer import with fingerprint checks, and key rotation across two real nodes."""

from __future__ import annotations

import copy
import time
from datetime import timedelta

import pytest
from sqlalchemy import text
from support.nodes import Pair

from gateway.domain.areas import local_areas, peers
from gateway.domain.clock import utcnow
from gateway.errors import Conflict, Forbidden, Invalid
from keys import fingerprint


def test_wrong_fingerprint_is_refused_and_nothing_pinned(pair: Pair, node_factory) -> None:
    third = node_factory("third")
    bundle = pair.north.bundle("northshire")
    wrong = "0" * 64
    with third.node.sessions() as session, pytest.raises(Forbidden):
        peers.import_peer(session, bundle, wrong, utcnow())
    assert third.count("peers") == 0 and third.count("peer_keys") == 0


def test_fingerprint_accepted_with_or_without_spaces(pair: Pair, node_factory) -> None:
    third = node_factory("third")
    bundle = pair.north.bundle("northshire")
    spaced = fingerprint(bundle["body"])
    with third.node.sessions() as session:
        view = peers.import_peer(session, bundle, spaced.replace(" ", "").upper(), utcnow())
    assert view.code == "northshire" and view.fingerprint == spaced


def test_a_bundle_edited_after_signing_does_not_import(pair: Pair, node_factory) -> None:
    third = node_factory("third")
    bundle = copy.deepcopy(pair.north.bundle("northshire"))
    bundle["body"]["url"] = "https://attacker.example"
    # Even with the fingerprint of the edited body, the signature no longer verifies.
    with third.node.sessions() as session, pytest.raises(Invalid):
        peers.import_peer(session, bundle, fingerprint(bundle["body"]), utcnow())
    assert third.count("peers") == 0


def test_plain_http_to_a_remote_host_is_refused(node_factory) -> None:
    node = node_factory("solo")
    with node.node.sessions() as session, pytest.raises(Invalid) as caught:
        local_areas.create_area(
            session,
            node.node.master,
            code="remote",
            name="Remote",
            url="http://marac.example.org",
            mailbox="m@remote.example",
            now=utcnow(),
        )
    assert "url" in (caught.value.errors or {})


def test_own_area_cannot_be_imported_as_a_peer(pair: Pair) -> None:
    bundle = pair.north.bundle("northshire")
    with pair.north.node.sessions() as session, pytest.raises(Conflict):
        peers.import_peer(session, bundle, fingerprint(bundle["body"]), utcnow())


def rotate(pair: Pair, grace: timedelta) -> str:
    with pair.north.node.sessions() as session:
        _old, new, _until = local_areas.rotate_keys(
            session, pair.north.node.master, "northshire", grace=grace, now=utcnow()
        )
    return new


def test_rotation_old_key_verifies_until_its_end_new_key_after_reimport(pair: Pair) -> None:
    before = pair.send()  # sealed and signed with the old key, not yet delivered
    new_key = rotate(pair, timedelta(days=30))
    after = pair.send()  # signed with the new key, which south has not pinned yet

    # South fetched north's bundle a moment ago, so the unknown key does not make it fetch
    # again (tests/federation/test_rotation_reaches_peers.py covers the fetch): without
    # it the new key waits for a re-import by fingerprint, and nothing is lost meanwhile.
    with pair.south.node.engine.begin() as connection:
        connection.execute(text("UPDATE peers SET checked_at = :t"), {"t": utcnow()})
    pair.north.deliver()
    statuses = {t.id: t.status for t in pair.north.transfers("northshire")}
    assert statuses[before.id] == "delivered"  # the old key is still honoured
    assert statuses[after.id] == "queued"  # unknown key: retried, not lost

    bundle = pair.north.bundle("northshire")
    assert bundle["body"]["key_id"] == new_key
    assert len(bundle["body"]["previous_keys"]) == 1
    pair.south.import_peer(bundle)
    time.sleep(0.3)  # past the short test backoff
    pair.north.deliver()
    statuses = {t.id: t.status for t in pair.north.transfers("northshire")}
    assert statuses[after.id] == "delivered"
    assert pair.south.count("transfers") == 2


def test_rotated_out_key_is_refused_after_its_stated_end(pair: Pair) -> None:
    before = pair.send()
    rotate(pair, timedelta(seconds=1))
    pair.south.import_peer(pair.north.bundle("northshire"))  # learns the old key's end
    time.sleep(1.2)
    pair.north.deliver()
    [row] = [t for t in pair.north.transfers("northshire") if t.id == before.id]
    assert row.status == "queued"  # refused (401), so retried rather than delivered
    assert pair.south.count("envelopes") == 0
    assert "401" in str(pair.north.scalar("SELECT last_error FROM outbox"))


def test_unreachable_peer_is_retried_then_failed_with_a_reason(node_factory) -> None:
    # Long enough that the first attempt comes well inside it on a loaded machine.
    north = node_factory("north", GATEWAY_DELIVERY_MAX_AGE="3")
    south = node_factory("south")
    north.create_area("northshire")
    south.create_area("south-vale")
    north.import_peer(south.bundle("south-vale"))
    south.stop()
    from gateway.devtools.samples import sample_transfer

    sent = north.send(sample_transfer("northshire", "south-vale"), "northshire", "south-vale")
    north.deliver()
    assert north.transfers("northshire")[0].status == "queued"
    assert north.scalar("SELECT attempts FROM outbox") >= 1
    deadline = time.monotonic() + 30
    while north.transfers("northshire")[0].status == "queued" and time.monotonic() < deadline:
        time.sleep(0.1)
        north.deliver()
    [row] = north.transfers("northshire")
    assert row.id == sent.id and row.status == "failed"
    assert row.failure_reason and "unreachable" in row.failure_reason


def test_permanent_refusal_fails_at_once(pair: Pair) -> None:
    # South retires the key north seals to: its refusal (422) will not change on retry.
    pair.send()
    with pair.south.node.engine.begin() as connection:
        connection.execute(
            text("UPDATE area_keys SET valid_until = :t"), {"t": utcnow() - timedelta(seconds=1)}
        )
    pair.north.deliver()
    [row] = pair.north.transfers("northshire")
    assert row.status == "failed"
    assert "422" in (row.failure_reason or "")
    assert pair.south.count("envelopes") == 0

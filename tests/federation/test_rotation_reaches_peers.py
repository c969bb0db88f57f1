"""Key rotation that reaches peers by itself, and revocation, across two real nodes on
loopback (docs/contract.md "Key rotation and revocation")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from support.nodes import Pair, RunningNode

from gateway.devtools.samples import sample_transfer
from gateway.domain.areas import local_areas, peers
from gateway.domain.clock import utcnow
from gateway.errors import Conflict
from gateway.worker import refresh_bundles
from keys import AreaSecretKeys, b64url_encode, fingerprint, sign_document


def rotate(node: RunningNode, code: str = "northshire") -> tuple[str, str]:
    with node.node.sessions() as session:
        old, new, _until = local_areas.rotate_keys(
            session, node.node.master, code, grace=timedelta(days=30), now=utcnow()
        )
    return old, new


def revoke_own(node: RunningNode, key_id: str, code: str = "northshire") -> str | None:
    with node.node.sessions() as session:
        return local_areas.revoke_key(session, node.node.master, code, key_id, now=utcnow())


def south_view(pair: Pair) -> peers.PeerView:
    with pair.south.node.sessions() as session, session.begin():
        return peers.peer_view(session, "northshire")


def actions_on(node: RunningNode, action: str) -> int:
    return int(node.scalar("SELECT count(*) FROM audit_events WHERE action = :a", a=action))


def make_due(node: RunningNode) -> None:
    """As if the peer were imported and last fetched longer ago than GATEWAY_BUNDLE_REFRESH."""
    with node.node.engine.begin() as connection:
        connection.execute(
            text("UPDATE peers SET imported_at = :t, checked_at = NULL"),
            {"t": utcnow() - timedelta(hours=5)},
        )


def statuses(pair: Pair) -> dict[str, str]:
    return {t.id: t.status for t in pair.north.transfers("northshire")}


def test_a_rotation_reaches_the_peer_on_its_first_unknown_key(pair: Pair) -> None:
    before = pair.send()  # signed by the old key, still in the outbox
    old_key, new_key = rotate(pair.north)
    after = pair.send()  # signed by the new key, which south has not pinned
    back = pair.south.send(sample_transfer("south-vale", "northshire"), "south-vale", "northshire")

    pair.north.deliver()  # south answers the new key 401, fetches, pins, accepts
    assert statuses(pair) == {before.id: "delivered", after.id: "delivered"}
    view = south_view(pair)
    published = pair.north.bundle("northshire")
    assert view.fingerprint == fingerprint(published["body"])
    assert set(view.key_ids) == {old_key, new_key} and view.rotated_at is not None
    assert view.pending_fingerprint is None
    assert actions_on(pair.south, "peer.keys_rotated") == 1

    pair.south.deliver()  # sealed to the old key, still in its grace: opens on north
    assert {t.id: t.status for t in pair.south.transfers("south-vale")}[back.id] == "delivered"
    # Nothing lost or duplicated, and nothing left to send.
    assert pair.south.count("envelopes") == 3 and pair.north.count("envelopes") == 3
    assert pair.south.count("transfers") == 3
    assert pair.north.deliver() == 0 and pair.south.deliver() == 0


def test_the_scheduled_fetch_picks_up_a_rotation(pair: Pair) -> None:
    _old, new_key = rotate(pair.north)
    assert refresh_bundles(pair.south.node) == {}  # imported moments ago: not yet due
    make_due(pair.south)
    assert refresh_bundles(pair.south.node) == {"northshire": "rotated"}
    assert new_key in south_view(pair).key_ids
    assert refresh_bundles(pair.south.node) == {}  # fetched just now
    # A later fetch of the same bundle changes nothing and audits nothing more.
    with pair.south.node.sessions() as session:
        refreshed = peers.accept_fetched(
            session, "northshire", pair.north.bundle("northshire"), utcnow()
        )
    assert refreshed.outcome == "unchanged"
    assert actions_on(pair.south, "peer.keys_rotated") == 1


def test_a_bundle_the_pinned_key_did_not_sign_waits_for_the_fingerprint(
    pair: Pair, node_factory
) -> None:
    # An impostor holding the area's code, its own keys, and a rotation of its own keys.
    impostor = node_factory("impostor")
    impostor.create_area("northshire")
    rotate(impostor)
    forged = impostor.bundle("northshire")
    assert forged["body"]["rotations"]  # endorsed, but by a key south never pinned
    pinned = south_view(pair).fingerprint
    with pair.south.node.sessions() as session:
        refreshed = peers.accept_fetched(session, "northshire", forged, utcnow())
    assert refreshed.outcome == "waiting" and refreshed.revoked == ()
    view = south_view(pair)
    assert view.fingerprint == pinned
    assert view.pending_fingerprint == fingerprint(forged["body"])
    assert not set(view.key_ids) & {forged["body"]["key_id"]}
    assert actions_on(pair.south, "peer.bundle_waiting") == 1
    # Nothing signed by the impostor's keys is accepted.
    sent = pair.send()
    pair.north.deliver()
    assert statuses(pair)[sent.id] == "delivered"  # the real north still gets through


def test_a_revoked_key_endorses_nothing_and_is_refused_at_once(pair: Pair) -> None:
    in_flight = pair.send()  # signed by the key about to be revoked
    old_key = south_view(pair).key_ids[0]
    new_key = revoke_own(pair.north, old_key)
    assert new_key is not None
    published = pair.north.bundle("northshire")
    assert "rotations" not in published["body"]  # a revoked key endorses no successor
    assert [r["body"]["key_id"] for r in published["body"]["revocations"]] == [old_key]
    after = pair.send()  # signed by the new key

    # South's scheduled fetch: the revocation, signed by the key it revokes, takes effect
    # at once; the new key waits for its fingerprint.
    make_due(pair.south)
    assert refresh_bundles(pair.south.node) == {"northshire": "waiting"}
    pair.north.deliver()
    view = south_view(pair)
    assert [r[0] for r in view.revoked] == [old_key] and view.revoked[0][2] == "peer"
    assert view.pending_fingerprint == fingerprint(published["body"])
    now = statuses(pair)
    assert now[in_flight.id] == "failed"  # refused at once, though sent before
    [failed] = [t for t in pair.north.transfers("northshire") if t.id == in_flight.id]
    assert "revoked-key" in (failed.failure_reason or "")
    assert now[after.id] == "queued"  # unknown key: retried until confirmed by phone
    assert pair.south.count("envelopes") == 0

    # The fingerprint read out by phone brings the new key in; the queued one goes through.
    pair.south.import_peer(published)
    assert south_view(pair).pending_fingerprint is None
    with pair.north.node.engine.begin() as connection:
        connection.execute(text("UPDATE outbox SET next_attempt_at = :t"), {"t": utcnow()})
    pair.north.deliver()
    assert statuses(pair)[after.id] == "delivered"
    assert pair.south.count("envelopes") == 1


def test_an_admin_revokes_a_peers_key_and_in_flight_envelopes_are_refused(pair: Pair) -> None:
    in_flight = pair.send()
    [key_id] = south_view(pair).key_ids
    with pair.south.node.sessions() as session:
        view = peers.revoke_peer_key(session, "northshire", key_id, utcnow())
    assert view.revoked[0][0] == key_id and view.revoked[0][2] == "admin"
    with pair.south.node.sessions() as session, pytest.raises(Conflict):
        peers.revoke_peer_key(session, "northshire", key_id, utcnow())
    assert actions_on(pair.south, "peer.key_revoked") == 1

    pair.north.deliver()
    [row] = pair.north.transfers("northshire")
    assert row.id == in_flight.id and row.status == "failed"
    assert "422" in (row.failure_reason or "") and "revoked-key" in (row.failure_reason or "")
    assert pair.south.count("envelopes") == 0
    # Its own bundle, signed by the revoked key, cannot bring the key back.
    with pair.south.node.sessions() as session:
        refreshed = peers.accept_fetched(
            session, "northshire", pair.north.bundle("northshire"), utcnow()
        )
    assert refreshed.outcome == "unchanged"
    assert south_view(pair).revoked[0][0] == key_id


def thiefs_bundle(pair: Pair, stolen: AreaSecretKeys | None) -> dict[str, Any]:
    """A bundle for northshire under a thief's own key, its rotation statement signed by
    the stolen key (or, without one, by the thief's key posing as the pinned one)."""
    thief = AreaSecretKeys.generate("northshire")
    body = dict(pair.north.bundle("northshire")["body"])
    body.update(
        key_id=thief.key_id,
        signing_key=b64url_encode(thief.signing_public),
        encryption_key=b64url_encode(thief.encryption_public),
        previous_keys=[],
    )
    body.pop("revocations", None)
    statement = {
        "kind": "key_rotation",
        "area": "northshire",
        "from_key": south_view(pair).key_ids[0],
        "to_key": thief.key_id,
        "signing_key": body["signing_key"],
        "encryption_key": body["encryption_key"],
    }
    body["rotations"] = [sign_document(statement, stolen or thief)]
    return sign_document(body, thief)


def test_a_forged_or_stolen_endorsement_is_not_accepted(pair: Pair) -> None:
    with pair.south.node.sessions() as session:
        forged = peers.accept_fetched(session, "northshire", thiefs_bundle(pair, None), utcnow())
    assert forged.outcome == "waiting"

    # A thief holding the pinned key could endorse a key of their own, until the area
    # revokes it: once south has the revocation, the stolen key endorses nothing.
    with pair.north.node.sessions() as session, session.begin():
        stolen = local_areas.current_secret_keys(
            session, pair.north.node.master, "northshire", utcnow()
        )
    revoke_own(pair.north, stolen.key_id)
    with pair.south.node.sessions() as session:
        fetched = peers.accept_fetched(
            session, "northshire", pair.north.bundle("northshire"), utcnow()
        )
    assert fetched.revoked == (stolen.key_id,)
    with pair.south.node.sessions() as session:
        theft = peers.accept_fetched(session, "northshire", thiefs_bundle(pair, stolen), utcnow())
    assert theft.outcome == "waiting"
    assert south_view(pair).fingerprint != fingerprint(thiefs_bundle(pair, stolen)["body"])

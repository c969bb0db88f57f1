"""The receiver checks the audit evidence an envelope carries before it stores anything.

Each envelope here is sealed the normal way on north (a real send, then its stored body);
only its `evidence` member is altered, which sits outside the envelope signature. It is then
POSTed to south's real endpoint with a fresh, valid request token, so the evidence is the
only thing wrong with it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from support.audit_world import (
    NORTH,
    SOUTH,
    RunningNode,
    World,
    checkpoint_document,
    column,
    leaves,
    perfect_nodes,
    raw_leaves,
    secret_keys,
    verify_area,
)

from gateway.devtools.samples import sample_transfer
from gateway.domain.areas import local_areas
from gateway.domain.audit import checkpoints
from gateway.domain.clock import utcnow
from keys import (
    AreaSecretKeys,
    CryptoError,
    b64url_decode,
    b64url_encode,
    canonical_json,
    issue_request_token,
    sign_document,
)
from keys.merkle import inclusion_proof, leaf_hash, root_from_nodes

PATH = "/federation/v1/envelopes"
SOUTH_TABLES = (
    "envelopes",
    "transfers",
    "audit_events",
    "audit_salts",
    "peer_checkpoints",
    "used_tokens",
)

Wire = dict[str, Any]


def sealed_on_north(world: World, victim: str = "Evi") -> Wire:
    """A fresh transfer, sealed and queued by north (not delivered), as north stored it
    once its evidence is attached (as the worker's claim does before posting it)."""
    sent = world.north.send(sample_transfer(NORTH, SOUTH, victim=victim), NORTH, SOUTH)
    assert world.north.prove_queued() == 1
    body = world.north.scalar(
        "SELECT body FROM envelopes WHERE envelope_id = :e AND area_code = :a",
        e=sent.envelope_id,
        a=NORTH,
    )
    wire: Wire = json.loads(body)
    assert wire["evidence"]["leaf"]["objects"]["envelope"] == sent.envelope_id
    return wire


def post(world: World, wire: Wire) -> httpx.Response:
    """POST to south with a fresh token from north's real key, bound to this very body."""
    body = canonical_json(wire)
    keys = secret_keys(world.north, NORTH)
    token = issue_request_token(
        keys, audience=SOUTH, method="POST", url=world.south.url + PATH, body=body
    )
    return httpx.post(
        world.south.url + PATH,
        content=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        timeout=10,
    )


def south_state(south: RunningNode) -> dict[str, Any]:
    return {table: south.count(table) for table in SOUTH_TABLES}


def assert_refused(response: httpx.Response, slug: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert problem["type"].endswith("/" + slug), problem


# --- mutations of the evidence --------------------------------------------------------------


def _flip(b64: str) -> str:
    raw = bytearray(b64url_decode(b64))
    raw[0] ^= 0x80
    return b64url_encode(bytes(raw))


def flip_proof_hash(world: World, evidence: Wire) -> None:
    evidence["proof"][0] = _flip(evidence["proof"][0])


def drop_proof_hash(world: World, evidence: Wire) -> None:
    evidence["proof"].pop()


def leaf_for_other_envelope(world: World, evidence: Wire) -> None:
    evidence["leaf"]["objects"]["envelope"] = str(uuid.uuid4())


def leaf_with_other_digest(world: World, evidence: Wire) -> None:
    evidence["leaf"]["envelope_digest"] = hashlib.sha256(b"other").hexdigest()


def leaf_with_other_seq(world: World, evidence: Wire) -> None:
    evidence["leaf"]["seq"] -= 1


def leaf_and_index_moved(world: World, evidence: Wire) -> None:
    evidence["leaf"]["seq"] -= 1
    evidence["index"] -= 1


def leaf_content_changed(world: World, evidence: Wire) -> None:
    evidence["leaf"]["consent"] = "given"
    evidence["leaf"]["legal_basis"] = []


def leaf_for_other_recipient(world: World, evidence: Wire) -> None:
    evidence["leaf"]["peer_area"] = "elsewhere"


def unpinned_key(world: World, evidence: Wire) -> None:
    impostor = AreaSecretKeys.generate(NORTH)
    body = evidence["checkpoint"]["body"]
    evidence["checkpoint"] = checkpoint_document(
        impostor, NORTH, body["size"], b64url_decode(body["root"])
    )


def impostor_signature_under_the_real_key_id(world: World, evidence: Wire) -> None:
    impostor = AreaSecretKeys.generate(NORTH)
    evidence["checkpoint"] = {
        "body": evidence["checkpoint"]["body"],
        "sig": sign_document(evidence["checkpoint"]["body"], impostor)["sig"],
    }


def altered_signature(world: World, evidence: Wire) -> None:
    evidence["checkpoint"]["sig"] = _flip(evidence["checkpoint"]["sig"])


def wrong_root_resigned(world: World, evidence: Wire) -> None:
    body = evidence["checkpoint"]["body"]
    evidence["checkpoint"] = checkpoint_document(
        secret_keys(world.north, NORTH), NORTH, body["size"], hashlib.sha256(b"x").digest()
    )


def wrong_size_resigned(world: World, evidence: Wire) -> None:
    body = evidence["checkpoint"]["body"]
    evidence["checkpoint"] = checkpoint_document(
        secret_keys(world.north, NORTH), NORTH, body["size"] + 1, b64url_decode(body["root"])
    )


def checkpoint_of_another_area(world: World, evidence: Wire) -> None:
    body = evidence["checkpoint"]["body"]
    evidence["checkpoint"] = checkpoint_document(
        secret_keys(world.south, SOUTH), SOUTH, body["size"], b64url_decode(body["root"])
    )


def malformed(world: World, evidence: Wire) -> None:
    del evidence["proof"]


def evidence_of_another_envelope(world: World, evidence: Wire) -> None:
    """North's genuine, verifiable evidence, but for the disclosure it made just before."""
    other = sealed_on_north(world, victim="Oda")["evidence"]
    evidence.clear()
    evidence.update(other)


def reproved(change: Callable[[World, Wire], None]) -> Callable[[World, Wire], None]:
    """The leaf changed, then placed in a tree that really contains it, with a checkpoint of
    that tree signed by north's real key: proof and signature verify, so only the check
    that the leaf describes this very envelope can refuse it."""

    def mutate(world: World, evidence: Wire) -> None:
        change(world, evidence)
        index = evidence["index"]
        hashes = [hashed for _, _, hashed in raw_leaves(world.north, NORTH)[:index]]
        hashes.append(leaf_hash(canonical_json(evidence["leaf"])))
        nodes = perfect_nodes(hashes)
        proof = inclusion_proof(index, index + 1, nodes)
        evidence["proof"] = [b64url_encode(h) for h in proof]
        root = root_from_nodes(index + 1, nodes)
        keys = secret_keys(world.north, NORTH)
        evidence["checkpoint"] = checkpoint_document(keys, NORTH, index + 1, root)

    return mutate


def leaf_from_another_sender(world: World, evidence: Wire) -> None:
    evidence["leaf"]["area"] = "elsewhere"


MUTATIONS: dict[str, Callable[[World, Wire], None]] = {
    "flip-proof-hash": flip_proof_hash,
    "drop-proof-hash": drop_proof_hash,
    "leaf-for-other-envelope": leaf_for_other_envelope,
    "leaf-with-other-digest": leaf_with_other_digest,
    "leaf-with-other-seq": leaf_with_other_seq,
    "leaf-and-index-moved": leaf_and_index_moved,
    "leaf-content-changed": leaf_content_changed,
    "leaf-for-other-recipient": leaf_for_other_recipient,
    "checkpoint-by-unpinned-key": unpinned_key,
    "checkpoint-impostor-signature": impostor_signature_under_the_real_key_id,
    "checkpoint-signature-altered": altered_signature,
    "checkpoint-wrong-root": wrong_root_resigned,
    "checkpoint-wrong-size": wrong_size_resigned,
    "checkpoint-of-another-area": checkpoint_of_another_area,
    "malformed": malformed,
    "evidence-of-another-envelope": evidence_of_another_envelope,
    "reproved-leaf-for-other-envelope": reproved(leaf_for_other_envelope),
    "reproved-leaf-with-other-digest": reproved(leaf_with_other_digest),
    "reproved-leaf-with-other-seq": reproved(leaf_with_other_seq),
    "reproved-leaf-for-other-recipient": reproved(leaf_for_other_recipient),
    "reproved-leaf-from-another-sender": reproved(leaf_from_another_sender),
}


def test_reproved_evidence_is_itself_valid(world: World) -> None:
    """The control for the `reproved-*` cases: re-proving an unchanged leaf rebuilds exactly
    the evidence north sent, so what refuses those cases is the leaf check alone."""
    wire = sealed_on_north(world)
    again = copy.deepcopy(wire["evidence"])
    reproved(lambda world, evidence: None)(world, again)
    assert again["proof"] == wire["evidence"]["proof"]
    assert again["checkpoint"]["body"]["root"] == wire["evidence"]["checkpoint"]["body"]["root"]
    assert post(world, {**wire, "evidence": again}).status_code == 202


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_bad_evidence_is_refused_and_nothing_is_stored(world: World, mutation: str) -> None:
    wire = sealed_on_north(world)
    bad = copy.deepcopy(wire)
    MUTATIONS[mutation](world, bad["evidence"])
    assert bad["evidence"] != wire["evidence"]
    before = south_state(world.south)
    south_log = raw_leaves(world.south, SOUTH)

    assert_refused(post(world, bad), "bad-evidence")

    assert south_state(world.south) == before
    assert raw_leaves(world.south, SOUTH) == south_log
    # The very same envelope with its evidence intact is accepted: only the evidence was bad.
    assert post(world, wire).status_code == 202
    assert world.south.count("envelopes") == before["envelopes"] + 1


def test_an_envelope_without_evidence_is_accepted_and_logged_as_such(world: World) -> None:
    wire = sealed_on_north(world)
    del wire["evidence"]
    held = world.south.count("peer_checkpoints")

    response = post(world, wire)

    assert response.status_code == 202, response.text
    received = leaves(world.south, SOUTH)[-1]
    assert received["action"] == "envelope.received"
    assert received["objects"]["envelope"] == wire["id"]
    assert received["details"]["evidence"] == "absent"
    assert "sender_log_size" not in received["details"]
    assert world.south.count("peer_checkpoints") == held
    assert verify_area(world.south, SOUTH).ok


def test_verified_evidence_is_logged_and_its_checkpoint_kept(world: World) -> None:
    wire = sealed_on_north(world)
    response = post(world, wire)
    assert response.status_code == 202, response.text
    received = leaves(world.south, SOUTH)[-1]
    assert received["details"]["evidence"] == "verified"
    size = wire["evidence"]["checkpoint"]["body"]["size"]
    assert received["details"]["sender_log_size"] == size
    assert received["details"]["sender_seq"] == wire["evidence"]["index"]
    assert size in column(world.south, "SELECT size FROM peer_checkpoints")


def test_a_second_checkpoint_of_a_held_size_with_another_root_is_a_fork(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """South holds north's signed checkpoint of size 8. North (its real key) now presents
    evidence placing a new disclosure at entry 7 of a different tree of size 8."""
    assert 8 in column(world.south, "SELECT size FROM peer_checkpoints")
    wire = sealed_on_north(world)
    evidence = wire["evidence"]
    leaf = {**evidence["leaf"], "seq": 7}
    hashes = [hashed for _, _, hashed in raw_leaves(world.north, NORTH)[:7]]
    hashes.append(leaf_hash(canonical_json(leaf)))
    nodes = perfect_nodes(hashes)
    forked_root = root_from_nodes(8, nodes)
    held_root = world.south.scalar(
        "SELECT root FROM peer_checkpoints WHERE peer_area = :p AND size = 8", p=NORTH
    )
    assert bytes(held_root) != forked_root
    wire["evidence"] = {
        "v": 1,
        "leaf": leaf,
        "index": 7,
        "proof": [b64url_encode(h) for h in inclusion_proof(7, 8, nodes)],
        "checkpoint": checkpoint_document(secret_keys(world.north, NORTH), NORTH, 8, forked_root),
    }
    before = south_state(world.south)
    caplog.set_level(logging.ERROR, logger="gateway.audit")

    assert_refused(post(world, wire), "audit-fork")

    assert south_state(world.south) == before
    assert any("fork" in record.getMessage() for record in caplog.records)


def test_a_checkpoint_signed_by_a_retired_sender_key_is_refused(world: World) -> None:
    """After a rotation the old key verifies only until the end of its grace period
    (DESIGN section 4); a checkpoint it signs after that is not evidence."""
    north, south = world.north, world.south
    with north.node.sessions() as session:
        old, new, _ = local_areas.rotate_keys(
            session, north.node.master, NORTH, grace=timedelta(days=30), now=utcnow()
        )
    south.import_peer(north.bundle(NORTH))
    with south.node.engine.begin() as connection:  # the grace period has run out
        connection.execute(
            text("UPDATE peer_keys SET valid_until = :t WHERE key_id = :k"),
            {"t": utcnow() - timedelta(days=1), "k": old},
        )
    wire = sealed_on_north(world)
    assert wire["from"]["key"] == new
    with north.node.sessions() as session, session.begin():
        retired = local_areas.secret_keys_by_id(session, north.node.master, old)
    body = wire["evidence"]["checkpoint"]["body"]
    wire["evidence"]["checkpoint"] = checkpoint_document(
        retired, NORTH, body["size"], b64url_decode(body["root"])
    )
    before = south_state(south)

    assert_refused(post(world, wire), "bad-evidence")

    assert south_state(south) == before


def outbound_wire(world: World, envelope_id: str) -> Wire:
    body = world.north.scalar("SELECT body FROM envelopes WHERE envelope_id = :e", e=envelope_id)
    return dict(json.loads(body))


def test_envelopes_proved_together_share_a_checkpoint_and_a_tampered_proof_is_refused(
    world: World,
) -> None:
    """Two disclosures proved in one go (as one claim of the worker does): one checkpoint,
    whose tree ends after the first envelope's leaf; each proof still verifies on its own,
    and a tampered one is refused."""
    sent = [
        world.north.send(sample_transfer(NORTH, SOUTH, victim=name), NORTH, SOUTH)
        for name in ("Evi", "Fay")
    ]
    checkpoints_before = world.north.count("audit_checkpoints")
    assert world.north.prove_queued() == 2
    assert world.north.count("audit_checkpoints") == checkpoints_before + 1
    first, second = (outbound_wire(world, view.envelope_id) for view in sent)
    assert first["evidence"]["checkpoint"] == second["evidence"]["checkpoint"]
    size = first["evidence"]["checkpoint"]["body"]["size"]
    assert first["evidence"]["index"] + 1 < size
    assert second["evidence"]["index"] + 1 == size
    bad = copy.deepcopy(first)
    flip_proof_hash(world, bad["evidence"])
    before = south_state(world.south)

    assert_refused(post(world, bad), "bad-evidence")

    assert south_state(world.south) == before
    assert post(world, first).status_code == 202
    assert post(world, second).status_code == 202
    # The shared checkpoint is kept once.
    assert world.south.count("peer_checkpoints") == before["peer_checkpoints"] + 1
    assert verify_area(world.south, SOUTH).ok


def test_a_verified_checkpoint_is_not_verified_again_but_its_key_is_checked_each_time(
    world: World,
) -> None:
    document = sealed_on_north(world)["evidence"]["checkpoint"]
    south = world.south
    with south.node.sessions() as session, session.begin():
        first = checkpoints.verify_peer_checkpoint(session, document, NORTH, utcnow())
        again = checkpoints.verify_peer_checkpoint(
            session, copy.deepcopy(document), NORTH, utcnow()
        )
    assert again is first  # the process remembers it: the signature was checked once
    with south.node.engine.begin() as connection:  # the key's end has passed since
        connection.execute(
            text("UPDATE peer_keys SET valid_until = :t WHERE key_id = :k"),
            {"t": utcnow() - timedelta(days=1), "k": document["body"]["key"]},
        )
    with south.node.sessions() as session, session.begin(), pytest.raises(CryptoError):
        checkpoints.verify_peer_checkpoint(session, document, NORTH, utcnow())

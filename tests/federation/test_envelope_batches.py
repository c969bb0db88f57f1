"""Bursts travel as envelope batches (docs/contract.md, "Envelope batches") between real
nodes over real HTTP: one authenticated POST for several envelopes, each still verified on
its own and answered with its own receipt or refusal; older peers get one POST each; and a
committed outbox row wakes an idle worker at once (the poll is only the safety net)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import text
from support.nodes import Pair, RunningNode

from gateway.domain.areas import peers
from gateway.domain.areas.local_areas import secret_keys_by_id
from gateway.domain.clock import utcnow
from gateway.domain.federation.posting import BATCH_SEND
from gateway.worker import run_worker
from keys import (
    b64url_decode,
    canonical_json,
    fingerprint,
    issue_request_token,
    sign_document,
    verify_document,
)
from schemas.wire.envelope import BATCH_MAX_ENVELOPES, ENVELOPE_BATCHES_PATH

# A full batch and five more: two POSTs however large a batch the sender fills.
BURST = BATCH_SEND + 5


def outbound_bodies(node: RunningNode) -> list[str]:
    with node.node.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT body FROM envelopes WHERE direction = 'outbound' ORDER BY pk")
        )
        return [str(row[0]) for row in rows]


def post_batch(pair: Pair, bodies: list[str]) -> httpx.Response:
    """POST a batch as the northshire node would: signed request token over the body."""
    url = pair.south.url + ENVELOPE_BATCHES_PATH
    body = ('{"envelopes":[' + ",".join(bodies) + "]}").encode("ascii")
    key_id = json.loads(bodies[0])["from"]["key"]
    with pair.north.node.sessions() as session, session.begin():
        keys = secret_keys_by_id(session, pair.north.node.master, key_id)
    assert keys is not None
    token = issue_request_token(keys, audience="south-vale", method="POST", url=url, body=body)
    return httpx.post(
        url,
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )


def south_key(pair: Pair) -> bytes:
    return b64url_decode(pair.south.bundle("south-vale")["body"]["signing_key"])


def delivered(node: RunningNode) -> int:
    return int(node.scalar("SELECT count(*) FROM outbox WHERE status = 'delivered'"))


def test_a_burst_travels_in_batches_and_each_envelope_is_stored_once(pair: Pair) -> None:
    # The receiver's bundle offers the exchange; the sender learnt it on import.
    assert pair.south.bundle("south-vale")["body"]["exchanges"] == {"envelope_batch": [1]}
    for _ in range(BURST):
        pair.send()
    assert pair.north.deliver() == BURST

    assert delivered(pair.north) == BURST
    assert pair.south.count("envelopes") == BURST
    # Each POST spends one request token: the burst went as two batches (a full one and
    # the five left over), not one POST per envelope.
    assert pair.south.count("used_tokens") == 2
    for transfer in pair.north.transfers("northshire"):
        assert transfer.status == "delivered"
        receipt = json.loads(
            pair.north.scalar(
                "SELECT receipt FROM envelopes WHERE envelope_id = :id", id=transfer.envelope_id
            )
        )
        body = verify_document(receipt, "receipt", south_key(pair))
        assert body["envelope_id"] == transfer.envelope_id


def test_one_tampered_envelope_is_refused_alone_and_the_others_are_stored_once(
    pair: Pair,
) -> None:
    for _ in range(3):
        pair.send()
    bodies = outbound_bodies(pair.north)
    tampered = json.loads(bodies[1])
    tampered["created_at"] = "2020-01-01T00:00:00Z"  # header covered by the signature
    batch = [bodies[0], canonical_json(tampered).decode("ascii"), bodies[2]]

    first = post_batch(pair, batch)
    assert first.status_code == 200, first.text
    results = first.json()["results"]
    assert [r["status"] for r in results] == [202, 422, 202]
    assert [r["id"] for r in results] == [json.loads(b)["id"] for b in batch]
    assert results[1]["problem"]["status"] == 422 and "receipt" not in results[1]
    for answer in (results[0], results[2]):
        verify_document(answer["receipt"], "receipt", south_key(pair))
    assert pair.south.count("envelopes") == 2

    # The same batch again (a retry after a lost answer): the identical receipts, nothing
    # stored twice, the tampered one refused again.
    again = post_batch(pair, batch).json()["results"]
    assert [r["status"] for r in again] == [200, 422, 200]
    assert again[0]["receipt"] == results[0]["receipt"]
    assert again[2]["receipt"] == results[2]["receipt"]
    assert pair.south.count("envelopes") == 2

    # The sender's worker then delivers its own three (the real second one included):
    # two are answered as duplicates, each envelope is stored exactly once.
    assert pair.north.deliver() == 3
    assert delivered(pair.north) == 3
    assert pair.south.count("envelopes") == 3
    ids = {json.loads(b)["id"] for b in bodies}
    stored = pair.south.scalar("SELECT count(DISTINCT envelope_id) FROM envelopes")
    assert stored == len(ids) == 3


def test_batch_requests_are_bounded_and_authenticated(pair: Pair) -> None:
    pair.send()
    [body] = outbound_bodies(pair.north)
    too_many = post_batch(pair, [body] * (BATCH_MAX_ENVELOPES + 1))
    assert too_many.status_code == 413
    assert too_many.headers["Content-Type"].startswith("application/problem+json")
    url = pair.south.url + ENVELOPE_BATCHES_PATH
    unsigned = httpx.post(
        url, content=b'{"envelopes":[]}', headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401
    huge = httpx.post(
        url,
        content=b" " * (5 * 1024 * 1024),
        headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
    )
    assert huge.status_code == 413
    assert pair.south.count("envelopes") == 0


def older_bundle(node: RunningNode, code: str) -> dict[str, Any]:
    """The bundle a node on the release before batches publishes: `accepts`, no
    `exchanges` (signed by the area's own key, as that node would)."""
    bundle = node.bundle(code)
    body = {k: v for k, v in bundle["body"].items() if k != "exchanges"}
    with node.node.sessions() as session, session.begin():
        keys = secret_keys_by_id(session, node.node.master, body["key_id"])
    assert keys is not None
    return dict(sign_document(body, keys))


def test_an_older_peer_without_the_exchange_gets_one_post_per_envelope(
    node_factory: Callable[..., RunningNode],
) -> None:
    north, south = node_factory("north"), node_factory("south")
    north.create_area("northshire")
    south.create_area("south-vale")
    south.import_peer(north.bundle("northshire"))
    bundle = older_bundle(south, "south-vale")
    assert "exchanges" not in bundle["body"]
    with north.node.sessions() as session:
        peers.import_peer(session, bundle, fingerprint(bundle["body"]), utcnow())
    pair = Pair(north, south)
    for _ in range(6):
        pair.send()
    assert north.deliver() == 6
    assert south.count("envelopes") == 6
    assert south.count("used_tokens") == 6  # one POST per envelope, none batched


def wait_until(condition: Callable[[], bool], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_an_idle_worker_with_a_long_poll_is_woken_by_a_committed_transfer(
    node_factory: Callable[..., RunningNode],
) -> None:
    north = node_factory("north", GATEWAY_WORKER_POLL="30")
    south = node_factory("south")
    north.create_area("northshire")
    south.create_area("south-vale")
    south.import_peer(north.bundle("northshire"))
    north.import_peer(south.bundle("south-vale"))
    pair = Pair(north, south)
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(north.node,), kwargs={"stop": stop})
    worker.start()
    try:
        # The first is found by the worker's first look; the worker then idles on its
        # 30 s poll, and each later transfer must wake it.
        for number in range(1, 4):
            sent_at = time.monotonic()
            pair.send()
            assert wait_until(lambda n=number: delivered(north) == n, 10.0), number
            # Far inside the 30 s poll: woken, not polled.
            assert time.monotonic() - sent_at < 10.0
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
    assert south.count("envelopes") == 3


def test_an_envelope_twice_in_one_batch_is_stored_once_and_answered_twice(pair: Pair) -> None:
    """The second copy finds the first stored by the same transaction: the same receipt,
    answered as a duplicate, and one envelope, one transfer and one audit event."""
    pair.send()
    body = outbound_bodies(pair.north)[0]
    leaves = pair.south.count("audit_events")
    answer = post_batch(pair, [body, body])
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [202, 200]
    assert results[0]["receipt"] == results[1]["receipt"]
    assert pair.south.count("envelopes") == 1
    assert pair.south.count("transfers") == 1
    assert pair.south.count("audit_events") == leaves + 1

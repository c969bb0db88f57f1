"""The key cache each process keeps (pinned peer keys, URLs, its own unsealed keys) is
checked against the database's key generation in every transaction: an import, a
rotation or a revocation made by another process (here the CLI, as another gunicorn
worker would) is seen by this node's next request, with no time limit involved. Real
nodes over real HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from support.nodes import Pair, RunningNode

from gateway.devtools.samples import sample_transfer
from gateway.domain.areas import key_cache, local_areas, peers
from gateway.domain.clock import utcnow
from keys import fingerprint, issue_request_token
from schemas.wire.envelope import ENVELOPE_BATCHES_PATH


def cli(node: RunningNode, *args: str) -> str:
    """A separate process on the node's database, as another worker would be."""
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        env=node.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def newest_outbound(node: RunningNode) -> str:
    return str(
        node.scalar("SELECT body FROM envelopes WHERE direction = 'outbound' ORDER BY pk DESC")
    )


def post(sender: RunningNode, area: str, target: RunningNode, to: str, body: str) -> Any:
    """A batch of one envelope, as the sender's worker would POST it."""
    url = target.url + ENVELOPE_BATCHES_PATH
    content = ('{"envelopes":[' + body + "]}").encode("ascii")
    with sender.node.sessions() as session, session.begin():
        keys = local_areas.current_secret_keys(session, sender.node.master, area, utcnow())
    token = issue_request_token(keys, audience=to, method="POST", url=url, body=content)
    return httpx.post(
        url,
        content=content,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )


def test_a_peer_key_revoked_by_another_process_is_refused_at_the_next_request(
    pair: Pair,
) -> None:
    pair.send()
    assert pair.north.deliver() == 1  # south now holds north's key in its cache
    pair.send()
    key = json.loads(newest_outbound(pair.north))["from"]["key"]
    cli(pair.south, "peer", "revoke-key", "northshire", key, "--yes")

    refused = post(pair.north, "northshire", pair.south, "south-vale", newest_outbound(pair.north))
    assert refused.status_code in (401, 422), refused.text
    assert "revoked" in refused.text
    assert pair.south.count("envelopes") == 1


def test_a_key_rotated_by_another_process_is_used_for_the_next_send(pair: Pair) -> None:
    pair.send()  # north's current key is in north's cache
    before = json.loads(newest_outbound(pair.north))["from"]["key"]
    cli(pair.north, "keys", "rotate", "northshire")

    pair.send()
    after = json.loads(newest_outbound(pair.north))["from"]["key"]
    assert after != before
    with pair.north.node.sessions() as session:
        assert local_areas.current_key_id(session, "northshire", utcnow()) == after


def test_an_own_key_revoked_by_another_process_opens_nothing_at_the_next_request(
    pair: Pair,
) -> None:
    pair.send()
    assert pair.north.deliver() == 1  # south's own key is in south's cache, unsealed
    pair.send()
    sealed_to = json.loads(newest_outbound(pair.north))["to"]["key"]
    cli(pair.south, "keys", "revoke", "south-vale", sealed_to, "--yes")

    answer = post(pair.north, "northshire", pair.south, "south-vale", newest_outbound(pair.north))
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["results"]
    assert result["status"] == 422 and "revoked" in json.dumps(result["problem"])


def test_a_peer_imported_by_another_process_is_trusted_at_the_next_request(
    pair: Pair, node_factory: Callable[..., RunningNode], tmp_path: Path
) -> None:
    east = node_factory("east")
    east.create_area("eastdale")
    east.import_peer(pair.south.bundle("south-vale"))
    east.send(sample_transfer("eastdale", "south-vale"), "eastdale", "south-vale")
    body = newest_outbound(east)
    unknown = post(east, "eastdale", pair.south, "south-vale", body)
    assert unknown.status_code == 401, unknown.text  # south has "not pinned" cached now

    bundle = east.bundle("eastdale")
    path = tmp_path / "east.json"
    path.write_text(json.dumps(bundle))
    cli(pair.south, "peer", "import", str(path), "--fingerprint", fingerprint(bundle["body"]))

    answer = post(east, "eastdale", pair.south, "south-vale", body)
    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == [202]


def test_made_up_key_ids_do_not_grow_the_cache_without_bound(
    node_factory: Callable[..., RunningNode],
) -> None:
    node = node_factory("solo")
    node.create_area("holdshire")
    with node.node.sessions() as session, session.begin():
        for number in range(key_cache.MAX_ENTRIES + 50):
            assert peers.pinned_key(session, f"made-up-{number}") is None
        assert 0 < key_cache.held(session) <= key_cache.MAX_ENTRIES

"""`keys revoke`, `peer fetch`, `peer confirm` and `peer revoke-key`, run as real
subprocesses against two running nodes (docs/contract.md "Key rotation and revocation")."""

from __future__ import annotations

import re
import subprocess
import sys

from support.nodes import Pair, RunningNode

CLI = [sys.executable, "-m", "gateway.cli"]
FINGERPRINT = re.compile(r"fingerprint: ((?:[0-9a-f]{4} ){15}[0-9a-f]{4})")


def run(node: RunningNode, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=node.env, input=stdin, capture_output=True, text=True, timeout=90
    )


def ok(node: RunningNode, *args: str) -> str:
    done = run(node, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def refused(node: RunningNode, *args: str, stdin: str = "") -> str:
    done = run(node, *args, stdin=stdin)
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr
    return done.stderr


def test_rotation_fetch_revocation_and_confirmation_by_phone(pair: Pair) -> None:
    rotated = ok(pair.north, "keys", "rotate", "northshire")
    new_fingerprint = FINGERPRINT.search(rotated)
    assert new_fingerprint is not None
    fetched = ok(pair.south, "peer", "fetch", "northshire")
    assert "pinned" in fetched and new_fingerprint.group(1) in fetched
    assert ok(pair.south, "peer", "fetch", "northshire").startswith("northshire: unchanged")

    # No confirmation typed: nothing is revoked.
    refused(pair.north, "keys", "revoke", "northshire", stdin="n\n")
    revoked = ok(pair.north, "keys", "revoke", "northshire", "--yes")
    phoned = FINGERPRINT.search(revoked)
    assert phoned is not None and "by phone" in revoked
    fetched = ok(pair.south, "peer", "fetch", "northshire")
    assert "revoked its key" in fetched and "waiting for the fingerprint" in fetched
    listed = ok(pair.south, "peer", "list")
    assert "revoked" in listed and f"waiting for the fingerprint: {phoned.group(1)}" in listed

    assert "does not match" in refused(
        pair.south, "peer", "confirm", "northshire", "--fingerprint", "0" * 64
    )
    confirmed = ok(pair.south, "peer", "confirm", "northshire", "--fingerprint", phoned.group(1))
    assert phoned.group(1) in confirmed
    assert "waiting" not in ok(pair.south, "peer", "list")
    refused(pair.south, "peer", "confirm", "northshire", "--fingerprint", phoned.group(1))


def test_an_admin_revokes_a_peers_key_from_the_command_line(pair: Pair) -> None:
    key_id = pair.south.scalar("SELECT key_id FROM peer_keys")
    refused(pair.south, "peer", "revoke-key", "northshire", key_id, stdin="n\n")
    assert pair.south.scalar("SELECT revoked_at FROM peer_keys") is None
    assert "refused from now on" in ok(
        pair.south, "peer", "revoke-key", "northshire", key_id, "--yes"
    )
    assert "already revoked" in refused(
        pair.south, "peer", "revoke-key", "northshire", key_id, "--yes"
    )
    assert "no pinned key" in refused(pair.south, "peer", "revoke-key", "nowhere", "x", "--yes")
    assert "not a known peer" in refused(pair.south, "peer", "fetch", "nowhere")


def test_a_key_id_that_begins_with_a_dash_is_read_as_a_key_id_not_an_option(pair: Pair) -> None:
    # Key ids are base64url, so one in 64 begins with "-" (a CI run met one).
    dashed = "-YUv48LxAbCdEfGhIjKl"
    for args in (
        ("peer", "revoke-key", "northshire", dashed, "--yes"),
        ("peer", "revoke-key", "--yes", "northshire", dashed),
        ("keys", "revoke", "south-vale", dashed, "--yes"),
    ):
        said = refused(pair.south, *args)
        assert "No such option" not in said and dashed in said, said
    assert pair.south.scalar("SELECT count(*) FROM peer_keys WHERE revoked_at IS NOT NULL") == 0
    # An option misspelt is still an option misspelt.
    assert "No such option" in refused(pair.south, "keys", "revoke", "south-vale", "--yse")

"""`transfer withdraw` and `transfer forward` at the command line of a real node: the
operator withdraws, the peer is told over real HTTP; refusals exit non-zero with a clear
message and change nothing."""

from __future__ import annotations

import json
from pathlib import Path

from support.nodes import Pair
from test_cli import cli

from gateway.devtools.samples import sample_transfer

WITHDRAW = ("--reason", "wrong_area", "--by", "Operator Canaryname", "--role", "coordinator")


def test_the_operator_withdraws_and_a_forward_without_permission_is_refused(
    pair: Pair, tmp_path: Path
) -> None:
    # The forwarding area's own sender details and consent decision (seed 004 ISP 3.4).
    own = sample_transfer("south-vale", "eastmoor")
    decision = tmp_path / "decision.json"
    decision.write_text(json.dumps({"sender": own["sender"], "consent": own["consent"]}))
    sent = pair.send()
    assert pair.north.deliver() == 1
    [received] = pair.south.transfers("south-vale")

    bad = cli(
        pair.north.env,
        "transfer",
        "withdraw",
        sent.id,
        "--reason",
        "bored",
        "--by",
        "x",
        "--role",
        "y",
    )
    assert bad.returncode == 2 and "bored" in bad.stderr  # click names the bad choice
    inbound = cli(pair.south.env, "transfer", "withdraw", received.id, *WITHDRAW)
    assert inbound.returncode == 1 and "only the sending area" in inbound.stderr

    unpermitted = cli(
        pair.south.env, "transfer", "forward", received.id, str(decision), "--to", "eastmoor"
    )
    assert unpermitted.returncode == 1 and "No permission" in unpermitted.stderr
    assert pair.south.count("outbox") == 0

    done = cli(pair.north.env, "transfer", "withdraw", sent.id, *WITHDRAW)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [sent.id, "withdrawn"]
    again = cli(pair.north.env, "transfer", "withdraw", sent.id, *WITHDRAW)
    assert again.returncode == 1 and "'withdrawn'" in again.stderr
    assert pair.north.deliver() == 1
    [received] = pair.south.transfers("south-vale")
    assert received.status == "withdrawn"

    missing = cli(pair.north.env, "transfer", "withdraw", "not-a-transfer", *WITHDRAW)
    assert missing.returncode == 1 and "No such transfer" in missing.stderr
    forward = cli(
        pair.south.env, "transfer", "forward", received.id, str(decision), "--to", "eastmoor"
    )
    assert forward.returncode == 1 and "withdrew" in forward.stderr
    for run in (done, again, inbound, forward):
        assert "Canaryname" not in run.stdout + run.stderr

"""`transfer withdraw` and `transfer forward` at the command line of a real node: the
operator withdraws, the peer is told over real HTTP; refusals exit non-zero with a clear
message and change nothing."""

from __future__ import annotations

from support.nodes import Pair
from test_cli import cli

WITHDRAW = ("--reason", "wrong_area", "--by", "Operator Canaryname", "--role", "coordinator")


def test_the_operator_withdraws_and_a_forward_without_permission_is_refused(pair: Pair) -> None:
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

    unpermitted = cli(pair.south.env, "transfer", "forward", received.id, "--to", "eastmoor")
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
    forward = cli(pair.south.env, "transfer", "forward", received.id, "--to", "eastmoor")
    assert forward.returncode == 1 and "withdrew" in forward.stderr
    for run in (done, again, inbound, forward):
        assert "Canaryname" not in run.stdout + run.stderr

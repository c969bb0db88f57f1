"""The workflow verbs of the CLI, invoked as an operator would (the real `main` group, with
the node's environment) against two real nodes: a draft
saved and sent, a chair's approval recorded for a named chair (never a stranger, never a
non-chair), meeting dates and the acknowledgement limit, an acknowledgement for a named
coordinator, and the timeline. Every refusal exits 1 with a message naming what is wrong."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from support.nodes import Pair, RunningNode

from gateway.cli import main
from gateway.devtools.samples import sample_transfer
from gateway.domain.clock import utcnow
from gateway.domain.identity import users

NORTH, SOUTH = "northshire", "south-vale"


def run(node: RunningNode, *args: str) -> Result:
    # In-process (a subprocess costs an interpreter start-up per verb); the command builds
    # its node from the environment exactly as `marac-gateway` does.
    return CliRunner().invoke(main, list(args), env=node.env)


def ok(node: RunningNode, *args: str) -> str:
    done = run(node, *args)
    assert done.exit_code == 0, (done.stderr, done.exception)
    return done.stdout


def refused(node: RunningNode, *args: str) -> str:
    done = run(node, *args)
    assert done.exit_code == 1, (done.stdout, done.stderr, done.exception)
    assert isinstance(done.exception, SystemExit)  # a clean refusal, not a crash
    return done.stderr


def person(node: RunningNode, email: str, area: str, role: str) -> None:
    with node.node.sessions() as session:
        users.add_user_role(
            session,
            node.node.master,
            email=email,
            area=area,
            role=role,
            password="Correct horse battery 42",
            now=utcnow(),
        )


def write(path: Path, value: Any) -> str:
    path.write_text(json.dumps(value), encoding="utf-8")
    return str(path)


def test_the_conversation_through_the_cli(pair: Pair, tmp_path: Path) -> None:
    north, south = pair.north, pair.south
    payload = sample_transfer(NORTH, SOUTH)
    payload["consent"]["decision_forum"] = "chair_after_meeting"
    request = write(tmp_path / "transfer.json", payload)

    made = ok(north, "transfer", "draft", request, "--from", NORTH, "--to", SOUTH)
    transfer_id, status, _ = made.split("\t")
    assert status == "draft"
    assert north.count("outbox") == 0
    assert ok(north, "transfer", "send-draft", transfer_id).split("\t")[1] == "awaiting_approval"
    assert "not a draft" in refused(north, "transfer", "send-draft", transfer_id)

    # Approval names a chair of the transfer's area; nobody else will do.
    assert "No user" in refused(north, "transfer", "approve", transfer_id, "--chair", "x@n.example")
    person(north, "coord@n.example", NORTH, "coordinator")
    stranger = refused(north, "transfer", "approve", transfer_id, "--chair", "coord@n.example")
    assert "not a chair of northshire" in stranger
    assert north.count("outbox") == 0
    person(north, "chair@n.example", NORTH, "chair")
    approved = ok(north, "transfer", "approve", transfer_id, "--chair", "chair@n.example")
    assert approved.split("\t")[1] == "queued"
    assert north.deliver() == 1
    [received] = south.transfers(SOUTH)

    # The receiving area's meeting dates and limit.
    meeting = utcnow().date() + timedelta(days=10)
    assert "no meeting dates" in ok(south, "area", "meetings", SOUTH)
    listed = ok(south, "area", "meetings", SOUTH, "--add", meeting.isoformat())
    assert listed.split() == [meeting.isoformat()]
    assert "ack_working_days" in refused(south, "area", "set", SOUTH, "--ack-days", "25")
    assert "limit 3 working days" in ok(south, "area", "set", SOUTH, "--ack-days", "3")
    assert "not hosted" in refused(south, "area", "set", "nowhere", "--ack-days", "3")
    deadline = ok(south, "area", "set", SOUTH, "--deadline-days", "2")
    assert "limit 3 working days, referral deadline 2 working days" in deadline

    # The acknowledgement, for a named coordinator of the receiving area.
    person(south, "coord@s.example", SOUTH, "coordinator")
    answer = {
        "status": "accepted",
        "listed_for": (meeting + timedelta(days=1)).isoformat(),
        "idva_referred": False,
        "acknowledged_by": {"name": "Ack Person", "role": "MARAC coordinator"},
    }
    wrong_day = write(tmp_path / "wrong.json", answer)
    ack = ["transfer", "acknowledge", received.id]
    assert "listed_for" in refused(south, *ack, wrong_day, "--coordinator", "coord@s.example")
    assert "no such file" in refused(south, *ack, "missing.json", "--coordinator", "c@s.example")
    answer["listed_for"] = meeting.isoformat()
    good = write(tmp_path / "ack.json", answer)
    person(south, "chair@s.example", SOUTH, "chair")
    assert "not a coordinator" in refused(south, *ack, good, "--coordinator", "chair@s.example")
    assert ok(south, *ack, good, "--coordinator", "coord@s.example").split("\t")[1] == (
        "acknowledged"
    )
    assert south.deliver() == 1

    lines = ok(north, "transfer", "timeline", transfer_id).splitlines()
    kinds = [line.split("\t")[1] for line in lines]
    assert kinds == ["draft", "awaiting_approval", "approved", "delivered", "acknowledged"]
    steps = [
        json.loads(line)
        for line in ok(south, "transfer", "timeline", received.id, "--json").splitlines()
    ]
    assert [s["kind"] for s in steps] == ["received", "acknowledged"]
    assert "No such transfer" in refused(north, "transfer", "timeline", "not-a-transfer")

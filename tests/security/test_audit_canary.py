"""Canary names in a transfer never reach the audit: not a leaf, an export line, a report,
the output of a command or the API, nor a log record; and the leaf's commitment to the
person is salted, so hashing a guessed identity does not find it.

The test can fail: the subject search is given the canary name and finds the disclosure
(so the canaries really are in the sealed records), and the commitment opens with its salt.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

import httpx
import pytest
from support.audit_world import (
    NORTH,
    SOUTH,
    Job,
    World,
    invoke,
    raw_leaves,
    rows,
    run_cli,
)

from gateway.devtools.samples import sample_transfer
from gateway.domain.audit import witness
from gateway.domain.audit.log import salt_context
from gateway.domain.clock import utcnow
from keys import b64url_encode, canonical_json
from keys.encoding import sha256

BORN = "1990-04-01"  # the sample victim's


def canaries() -> dict[str, str]:
    tag = secrets.token_hex(8)
    return {
        "victim": f"Zqxcanary{tag}",
        "perpetrator": f"Zqxperp{tag}",
        "address": f"{secrets.randbelow(90) + 10} Zqxaddr{tag} Road",
    }


def assert_absent(haystack: str | bytes, values: dict[str, str], where: str) -> None:
    text = haystack.decode("utf-8", "replace") if isinstance(haystack, bytes) else haystack
    for value in values.values():
        for needle in (value, value.encode().hex(), b64url_encode(value.encode())):
            assert needle not in text, f"canary {value!r} found in {where}"


def listen(caplog: pytest.LogCaptureFixture) -> None:
    """Everything at DEBUG (again after an in-process command, which quiets httpx)."""
    caplog.set_level(logging.DEBUG)
    for name in ("gateway", "werkzeug", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)


def test_canaries_appear_nowhere_in_the_audit(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    listen(caplog)
    north, south = world.north, world.south
    values = canaries()
    payload = sample_transfer(NORTH, SOUTH, victim=values["victim"])
    payload["perpetrators"][0]["family_name"] = values["perpetrator"]
    payload["move"]["new_address"] = values["address"]
    outputs: dict[str, str] = {}

    sent = north.send(payload, NORTH, SOUTH)
    assert north.deliver() == 1
    outputs["receipt"] = north.scalar(
        "SELECT receipt FROM envelopes WHERE envelope_id = :e", e=sent.envelope_id
    )

    span = ["--from", "2000-01-01", "--to", "2100-01-01"]
    looked_up = f"{values['victim']}\nExample\n{BORN}\n"
    export = ["audit", "export", "--area", NORTH, *span, "--format"]
    jobs = {
        "export jsonl": Job(north.env, [*export, "jsonl"]),
        "export csv": Job(north.env, [*export, "csv"]),
        "subject": Job(north.env, ["audit", "subject", "--area", NORTH], looked_up),
    }
    for name, done in zip(jobs, run_cli(list(jobs.values())), strict=True):
        assert done.returncode == 0, f"{name}: {done.stderr}"
        outputs[f"{name} stdout"], outputs[f"{name} stderr"] = done.stdout, done.stderr
    assert "Disclosures found: 1" in outputs["subject stdout"]  # it did see the canary
    assert len(outputs["export jsonl stdout"].splitlines()) > 10

    for area, node in ((NORTH, north), (SOUTH, south)):
        done = invoke(node, "audit", "report", "--area", area, *span)
        assert done.exit_code == 0, done.output
        outputs[f"report {area}"] = done.output
        done = invoke(node, "audit", "verify", "--area", area, "--json")
        assert done.exit_code == 0, done.output
        outputs[f"verify {area}"] = done.output
    listen(caplog)
    with south.node.sessions() as session:
        checked = witness.verify_peer(
            session, south.node.master, south.node.client, NORTH, utcnow()
        )
    assert checked.ok, checked.problems
    outputs["peer verification"] = json.dumps(checked.as_dict())
    for path in ("/api/v1/audit", "/api/v1/audit/verify", "/api/v1/reports/disclosures"):
        outputs[path] = httpx.get(north.url + path, params={"area": NORTH}, timeout=10).text

    for where, output in outputs.items():
        assert_absent(output, values, where)
    for node, area in ((north, NORTH), (south, SOUTH)):
        for seq, leaf, _ in raw_leaves(node, area):
            assert_absent(leaf, values, f"{area} leaf {seq}")
    assert any(record.name.startswith("werkzeug") for record in caplog.records)
    assert_absent(caplog.text, values, "the formatted log")
    for record in caplog.records:
        rendered = " ".join([record.getMessage(), repr(record.args), record.exc_text or ""])
        assert_absent(rendered, values, f"log record {record.name}")


def personal(values: dict[str, str]) -> dict[str, Any]:
    """What the leaf commits to (see gateway.domain.audit.facts)."""
    return {
        "victim": {
            "given_names": values["victim"],
            "family_name": "Example",
            "date_of_birth": BORN,
        },
        "case_ref": "DEMO-0001",
    }


def test_the_commitment_is_salted(world: World) -> None:
    north, south = world.north, world.south
    values = canaries()
    sent = north.send(sample_transfer(NORTH, SOUTH, victim=values["victim"]), NORTH, SOUTH)
    assert north.deliver() == 1

    identity = personal(values)
    guesses = {
        b64url_encode(sha256(canonical_json(identity))),
        b64url_encode(sha256(canonical_json(identity["victim"]))),
        b64url_encode(sha256(f"{values['victim']} Example {BORN}".encode())),
        b64url_encode(sha256(f"{values['victim']}|Example|{BORN}".encode())),
    }
    commitments = []
    for node, area in ((north, NORTH), (south, SOUTH)):
        [(seq, sealed)] = rows(
            node,
            "SELECT seq, sealed FROM audit_salts WHERE area_code = :a AND envelope_id = :e",
            a=area,
            e=sent.envelope_id,
        )
        [leaf] = [json.loads(leaf) for s, leaf, _ in raw_leaves(node, area) if s == seq]
        assert leaf["objects"]["envelope"] == sent.envelope_id
        commitment = leaf["commitment"]
        assert commitment not in guesses
        # With the salt (sealed under the node's master key) it opens to the person.
        salt = node.node.master.open(bytes(sealed), salt_context(area, seq))
        assert len(salt) >= 16
        assert commitment == b64url_encode(sha256(salt + canonical_json(identity)))
        commitments.append(commitment)
    # Two areas, two salts: their leaves about the same person cannot be matched up.
    assert commitments[0] != commitments[1]

"""Canary strings in the case content never surface in logs, output or any stored byte.

A transfer carries unique canaries in places that hold personal data (victim's given name,
perpetrator's family name, the new address). After it is sealed, queued, delivered and
receipted over real HTTP, the canaries must be absent from every log record (at DEBUG),
from captured stdout/stderr, and from the databases of both nodes, raw bytes included. The
receiver, and only through the real decrypt path, gets them back: so the test can fail.
"""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from support.nodes import Pair, RunningNode, stored_envelope

from gateway.devtools.samples import sample_transfer
from gateway.domain.areas.local_areas import secret_keys_by_id
from keys import open_envelope

ROUTE = ("--from", "northshire", "--to", "south-vale")


def canaries() -> dict[str, str]:
    tag = secrets.token_hex(8)
    return {
        "victim": f"Zqxcanary{tag}",
        "perpetrator": f"Zqxperp{tag}",
        "address": f"{secrets.randbelow(90) + 10} Zqxaddr{tag} Road",
    }


def needles(values: dict[str, str]) -> list[bytes]:
    """The canaries as bytes, plain and hex-encoded (PostgreSQL renders bytea as hex)."""
    found: list[bytes] = []
    for value in values.values():
        raw = value.encode("utf-8")
        found += [raw, raw.hex().encode("ascii")]
    return found


def stored_bytes(node: RunningNode) -> bytes:
    """Everything the node keeps: for SQLite every file under its home (the database, its
    -wal and -shm, anything else); for PostgreSQL every row of every table, as text."""
    if node.settings.database_url.startswith("sqlite"):
        files = sorted(path for path in node.home.rglob("*") if path.is_file())
        names = {path.name for path in files}
        assert "gateway.db" in names, names
        return b"\n".join(path.read_bytes() for path in files)
    chunks: list[bytes] = []
    with node.node.engine.connect() as connection:
        tables = connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        ).scalars()
        for table in list(tables):
            rows = connection.execute(text(f'SELECT t::text FROM "{table}" t')).scalars()  # noqa: S608
            chunks += [f"{table}: {row}".encode() for row in rows]
    assert any(chunk.startswith(b"areas: ") for chunk in chunks)
    return b"\n".join(chunks)


def assert_absent(haystack: bytes, values: dict[str, str], where: str) -> None:
    for needle in needles(values):
        assert needle not in haystack, f"canary {needle!r} found in {where}"


def canary_request(values: dict[str, str]) -> dict[str, Any]:
    payload = sample_transfer("northshire", "south-vale", victim=values["victim"])
    payload["perpetrators"][0]["family_name"] = values["perpetrator"]
    payload["move"]["new_address"] = values["address"]
    return payload


def test_canaries_never_leave_the_envelope(
    pair: Pair, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger
    for name in ("gateway", "werkzeug", "httpx", "httpcore", "sqlalchemy"):
        caplog.set_level(logging.DEBUG, logger=name)
    values = canaries()

    sent = pair.north.send(canary_request(values), "northshire", "south-vale")
    assert sent.status == "queued"
    assert pair.north.deliver() == 1
    [outbound] = pair.north.transfers("northshire")
    [inbound] = pair.south.transfers("south-vale")
    assert (outbound.status, inbound.status) == ("delivered", "received")
    for view in (outbound, inbound):
        assert_absent(json.dumps(view.as_dict()).encode(), values, "a transfer listing")

    # Logs: the records really were captured (the delivery was logged), canary-free.
    assert any(record.name == "gateway.worker" for record in caplog.records)
    assert_absent(caplog.text.encode(), values, "the formatted log")
    for record in caplog.records:
        rendered = " ".join([record.getMessage(), repr(record.args), record.exc_text or ""])
        assert_absent(rendered.encode(), values, f"log record {record.name}")
    out, err = capsys.readouterr()
    assert_absent((out + err).encode(), values, "stdout/stderr")

    # Storage: the scan does see stored text (area codes), never a canary.
    for node in (pair.north, pair.south):
        content = stored_bytes(node)
        assert b"northshire" in content and b"south-vale" in content
        assert_absent(content, values, f"the {node.name} node's storage")

    # The receiver recovers every canary through the real decrypt path.
    wire = stored_envelope(pair.south, "south-vale")
    assert wire["id"] == inbound.envelope_id
    with pair.south.node.sessions() as session, session.begin():
        keys = secret_keys_by_id(session, pair.south.node.master, wire["to"]["key"])
    assert keys is not None
    payload = open_envelope(wire, keys)
    assert payload["victim"]["given_names"] == values["victim"]
    assert payload["perpetrators"][0]["family_name"] == values["perpetrator"]
    assert payload["move"]["new_address"] == values["address"]


@pytest.mark.parametrize(
    ("field", "spoil"),
    [
        ("dash_score", lambda p, c: p.update(dash_score=99)),
        ("reason", lambda p, c: p.update(reason=c["victim"])),
        ("consent.grounds", lambda p, c: p["consent"].update(grounds=[c["perpetrator"]])),
        ("victim.date_of_birth", lambda p, c: p["victim"].update(date_of_birth=c["victim"])),
        ("move.date", lambda p, c: p["move"].update(date=c["address"])),
    ],
)
def test_cli_refusal_names_the_field_but_never_echoes_the_canary(
    pair: Pair, tmp_path: Path, field: str, spoil: Any
) -> None:
    values = canaries()
    payload = canary_request(values)
    spoil(payload, values)
    request = tmp_path / "request.json"
    request.write_text(json.dumps(payload), encoding="utf-8")

    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "transfer", "send", str(request), *ROUTE],
        env=pair.north.env,
        capture_output=True,
        timeout=60,
    )

    assert done.returncode == 1, done.stderr
    stderr = done.stderr.decode("utf-8")
    assert field.rsplit(".", 1)[-1] in stderr
    assert field in stderr
    assert_absent(done.stdout + done.stderr, values, "the CLI's output")
    assert pair.north.transfers("northshire") == []
    assert pair.north.count("envelopes") == 0
    assert pair.north.count("outbox") == 0
    assert_absent(stored_bytes(pair.north), values, "the north node's storage")

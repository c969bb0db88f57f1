"""The operator's command line, run as real subprocesses the way an operator runs it.

Refusals exit non-zero with a message naming what is wrong, and leave nothing behind.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.nodes import Pair

from gateway.app import create_app
from gateway.config import ConfigError, Settings
from gateway.devtools.samples import sample_transfer
from keys import fingerprint

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "gateway.cli"]
TIMEOUT = 90
ROUTE = ("--from", "northshire", "--to", "south-vale")
FINGERPRINT = re.compile(r"fingerprint: ((?:[0-9a-f]{4} ){15}[0-9a-f]{4})$", re.MULTILINE)


def strong_secret() -> str:
    return secrets.token_urlsafe(36)  # 48 characters


@dataclass
class CliNode:
    """A node that exists only as files and a database, driven through the CLI."""

    home: Path
    url: str
    outputs: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "GATEWAY_INSTANCE_DIR": str(self.home),
            "GATEWAY_DATABASE_URL": f"sqlite:///{self.home / 'gateway.db'}",
            "GATEWAY_MASTER_KEY_FILE": str(self.home / "master.key"),
            "GATEWAY_SECRET_KEY": strong_secret(),
            "GATEWAY_BASE_URL": self.url,
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cli(self.env, *args)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.home / "gateway.db") as connection:
            return connection.execute(sql).fetchall()


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def concurrently(
    jobs: Sequence[tuple[dict[str, str], Sequence[str]]],
) -> list[subprocess.CompletedProcess[str]]:
    """Independent commands at once (each costs an interpreter start-up, ~1.5 s)."""
    processes = [
        subprocess.Popen(
            [*CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for env, args in jobs
    ]
    done = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=TIMEOUT)
            done.append(
                subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
            )
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return done


@dataclass
class Cluster:
    north: CliNode
    south: CliNode
    spare: CliNode  # schema only: the peer-import tests run on it
    bundles: dict[str, Path]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    """Three SQLite nodes set up through the CLI: two with an area each, one bare."""
    root = tmp_path_factory.mktemp("cli")
    north = CliNode(root / "north", "http://127.0.0.1:5101")
    south = CliNode(root / "south", "http://127.0.0.1:5102")
    spare = CliNode(root / "spare", "http://127.0.0.1:5103")
    nodes = {"northshire": north, "south-vale": south}

    def each(jobs: Sequence[tuple[CliNode, Sequence[str]]]) -> list[Any]:
        done = concurrently([(node.env, args) for node, args in jobs])
        for result in done:
            assert result.returncode == 0, f"{result.args[3:]} failed: {result.stderr}"
        return done

    each([(node, ["db", "upgrade"]) for node in (north, south, spare)])
    created = each(
        [
            (node, ["area", "create", code, "--name", f"{code.title()} MARAC"])
            for code, node in nodes.items()
        ]
    )
    exported = each([(node, ["area", "export", code]) for code, node in nodes.items()])
    bundles: dict[str, Path] = {}
    for (code, node), made, export in zip(nodes.items(), created, exported, strict=True):
        node.outputs["area create"], node.outputs["area export"] = made, export
        bundles[code] = root / f"{code}.bundle.json"
        bundles[code].write_text(export.stdout, encoding="utf-8")
    return Cluster(north, south, spare, bundles)


# --- db upgrade -------------------------------------------------------------------------


def test_db_upgrade_creates_a_private_master_key_and_is_idempotent(tmp_path: Path) -> None:
    node = CliNode(tmp_path / "node", "http://127.0.0.1:5100")
    key = node.home / "master.key"

    first = node.run("db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert f"created master key {key} (mode 0600)" in first.stdout
    assert "database is up to date" in first.stdout
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_bytes()) == 32
    key_bytes = key.read_bytes()
    tables = {row[0] for row in node.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"areas", "area_keys", "peers", "envelopes", "transfers", "outbox"} <= tables
    [(version,)] = node.query("SELECT version_num FROM alembic_version")

    second = node.run("db", "upgrade")
    assert second.returncode == 0, second.stderr
    assert "created master key" not in second.stdout
    assert "database is up to date" in second.stdout
    assert key.read_bytes() == key_bytes
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert node.query("SELECT version_num FROM alembic_version") == [(version,)]

    # A master key others can read is treated as leaked: refused, not silently used.
    key.chmod(0o644)
    exposed = node.run("db", "upgrade")
    assert exposed.returncode == 1
    assert "0600" in exposed.stderr
    assert key.read_bytes() == key_bytes


# --- areas and peers --------------------------------------------------------------------


def test_area_create_prints_the_fingerprint_of_the_exported_bundle(cluster: Cluster) -> None:
    for code, node in (("northshire", cluster.north), ("south-vale", cluster.south)):
        created = node.outputs["area create"].stdout
        match = re.search(rf"^created area {code} with key (\S+)$", created, re.MULTILINE)
        assert match, created
        [printed] = FINGERPRINT.findall(created)

        export = node.outputs["area export"]
        bundle = json.loads(export.stdout)
        assert set(bundle) == {"body", "sig"}
        body = bundle["body"]
        assert (body["area"], body["url"], body["key_id"]) == (code, node.url, match.group(1))
        assert fingerprint(body) == printed
        assert FINGERPRINT.findall(export.stderr) == [printed]
        assert "fingerprint" not in export.stdout  # stdout is the bundle alone, pipeable


def test_peer_import_needs_the_confirmed_fingerprint(cluster: Cluster) -> None:
    spare = cluster.spare
    south_bundle = str(cluster.bundles["south-vale"])
    right = fingerprint(json.loads(cluster.bundles["south-vale"].read_text())["body"])
    compact = right.replace(" ", "")
    wrong = ("0" if compact[0] != "0" else "1") + compact[1:]

    refused, malformed, listed = concurrently(
        [
            (spare.env, ["peer", "import", south_bundle, "--fingerprint", wrong]),
            (spare.env, ["peer", "import", south_bundle, "--fingerprint", compact[:20]]),
            (spare.env, ["peer", "list"]),
        ]
    )
    assert refused.returncode != 0
    assert "fingerprint does not match" in refused.stderr
    assert "Not imported" in refused.stderr
    assert malformed.returncode != 0
    assert "64 hex digits" in malformed.stderr
    assert (listed.returncode, listed.stdout.strip()) == (0, "no peers")
    assert spare.query("SELECT count(*) FROM peers") == [(0,)]
    assert spare.query("SELECT count(*) FROM peer_keys") == [(0,)]

    north_bundle = cluster.bundles["northshire"]
    north_fp = fingerprint(json.loads(north_bundle.read_text())["body"])
    south_ok, north_ok = concurrently(
        [
            # Without spaces, in capitals: the same fingerprint.
            (spare.env, ["peer", "import", south_bundle, "--fingerprint", compact.upper()]),
            # With the spaces exactly as `area create` printed them.
            (spare.env, ["peer", "import", str(north_bundle), "--fingerprint", north_fp]),
        ]
    )
    assert south_ok.returncode == 0, south_ok.stderr
    assert "imported peer south-vale (South-Vale MARAC) at http://127.0.0.1:5102" in (
        south_ok.stdout
    )
    assert north_ok.returncode == 0, north_ok.stderr

    lines = spare.run("peer", "list").stdout.splitlines()
    assert [line.split("\t")[:3] for line in lines] == [
        ["northshire", "http://127.0.0.1:5101", north_fp],
        ["south-vale", "http://127.0.0.1:5102", right],
    ]


def test_keys_rotate_prints_the_new_key_id(cluster: Cluster) -> None:
    node = cluster.north
    old = json.loads(cluster.bundles["northshire"].read_text())["body"]["key_id"]

    rotated = node.run("keys", "rotate", "northshire")
    assert rotated.returncode == 0, rotated.stderr
    match = re.search(r"^rotated northshire: new key (\S+); (\S+) honoured until", rotated.stdout)
    assert match, rotated.stdout
    new = match.group(1)
    assert (match.group(2), new != old) == (old, True)

    bundle = json.loads(node.run("area", "export", "northshire").stdout)
    assert bundle["body"]["key_id"] == new
    assert [k["key_id"] for k in bundle["body"]["previous_keys"]] == [old]
    printed = re.search(r"^new fingerprint: ([0-9a-f ]{79}) ", rotated.stdout, re.MULTILINE)
    assert printed, rotated.stdout
    assert printed.group(1) == fingerprint(bundle["body"])


# --- transfers (both backends: the nodes come from conftest, the commands run here) -------


def write(tmp_path: Path, name: str, content: str | dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return str(path)


def test_transfer_send_refuses_unreadable_files(cluster: Cluster, tmp_path: Path) -> None:
    route = ["--from", "northshire", "--to", "south-vale"]
    broken, array, missing = concurrently(
        [
            (cluster.north.env, ["transfer", "send", path, *route])
            for path in (
                write(tmp_path, "broken.json", '{"schema_version": 1,'),
                write(tmp_path, "list.json", "[1, 2]"),
                str(tmp_path / "missing.json"),
            )
        ]
    )
    assert broken.returncode != 0
    assert "not valid UTF-8 JSON" in broken.stderr
    assert array.returncode != 0
    assert "expected a JSON object" in array.stderr
    assert missing.returncode != 0
    assert "no such file" in missing.stderr
    assert cluster.north.query("SELECT count(*) FROM transfers") == [(0,)]
    assert cluster.north.query("SELECT count(*) FROM envelopes") == [(0,)]


def test_transfer_send_refusals_name_the_fields_and_store_nothing(
    pair: Pair, tmp_path: Path
) -> None:
    invalid = sample_transfer("northshire", "south-vale")
    invalid["consent"]["grounds"] = []
    invalid["dash_score"] = 99
    valid = sample_transfer("northshire", "south-vale")
    send = ["transfer", "send"]
    elsewhere = ["--from", "northshire", "--to", "elsewhere"]
    refused, mismatched = concurrently(
        [
            (pair.north.env, [*send, write(tmp_path, "invalid.json", invalid), *ROUTE]),
            (pair.north.env, [*send, write(tmp_path, "valid.json", valid), *elsewhere]),
        ]
    )
    assert refused.returncode == 1
    assert "The transfer request is not valid." in refused.stderr
    assert re.search(r"^  consent\.grounds: ", refused.stderr, re.MULTILINE), refused.stderr
    assert re.search(r"^  dash_score: ", refused.stderr, re.MULTILINE), refused.stderr
    assert refused.stdout == ""
    assert mismatched.returncode == 1
    assert "names different areas" in mismatched.stderr
    assert re.search(r"^  to_area: ", mismatched.stderr, re.MULTILINE), mismatched.stderr
    assert not re.search(r"^  from_area: ", mismatched.stderr, re.MULTILINE)

    listed = cli(pair.north.env, "transfer", "list", "--area", "northshire")
    assert (listed.returncode, listed.stdout) == (0, ""), listed.stderr
    for table in ("transfers", "envelopes", "outbox"):
        assert pair.north.count(table) == 0, table


def test_transfer_list_prints_one_line_per_transfer(pair: Pair, tmp_path: Path) -> None:
    env = pair.north.env
    request = write(tmp_path, "request.json", sample_transfer("northshire", "south-vale"))
    route = ["--from", "northshire", "--to", "south-vale"]
    sent: dict[str, str] = {}
    for done in concurrently([(env, ["transfer", "send", request, *route])] * 2):
        assert done.returncode == 0, done.stderr
        match = re.fullmatch(r"(\S+)\tqueued\tenvelope (\S+)\n", done.stdout)
        assert match, done.stdout
        sent[match.group(1)] = match.group(2)
    assert len(sent) == 2

    listed, as_json, unknown = concurrently(
        [
            (env, ["transfer", "list", "--area", "northshire"]),
            (env, ["transfer", "list", "--area", "northshire", "--json"]),
            (env, ["transfer", "list", "--area", "nowhere"]),
        ]
    )
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert sorted(lines) == sorted(f"{tid}\toutbound\tsouth-vale\tqueued" for tid in sent)

    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {row["id"]: row["envelope_id"] for row in rows} == sent
    # Metadata only: nothing of the case content is listed.
    assert {frozenset(row) for row in rows} == {
        frozenset(
            {
                "id",
                "envelope_id",
                "direction",
                "status",
                "from_area",
                "to_area",
                "created_at",
                "updated_at",
                "delivered_at",
                "failure_reason",
                "listed_for",
                "restricted",
            }
        )
    }
    assert unknown.returncode == 1
    assert "not hosted on this node" in unknown.stderr


# --- the same commands through flask, and the web app's secret --------------------------


def commands(help_text: str) -> set[str]:
    section = help_text.split("Commands:", 1)[1]
    return {line.split()[0] for line in section.splitlines() if line.strip()}


def test_flask_cli_offers_the_gateway_commands(cluster: Cluster) -> None:
    env = {**cluster.south.env, "GATEWAY_SECRET_KEY": strong_secret()}
    weak = {**env, "GATEWAY_SECRET_KEY": "change-me"}
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    export = ["area", "export", "south-vale"]
    jobs = [(flask, env, ["--help"]), (flask, env, export)]
    jobs += [(flask, weak, ["--help"]), (CLI, env, export)]
    processes = [
        subprocess.Popen(
            [*program, *args], cwd=REPO, env=env_, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for program, env_, args in jobs
    ]
    (helped, flask_export, refused, cli_export) = [
        (process.wait(timeout=TIMEOUT), *(out.decode() for out in process.communicate()))
        for process in processes
    ]

    assert helped[0] == 0, helped[2]
    assert {"transfer", "peer", "area", "db", "keys", "worker"} <= commands(helped[1])
    assert "Traceback" not in helped[2]
    # Same command, same database, same answer as marac-gateway.
    assert (flask_export[0], cli_export[0]) == (0, 0), flask_export[2] + cli_export[2]
    assert flask_export[1] == cli_export[1]  # Ed25519 signatures are deterministic
    assert json.loads(flask_export[1])["body"]["area"] == "south-vale"
    # With a weak secret the app is not built, so its commands are not there.
    assert "GATEWAY_SECRET_KEY is missing or weak" in refused[2]
    assert "transfer" not in commands(refused[1])


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    env = {
        "GATEWAY_INSTANCE_DIR": str(tmp_path / "instance"),
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'instance' / 'gateway.db'}",
        **{k: str(v) for k, v in overrides.items() if v is not None},
    }
    return Settings.from_env(env)


@pytest.mark.parametrize(
    "secret",
    [None, "", "short", "a" * 64, "abababababababababababababababababababab", "0123456789" * 3],
)
def test_web_app_refuses_a_weak_secret_outside_development(
    tmp_path: Path, secret: str | None
) -> None:
    weak = settings(tmp_path, GATEWAY_SECRET_KEY=secret)
    assert weak.environment == "production"
    with pytest.raises(ConfigError, match="GATEWAY_SECRET_KEY"):
        weak.check_web()
    with pytest.raises(ConfigError, match="GATEWAY_SECRET_KEY"):
        create_app(weak)
    # In development the same secret is tolerated.
    settings(tmp_path, GATEWAY_SECRET_KEY=secret, GATEWAY_ENV="development").check_web()


def test_web_app_starts_with_a_strong_secret_and_a_sane_lease(tmp_path: Path) -> None:
    strong = settings(tmp_path, GATEWAY_SECRET_KEY=strong_secret())
    strong.check_web()
    app = create_app(strong)
    assert app.config["SECRET_KEY"] == strong.secret_key
    app.extensions["gateway.node"].close()
    short_lease = settings(
        tmp_path,
        GATEWAY_SECRET_KEY=strong_secret(),
        GATEWAY_DELIVERY_LEASE=10,
        GATEWAY_PEER_TIMEOUT=15,
    )
    with pytest.raises(ConfigError, match="GATEWAY_DELIVERY_LEASE"):
        short_lease.check_web()

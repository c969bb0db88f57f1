"""Operating a node: readiness that means it, request ids from the caller to the worker's
delivery lines, JSON log lines, settings refused when unknown, secrets from files, and the
`db current` / `db check` / `config check` / `--version` verbs."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.nodes import Pair

from gateway.app import create_app
from gateway.config import ConfigError, Settings, unknown_variables
from gateway.devtools.samples import sample_transfer
from gateway.domain.clock import utcnow
from gateway.domain.identity import clients
from gateway.logs import JsonFormatter, request_id
from gateway.node import build_node
from keys import MasterKey

CLI = [sys.executable, "-m", "gateway"]


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def fresh_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") or "TEST" in k}
    return {
        **env,
        "GATEWAY_INSTANCE_DIR": str(home),
        "GATEWAY_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        **extra,
    }


# --- readiness --------------------------------------------------------------------------
def test_readyz_is_ok_on_a_ready_node(node_factory: Any) -> None:
    node = node_factory("north")
    node.create_area("northshire")
    answer = node.app.test_client().get("/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json == {
        "status": "ok",
        "database": "ok",
        "schema": "ok",
        "master_key": "ok",
        "area_keys": "ok",
    }


def test_readyz_refuses_an_unmigrated_database_and_a_missing_master_key(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "GATEWAY_INSTANCE_DIR": str(tmp_path / "bare"),
            "GATEWAY_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        }
    )
    node = build_node(settings)
    try:
        answer = create_app(settings, node).test_client().get("/readyz")
        assert answer.status_code == 503
        assert answer.json["schema"] == "failed"
        assert answer.json["master_key"] == "failed"
        assert str(tmp_path) not in answer.text  # details stay with the operator
    finally:
        node.close()


def test_readyz_refuses_area_keys_that_do_not_open(node_factory: Any, tmp_path: Path) -> None:
    node = node_factory("north")
    node.create_area("northshire")
    other = tmp_path / "other.key"
    MasterKey.create_file(other)
    settings = Settings.from_env(
        {
            "GATEWAY_INSTANCE_DIR": str(node.home),
            "GATEWAY_DATABASE_URL": node.settings.database_url,
            "GATEWAY_MASTER_KEY_FILE": str(other),
            "GATEWAY_SECRET_KEY": node.settings.secret_key or "",
        }
    )
    wrong = build_node(settings)
    try:
        answer = create_app(settings, wrong).test_client().get("/readyz")
        assert answer.status_code == 503
        assert answer.json["master_key"] == "ok"
        assert answer.json["area_keys"] == "failed"
    finally:
        wrong.close()


# --- request ids and log lines -----------------------------------------------------------
def test_a_well_formed_request_id_is_kept_and_a_bad_one_replaced(node_factory: Any) -> None:
    node = node_factory("north")
    http = node.app.test_client()
    kept = http.get("/healthz", headers={"X-Request-ID": "proxy-1234abcd"})
    assert kept.headers["X-Request-ID"] == "proxy-1234abcd"
    for bad in ("short", "has space in it", "x" * 200, "semi;colon-1234"):
        answer = http.get("/healthz", headers={"X-Request-ID": bad})
        assert answer.headers["X-Request-ID"] != bad
        assert len(answer.headers["X-Request-ID"]) == 32
    assert len(http.get("/healthz").headers["X-Request-ID"]) == 32


def json_lines(logger: str) -> tuple[io.StringIO, logging.Handler]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logging.getLogger(logger).addHandler(handler)
    return out, handler


def test_the_request_id_reaches_the_workers_delivery_line(pair: Pair) -> None:
    with pair.north.node.sessions() as session:
        client, secret = clients.create_client(
            session,
            pair.north.node.master,
            name="cms",
            area="northshire",
            scopes="transfers:write",
            now=utcnow(),
        )
    http = pair.north.app.test_client()
    token = http.post(
        "/api/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(client.id, secret)
    ).json["access_token"]
    made = http.post(
        "/api/v1/transfers",
        json=sample_transfer("northshire", "south-vale"),
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "cms-req-000042"},
    )
    assert made.status_code == 201, made.text
    assert made.headers["X-Request-ID"] == "cms-req-000042"
    assert pair.north.scalar("SELECT request_id FROM outbox") == "cms-req-000042"
    out, handler = json_lines("gateway.worker")
    try:
        assert pair.north.deliver() == 1
    finally:
        logging.getLogger("gateway.worker").removeHandler(handler)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    delivered = [line for line in lines if line["message"].startswith("envelope ")]
    assert delivered, lines
    assert all(line["request_id"] == "cms-req-000042" for line in delivered)
    for line in lines:
        assert set(line) <= {"time", "level", "logger", "message", "request_id", "exception"}
        assert line["time"].endswith("+00:00")


def test_a_json_line_names_an_exception_by_class_only() -> None:
    record = logging.LogRecord("gateway.web", logging.ERROR, __file__, 1, "failed", (), None)
    try:
        raise ValueError("jane.doe@example.org")
    except ValueError:
        record.exc_info = sys.exc_info()
    with request_id("abcd-1234-efgh"):
        line = json.loads(JsonFormatter().format(record))
    assert line["exception"] == "ValueError" and line["request_id"] == "abcd-1234-efgh"
    assert "jane" not in json.dumps(line)


# --- settings ---------------------------------------------------------------------------
def test_unknown_gateway_variables_are_named() -> None:
    env = {
        "GATEWAY_BASE_URL": "x",
        "GATEWAY_DELIVERY_BACKOF": "5",
        "GATEWAY_SECRET_KEY_FILE": "/s",
        "GATEWAY_TEST_DATABASE_URL": "reserved for the test suite",
        "PATH": "/bin",
    }
    assert unknown_variables(env) == ["GATEWAY_DELIVERY_BACKOF"]


def test_secrets_are_read_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s" * 20 + "0123456789abcdefghij\n")
    settings = Settings.from_env(
        {"GATEWAY_INSTANCE_DIR": str(tmp_path), "GATEWAY_SECRET_KEY_FILE": str(secret)}
    )
    assert settings.secret_key == "s" * 20 + "0123456789abcdefghij"
    with pytest.raises(ConfigError, match="not both"):
        Settings.from_env({"GATEWAY_SECRET_KEY": "x", "GATEWAY_SECRET_KEY_FILE": str(secret)})
    with pytest.raises(ConfigError, match="cannot read"):
        Settings.from_env({"GATEWAY_SMTP_PASSWORD_FILE": str(tmp_path / "missing")})


def test_the_worker_refuses_to_start_with_an_unknown_setting(tmp_path: Path) -> None:
    env = fresh_env(tmp_path / "node")
    assert run_cli(env, "db", "upgrade").returncode == 0
    refused = run_cli({**env, "GATEWAY_DELIVERY_BACKOF": "5"}, "worker", "--once")
    assert refused.returncode == 1
    assert "unknown setting GATEWAY_DELIVERY_BACKOF" in refused.stderr
    assert run_cli(env, "worker", "--once").returncode == 0


def test_db_and_config_verbs(tmp_path: Path) -> None:
    home = tmp_path / "node"
    env = fresh_env(home)
    before = run_cli(env, "db", "check")
    assert before.returncode == 1 and "db upgrade" in before.stderr
    assert "never migrated" in run_cli(env, "db", "current").stdout
    not_ready = run_cli(env, "config", "check")
    assert not_ready.returncode == 1 and "schema: FAILED" in not_ready.stdout
    assert run_cli(env, "db", "upgrade").returncode == 0
    assert run_cli(env, "db", "check").returncode == 0
    current = run_cli(env, "db", "current").stdout.splitlines()
    assert current[0].split()[-1] == current[1].split()[-1]
    checked = run_cli(env, "config", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "configuration ok" in checked.stdout
    weak = run_cli({**env, "GATEWAY_SECRET_KEY": "short"}, "config", "check")
    assert weak.returncode == 1 and "GATEWAY_SECRET_KEY" in weak.stderr
    version = run_cli(env, "--version")
    assert version.returncode == 0 and version.stdout.startswith("marac-gateway ")


def test_payload_version_caps_are_read_and_checked() -> None:
    settings = Settings.from_env({"GATEWAY_PAYLOAD_VERSIONS": "transfer_request=1"})
    assert settings.payload_version_caps == {"transfer_request": 1}
    assert Settings.from_env({}).payload_version_caps == {}
    for wrong in ("transfer_request", "parcel=1", "transfer_request=0", "transfer_request=99"):
        with pytest.raises(ConfigError, match="GATEWAY_PAYLOAD_VERSIONS"):
            Settings.from_env({"GATEWAY_PAYLOAD_VERSIONS": wrong})

"""`marac-gateway user create` and `client create` as an operator runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from support.site import A, B, Site, csrf_from, fresh_code, make_site


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def cli(site: Site, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=site.north.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_user_create_prints_enrolment_once_and_adds_roles_in_other_areas(site: Site) -> None:
    password = "Operator chose 1 this"
    made = cli(
        site,
        "user",
        "create",
        "Cli.User@Northshire.example",
        "--area",
        A,
        "--role",
        "coordinator",
        "--password-stdin",
        stdin=password + "\n",
    )
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    secret = next(
        line.split(": ", 1)[1] for line in lines if line.startswith("authenticator secret")
    )
    uri = next(line.split(": ", 1)[1] for line in lines if line.startswith("authenticator URI"))
    assert uri.startswith("otpauth://totp/") and secret in uri
    codes = [line.strip() for line in lines if line.startswith("  ")]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert password not in made.stdout + made.stderr

    again = cli(
        site, "user", "create", "cli.user@northshire.example", "--area", B, "--role", "chair"
    )
    assert again.returncode == 0, again.stderr
    assert "chair in eastmoor" in again.stdout and "secret" not in again.stdout
    twice = cli(
        site, "user", "create", "cli.user@northshire.example", "--area", B, "--role", "chair"
    )
    assert twice.returncode == 1 and "already holds" in twice.stderr

    # The printed secret works for the real login, with the password given on stdin.
    browser = site.app.test_client()
    page = browser.get("/login")
    step = browser.post(
        "/login",
        data={
            "email": "cli.user@northshire.example",
            "password": password,
            "csrf_token": csrf_from(page.text),
        },
    )
    assert step.headers["Location"] == "/login/enrol"
    page = browser.get("/login/enrol")
    done = browser.post(
        "/login/enrol", data={"code": fresh_code(secret), "csrf_token": csrf_from(page.text)}
    )
    assert done.status_code == 303
    home = browser.get("/").text
    assert "coordinator in northshire" in home and "chair in eastmoor" in home


def test_user_create_refuses_weak_passwords_and_password_arguments(site: Site) -> None:
    weak = cli(
        site,
        "user",
        "create",
        "w@northshire.example",
        "--area",
        A,
        "--role",
        "chair",
        "--password-stdin",
        stdin="short\n",
    )
    assert weak.returncode == 1 and "password" in weak.stderr and "short" not in weak.stderr
    argument = cli(
        site,
        "user",
        "create",
        "w@northshire.example",
        "--area",
        A,
        "--role",
        "chair",
        "--password",
        "Operator chose 1 this",
    )
    assert argument.returncode == 2
    bad_role = cli(
        site,
        "user",
        "create",
        "w@northshire.example",
        "--area",
        A,
        "--role",
        "root",
        "--password-stdin",
        stdin="Operator chose 1 this\n",
    )
    assert bad_role.returncode == 2
    assert site.north.count("users") == 0


def test_client_create_prints_json_and_the_secret_gets_a_token(site: Site) -> None:
    made = cli(
        site,
        "client",
        "create",
        "case system",
        "--area",
        A,
        "--scope",
        "transfers:read transfers:write",
    )
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert set(created) == {"client_id", "client_secret"}
    token = site.token(created["client_id"], created["client_secret"], "transfers:read")
    assert (
        site.app.test_client()
        .get("/api/v1/transfers", headers={"Authorization": "Bearer " + token})
        .status_code
        == 200
    )
    assert created["client_secret"] not in site.north.scalar(
        "SELECT secret_digest FROM api_clients"
    )


@pytest.mark.parametrize("scope", ["transfers:read admin", "", "TRANSFERS:READ"])
def test_client_create_refuses_unknown_scopes(site: Site, scope: str) -> None:
    refused = cli(site, "client", "create", "cms", "--area", A, "--scope", scope)
    assert refused.returncode == 1 and "scope" in refused.stderr
    assert site.north.count("api_clients") == 0

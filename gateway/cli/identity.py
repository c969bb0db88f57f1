"""CLI: user accounts and API clients."""

from __future__ import annotations

import json
import sys

import click

from gateway.cli.root import current_node, friendly, main
from gateway.domain.clock import utcnow
from gateway.domain.identity import clients, users
from schemas.api.access import ROLES


# --- user and client --------------------------------------------------------------------
@main.group()
def user() -> None:
    """People who sign in, with roles per area."""


def _read_password(from_stdin: bool) -> str:
    """Never from an argument (it would sit in the shell history and `ps`)."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise click.ClickException("no password on standard input")
        return password
    return str(click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password"))


@user.command("create")
@click.argument("email")
@click.option("--area", "area_code", required=True, help="The area the role is held in.")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@friendly
def user_create(email: str, area_code: str, role: str, password_stdin: bool) -> None:
    """Create a local user with a role, or add a role (e.g. in another area) to one.

    A new user's authenticator secret and recovery codes are printed once: hand them over
    in person; they are not shown again."""
    node = current_node()
    with node.sessions() as session:
        existing = users.find_user_id(session, email)
    password = None if existing else _read_password(password_stdin)
    with node.sessions() as session:
        grant = users.add_user_role(
            session,
            node.master,
            email=email,
            area=area_code,
            role=role,
            password=password,
            now=utcnow(),
        )
    click.echo(f"user {grant.user_id}: {grant.role} in {grant.area}")
    if grant.enrolment is not None:
        click.echo(f"authenticator secret: {grant.enrolment.totp_secret}")
        click.echo(f"authenticator URI: {grant.enrolment.totp_uri}")
        click.echo("recovery codes (each works once):")
        for code in grant.enrolment.recovery_codes:
            click.echo(f"  {code}")


@main.group()
def client() -> None:
    """Machine clients (case-management systems) of the application API."""


@client.command("create")
@click.argument("name")
@click.option("--area", "area_code", required=True)
@click.option("--scope", "scope", required=True, help='e.g. "transfers:read transfers:write"')
@friendly
def client_create(name: str, area_code: str, scope: str) -> None:
    """Print {"client_id", "client_secret"} as JSON; the secret is not shown again."""
    node = current_node()
    with node.sessions() as session:
        view, secret = clients.create_client(
            session, node.master, name=name, area=area_code, scopes=scope, now=utcnow()
        )
    click.echo(json.dumps({"client_id": view.id, "client_secret": secret}))

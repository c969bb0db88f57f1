"""Setting a node up: its database, its areas and their keys, and its peers."""

from __future__ import annotations

import json
import os

import click

from adapters.db import current_revisions, head_revisions, upgrade
from gateway.cli.root import area, current_node, friendly, main, read_json
from gateway.config import ConfigError, Settings, unknown_variables
from gateway.domain.areas import local_areas, peers
from gateway.domain.clock import utcnow
from gateway.readiness import readiness
from keys import MasterKey, fingerprint


# --- db ---------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@friendly
def db_upgrade() -> None:
    """Create or migrate the schema; create the master key on a new node."""
    node = current_node()
    key_file = node.settings.master_key_file
    if not key_file.exists():
        MasterKey.create_file(key_file)
        click.echo(f"created master key {key_file} (mode 0600): back it up offline")
    else:
        MasterKey.load_file(key_file)
    upgrade(node.engine)
    click.echo("database is up to date")


@db.command("current")
@friendly
def db_current() -> None:
    """Print the schema revision the database is at, and the head this code expects."""
    node = current_node()
    current = sorted(current_revisions(node.engine)) or ["(none: never migrated)"]
    click.echo(f"current: {', '.join(current)}")
    click.echo(f"head:    {', '.join(sorted(head_revisions()))}")


@db.command("check")
@friendly
def db_check() -> None:
    """Exit 0 if the schema is at head, 1 (saying what to run) otherwise."""
    node = current_node()
    current, heads = current_revisions(node.engine), head_revisions()
    if current != heads:
        raise click.ClickException(
            f"schema at {', '.join(sorted(current)) or 'nothing'}, head is "
            f"{', '.join(sorted(heads))}: run `marac-gateway db upgrade`"
        )
    click.echo(f"schema at head {', '.join(sorted(heads))}")


# --- config -----------------------------------------------------------------------------
@main.group()
def config() -> None:
    """The node's settings."""


@config.command("check")
@friendly
def config_check() -> None:
    """Check every setting, then the database, schema, master key and area keys (what
    `serve` and `worker` check before they start); exit 1 naming every problem."""
    settings = Settings.from_env()
    problems = [f"unknown setting {name}" for name in unknown_variables(os.environ)]
    try:
        settings.check_web()
    except ConfigError as exc:
        problems.append(str(exc))
    for check in readiness(current_node()):
        click.echo(f"{check.name}: {'ok' if check.ok else 'FAILED'} ({check.detail})")
        if not check.ok:
            problems.append(f"{check.name}: {check.detail}")
    if problems:
        raise click.ClickException("; ".join(problems))
    click.echo("configuration ok")


@area.command("create")
@click.argument("code")
@click.option("--name", required=True, help="The area's name, e.g. 'Northshire MARAC'.")
@click.option("--url", default=None, help="This node's public base URL.")
@click.option("--mailbox", default=None, help="The MARAC coordinator's mailbox.")
@friendly
def area_create(code: str, name: str, url: str | None, mailbox: str | None) -> None:
    node = current_node()
    with node.sessions() as session:
        created = local_areas.create_area(
            session,
            node.master,
            code=code,
            name=name,
            url=url or node.settings.base_url,
            mailbox=mailbox or f"marac-coordinator@{code}.invalid",
            now=utcnow(),
        )
        bundle = local_areas.published_bundle(session, node.master, code, utcnow(), node.accepts)
    click.echo(f"created area {created.code} with key {created.key_id}")
    click.echo(f"fingerprint: {fingerprint(bundle['body'])}")


@area.command("export")
@click.argument("code")
@click.option(
    "--without-versions",
    is_flag=True,
    help="Leave out the payload versions this node accepts, for a peer on a release that "
    "predates them (its bundle parser refuses the member); that peer sends version 1.",
)
@friendly
def area_export(code: str, without_versions: bool) -> None:
    """Print the signed public bundle; read the fingerprint to the peer out of band."""
    node = current_node()
    accepts = None if without_versions else node.accepts
    with node.sessions() as session:
        bundle = local_areas.published_bundle(session, node.master, code, utcnow(), accepts)
    click.echo(json.dumps(bundle, indent=2, sort_keys=True))
    click.echo(f"fingerprint: {fingerprint(bundle['body'])}", err=True)


# --- peer -------------------------------------------------------------------------------
@main.group()
def peer() -> None:
    """Other areas this node exchanges with."""


@peer.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--fingerprint",
    "confirmed",
    required=True,
    help="The fingerprint the peer's coordinator read to you (spaces optional).",
)
@friendly
def peer_import(file: str, confirmed: str) -> None:
    node = current_node()
    with node.sessions() as session:
        view = peers.import_peer(session, read_json(file), confirmed, utcnow())
    click.echo(f"imported peer {view.code} ({view.name}) at {view.url}")


@peer.command("list")
@friendly
def peer_list() -> None:
    node = current_node()
    with node.sessions() as session:
        found = peers.list_peers(session)
    if not found:
        click.echo("no peers")
    for view in found:
        click.echo(f"{view.code}\t{view.url}\t{view.fingerprint}\tkeys={','.join(view.key_ids)}")


# --- keys -------------------------------------------------------------------------------
@main.group("keys")
def keys_group() -> None:
    """Area keys."""


@keys_group.command("rotate")
@click.argument("code")
@friendly
def keys_rotate(code: str) -> None:
    """New key pair; the old one keeps verifying until the grace period ends."""
    node = current_node()
    with node.sessions() as session:
        old, new, until = local_areas.rotate_keys(
            session, node.master, code, grace=node.key_grace, now=utcnow()
        )
        bundle = local_areas.published_bundle(session, node.master, code, utcnow(), node.accepts)
    click.echo(f"rotated {code}: new key {new}; {old} honoured until {until.isoformat()}")
    click.echo(f"new fingerprint: {fingerprint(bundle['body'])} (peers re-import the bundle)")

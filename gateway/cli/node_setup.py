"""Setting a node up: its database, its areas and their keys, and its peers."""

from __future__ import annotations

import json
import os

import click

from adapters.db import current_revisions, head_revisions, upgrade
from adapters.db.grants import grant, grant_statements, server_version
from gateway.cli.root import area, current_node, friendly, main, read_json
from gateway.config import ConfigError, Settings, unknown_variables
from gateway.domain.areas import bundles, local_areas, peers
from gateway.domain.clock import utcnow
from gateway.readiness import readiness
from keys import MasterKey, fingerprint
from schemas.wire.envelope import KEY_ID_SHAPE


class TakesKeyId(click.Command):
    """A command with a KEY_ID argument. Key ids are base64url (DESIGN section 4), so one in
    64 begins with "-", and click would read it as an unknown option ("No such option
    '-Y'") unless the administrator knew to put "--" before it. A token shaped like a key
    id that is not one of the command's own options is moved behind a "--" for them."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" not in args:
            own = {name for param in self.get_params(ctx) for name in param.opts}
            dashed = [
                arg
                for arg in args
                if arg.startswith("-") and arg not in own and KEY_ID_SHAPE.match(arg)
            ]
            if dashed:
                args = [arg for arg in args if arg not in dashed] + ["--", *dashed]
        return super().parse_args(ctx, args)


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


@db.command("grant")
@click.argument("role")
@click.option("--sql", "print_only", is_flag=True, help="Print the statements; run nothing.")
@friendly
def db_grant(role: str, print_only: bool) -> None:
    """PostgreSQL: grant ROLE (the role `serve` and `worker` run as, owning nothing) what
    the node uses. Run as the tables' owner after every `db upgrade`."""
    node = current_node()
    try:
        if print_only:
            for statement in grant_statements(role, server_version(node.engine)):
                click.echo(statement + ";")
            return
        grant(node.engine, role)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"granted {role} the rows, not the schema")


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
        for key_id, when, by in view.revoked:
            click.echo(f"  revoked {key_id} at {when.isoformat()} by {by}")
        if view.pending_fingerprint:
            click.echo(f"  waiting for the fingerprint: {view.pending_fingerprint}")


@peer.command("fetch")
@click.argument("code")
@friendly
def peer_fetch(code: str) -> None:
    """Fetch the peer's published bundle now: a rotation its pinned key endorsed is pinned,
    any other new bundle waits for its fingerprint (`peer confirm`)."""
    node = current_node()
    with node.sessions() as session:
        refreshed = bundles.fetch(session, node.client, code, utcnow())
    for key_id in refreshed.revoked:
        click.echo(f"{code} revoked its key {key_id}: refused from now on")
    words = {
        "unchanged": "unchanged",
        "rotated": "new keys endorsed by the pinned key: pinned",
        "waiting": "new keys NOT endorsed by a pinned key: waiting for the fingerprint",
    }
    click.echo(f"{code}: {words[refreshed.outcome]} (fingerprint {refreshed.fingerprint})")


@peer.command("confirm")
@click.argument("code")
@click.option(
    "--fingerprint",
    "confirmed",
    required=True,
    help="The fingerprint the peer's coordinator read to you (spaces optional).",
)
@friendly
def peer_confirm(code: str, confirmed: str) -> None:
    """Pin the fetched bundle that waits for its fingerprint."""
    node = current_node()
    with node.sessions() as session:
        document = peers.pending_bundle(session, code)
        view = peers.import_peer(session, document, confirmed, utcnow())
    click.echo(f"pinned the new keys of {view.code}: {view.fingerprint}")


@peer.command("revoke-key", cls=TakesKeyId)
@click.argument("code")
@click.argument("key_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@friendly
def peer_revoke_key(code: str, key_id: str, yes: bool) -> None:
    """Stop trusting a peer's key at once (reported compromised): everything signed by it
    is refused, even envelopes already sent."""
    if not yes:
        click.confirm(f"Refuse everything signed by {code}'s key {key_id} from now on?", abort=True)
    node = current_node()
    with node.sessions() as session:
        peers.revoke_peer_key(session, code, key_id, utcnow())
    click.echo(f"revoked {code}'s key {key_id}: refused from now on")


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
    click.echo(
        f"new fingerprint: {fingerprint(bundle['body'])} (signed over by {old}: peers pin it "
        "when they next fetch the bundle; peers on older releases re-import it)"
    )


@keys_group.command("revoke", cls=TakesKeyId)
@click.argument("code")
@click.argument("key_id", required=False)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@friendly
def keys_revoke(code: str, key_id: str | None, yes: bool) -> None:
    """Revoke a compromised key (the current one unless KEY_ID is given): it stops at once,
    a new key replaces it, and every peer must confirm the new fingerprint by phone."""
    node = current_node()
    with node.sessions() as session:
        if key_id is None:
            key_id = local_areas.current_key_id(session, code, utcnow())
    if not yes:
        click.confirm(
            f"Revoke {code}'s key {key_id}? Peers refuse it at once and must confirm the new "
            "fingerprint by phone.",
            abort=True,
        )
    with node.sessions() as session:
        new = local_areas.revoke_key(session, node.master, code, key_id, now=utcnow())
        bundle = local_areas.published_bundle(session, node.master, code, utcnow(), node.accepts)
    click.echo(f"revoked {code}'s key {key_id}" + (f"; new key {new}" if new else ""))
    click.echo(f"new fingerprint: {fingerprint(bundle['body'])} (read it to every peer by phone)")

"""`marac-gateway`: the operator's command line (DESIGN section 4, binding verbs).

Every command is also reachable as `flask --app wsgi ...`. Refusals print a clear message
naming the fields at fault and exit non-zero; nothing is half-written.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask, current_app, has_app_context

from adapters.db import upgrade
from gateway.app import Node, build_node
from gateway.config import ConfigError, Settings
from gateway.domain.areas import local_areas, peers
from gateway.domain.clock import utcnow
from gateway.domain.identity.actors import Actor
from gateway.domain.transfers import reading, sending
from gateway.errors import DomainError
from keys import MasterKey, MasterKeyError, fingerprint

F = TypeVar("F", bound=Callable[..., Any])


def current_node() -> Node:
    if has_app_context():
        found = current_app.extensions.get("gateway.node")
        if isinstance(found, Node):
            return found
    return build_node(Settings.from_env())


def _flatten(errors: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(errors, dict):
        for key, value in errors.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(errors, list) and all(isinstance(e, str) for e in errors):
        yield f"  {prefix or 'request'}: {' '.join(errors)}"
    elif isinstance(errors, list):
        for item in errors:
            yield from _flatten(item, prefix)
    else:
        yield f"  {prefix or 'request'}: {errors}"


def friendly(func: F) -> F:
    """Turn refusals into a message on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            click.echo(f"error: {exc.detail}", err=True)
            for line in _flatten(exc.errors or {}):
                click.echo(line, err=True)
            sys.exit(1)
        except (ConfigError, MasterKeyError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _read_json(path: str) -> dict[str, Any]:
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise click.ClickException(f"{path}: no such file") from None
    except (ValueError, UnicodeDecodeError):
        raise click.ClickException(f"{path}: not valid UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise click.ClickException(f"{path}: expected a JSON object")
    return value


@click.group(help="MARAC Exchange Gateway node administration.")
def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs full URLs at INFO; ours carry no personal data, but keep the noise down.
    logging.getLogger("httpx").setLevel(logging.WARNING)


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


# --- area -------------------------------------------------------------------------------
@main.group()
def area() -> None:
    """Areas hosted on this node."""


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
        with session.begin():
            bundle = local_areas.export_bundle(session, node.master, code, utcnow())
    click.echo(f"created area {created.code} with key {created.key_id}")
    click.echo(f"fingerprint: {fingerprint(bundle['body'])}")


@area.command("export")
@click.argument("code")
@friendly
def area_export(code: str) -> None:
    """Print the signed public bundle; read the fingerprint to the peer out of band."""
    node = current_node()
    with node.sessions() as session, session.begin():
        bundle = local_areas.export_bundle(session, node.master, code, utcnow())
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
        view = peers.import_peer(session, _read_json(file), confirmed, utcnow())
    click.echo(f"imported peer {view.code} ({view.name}) at {view.url}")


@peer.command("list")
@friendly
def peer_list() -> None:
    node = current_node()
    with node.sessions() as session, session.begin():
        found = peers.list_peers(session)
    if not found:
        click.echo("no peers")
    for view in found:
        click.echo(f"{view.code}\t{view.url}\t{view.fingerprint}\tkeys={','.join(view.key_ids)}")


# --- transfer ---------------------------------------------------------------------------
@main.group()
def transfer() -> None:
    """MARAC-to-MARAC transfers."""


@transfer.command("send")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--from", "from_area", required=True)
@click.option("--to", "to_area", required=True)
@friendly
def transfer_send(file: str, from_area: str, to_area: str) -> None:
    """Validate, seal and queue a transfer_request; the worker delivers it."""
    node = current_node()
    with node.sessions() as session:
        sent = sending.send_transfer(
            session,
            node.master,
            _read_json(file),
            from_area=from_area,
            to_area=to_area,
            now=utcnow(),
            actor=Actor.operator(),
        )
    click.echo(f"{sent.id}\t{sent.status}\tenvelope {sent.envelope_id}")


@transfer.command("list")
@click.option("--area", "area_code", required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@friendly
def transfer_list(area_code: str, as_json: bool) -> None:
    """Metadata only: id, direction, peer area, state."""
    node = current_node()
    with node.sessions() as session:
        found = reading.list_transfers(session, area_code)
    for item in found:
        if as_json:
            click.echo(json.dumps(item.as_dict()))
        else:
            click.echo(f"{item.id}\t{item.direction}\t{item.peer_area}\t{item.status}")


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
        with session.begin():
            bundle = local_areas.export_bundle(session, node.master, code, utcnow())
    click.echo(f"rotated {code}: new key {new}; {old} honoured until {until.isoformat()}")
    click.echo(f"new fingerprint: {fingerprint(bundle['body'])} (peers re-import the bundle)")


# --- processes --------------------------------------------------------------------------
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@friendly
def serve(host: str, port: int, workers: int) -> None:
    """Run the web app under gunicorn."""
    from gateway.serve import run_gunicorn

    Settings.from_env().check_web()
    run_gunicorn(host=host, port=port, workers=workers)


@main.command()
@click.option("--once", is_flag=True, help="Deliver what is due, then exit.")
@friendly
def worker(once: bool) -> None:
    """Deliver the outbox, send notifications and reminders (and, as it lands, expire flags)."""
    from gateway.worker import run_worker

    handled = run_worker(current_node(), once=once)
    if once:
        click.echo(f"handled {handled} outbox item(s)")


@main.command()
@click.option(
    "--exit",
    "exit_after",
    is_flag=True,
    help="Stop after the scenario; exit 0 only if the transfer was delivered.",
)
@click.option("--workdir", type=click.Path(file_okay=False), default=".demo", show_default=True)
def demo(exit_after: bool, workdir: str) -> None:
    """Two real nodes on 127.0.0.1 exchanging a transfer about fictional people."""
    from gateway.demo import run_demo

    sys.exit(run_demo(Path(workdir), exit_after=exit_after))


def register_cli(app: Flask) -> None:
    for command in main.commands.values():
        app.cli.add_command(command)


# The command groups that live in their own modules register themselves on `main`.
from gateway.cli import audit, casework, documents, flags, identity, workflow  # noqa: E402

__all__ = [
    "audit",
    "casework",
    "current_node",
    "documents",
    "flags",
    "friendly",
    "identity",
    "main",
    "register_cli",
    "workflow",
]

"""`marac-gateway`: the operator's command line (DESIGN section 4, binding verbs).

Every command is also reachable as `flask --app wsgi ...`. Refusals print a clear message
naming the fields at fault and exit non-zero; nothing is half-written.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask, current_app, has_app_context
from sqlalchemy import select

from adapters.db import upgrade
from adapters.db.models import Area
from adapters.db.session import reclaim
from gateway.app import Node, build_node
from gateway.config import ConfigError, Settings
from gateway.domain import areas, clients, peers, retention, transfers, users
from gateway.domain.actors import Actor
from gateway.domain.audit import checkpoints, export, reports, subject, verify, witness
from gateway.domain.clock import utcnow
from gateway.errors import DomainError
from keys import MasterKey, MasterKeyError, fingerprint
from schemas.access import ROLES

F = TypeVar("F", bound=Callable[..., Any])


def _node() -> Node:
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
    node = _node()
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
    node = _node()
    with node.sessions() as session:
        created = areas.create_area(
            session,
            node.master,
            code=code,
            name=name,
            url=url or node.settings.base_url,
            mailbox=mailbox or f"marac-coordinator@{code}.invalid",
            now=utcnow(),
        )
        with session.begin():
            bundle = areas.export_bundle(session, node.master, code, utcnow())
    click.echo(f"created area {created.code} with key {created.key_id}")
    click.echo(f"fingerprint: {fingerprint(bundle['body'])}")


@area.command("export")
@click.argument("code")
@friendly
def area_export(code: str) -> None:
    """Print the signed public bundle; read the fingerprint to the peer out of band."""
    node = _node()
    with node.sessions() as session, session.begin():
        bundle = areas.export_bundle(session, node.master, code, utcnow())
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
    node = _node()
    with node.sessions() as session:
        view = peers.import_peer(session, _read_json(file), confirmed, utcnow())
    click.echo(f"imported peer {view.code} ({view.name}) at {view.url}")


@peer.command("list")
@friendly
def peer_list() -> None:
    node = _node()
    with node.sessions() as session, session.begin():
        found = peers.list_peers(session)
    if not found:
        click.echo("no peers")
    for view in found:
        click.echo(f"{view.code}\t{view.url}\t{view.fingerprint}\tkeys={','.join(view.key_ids)}")


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
    node = _node()
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
    node = _node()
    with node.sessions() as session:
        view, secret = clients.create_client(
            session, node.master, name=name, area=area_code, scopes=scope, now=utcnow()
        )
    click.echo(json.dumps({"client_id": view.id, "client_secret": secret}))


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
    node = _node()
    with node.sessions() as session:
        sent = transfers.send_transfer(
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
    node = _node()
    with node.sessions() as session:
        found = transfers.list_transfers(session, area_code)
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
    node = _node()
    with node.sessions() as session:
        old, new, until = areas.rotate_keys(
            session, node.master, code, grace=node.key_grace, now=utcnow()
        )
        with session.begin():
            bundle = areas.export_bundle(session, node.master, code, utcnow())
    click.echo(f"rotated {code}: new key {new}; {old} honoured until {until.isoformat()}")
    click.echo(f"new fingerprint: {fingerprint(bundle['body'])} (peers re-import the bundle)")


# --- audit ------------------------------------------------------------------------------
@main.group("audit")
def audit_group() -> None:
    """The disclosure audit: verify, export, subject access, checkpoints."""


def _local_areas(node: Node, only: str | None) -> list[str]:
    with node.sessions() as session, session.begin():
        if only is not None:
            areas.get_area(session, only)
            return [only]
        return list(session.scalars(select(Area.code).order_by(Area.code)))


@audit_group.command("verify")
@click.option("--area", "area_code", help="One area (default: every area on this node).")
@click.option("--peer", help="Ask this peer area to prove its log extends what we hold.")
@click.option("--deep", is_flag=True, help="Also parse and schema-check every leaf (slower).")
@click.option("--json", "as_json", is_flag=True)
@friendly
def audit_verify(area_code: str | None, peer: str | None, deep: bool, as_json: bool) -> None:
    """Recompute the whole tree and every checkpoint; exit 1 on any problem."""
    node = _node()
    if peer is not None:
        with node.sessions() as session:
            report = witness.verify_peer(session, node.master, node.client, peer, utcnow())
        _print_peer(report, as_json)
        sys.exit(0 if report.ok else 1)
    failed = False
    for code in _local_areas(node, area_code):
        with node.sessions() as session, session.begin():
            result = verify.verify_log(session, code, deep=deep)
        failed = failed or not result.ok
        _print_log(result, as_json)
    sys.exit(1 if failed else 0)


def _print_log(result: verify.LogReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    summary = f"{result.area}: {result.entries} entries, {result.checkpoints} checkpoint(s)"
    if result.ok:
        click.echo(f"{summary}: OK (root {result.root})")
        return
    click.echo(f"{summary}: FAILED", err=True)
    first = result.first_bad
    if first is not None and first.seq is not None:
        click.echo(f"  first bad entry: {first.seq}: {first.what}", err=True)
    for problem in result.problems:
        where = f"entry {problem.seq}" if problem.seq is not None else "log"
        click.echo(f"  {where}: {problem.what}", err=True)


def _print_peer(report: witness.PeerReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict()))
        return
    sizes = ", ".join(str(s) for s in report.checked_sizes)
    if report.ok:
        witnessed = "co-signed" if report.cosigned else "co-signature not accepted"
        click.echo(f"{report.peer}: consistent from {sizes} to {report.size}: OK ({witnessed})")
        return
    click.echo(f"{report.peer}: INCONSISTENT", err=True)
    for problem in report.problems:
        click.echo(f"  {problem}", err=True)


@audit_group.command("export")
@click.option("--area", "area_code", required=True)
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--format", "fmt", required=True, type=click.Choice(export.FORMATS))
@click.option("--output", type=click.Path(dir_okay=False), help="File (default: stdout).")
@friendly
def audit_export(
    area_code: str, start: datetime, end: datetime, fmt: str, output: str | None
) -> None:
    """Events between two dates (inclusive), content-free, as CSV or JSON lines."""
    if end < start:
        raise click.BadParameter("--to is before --from")
    node = _node()
    _local_areas(node, area_code)  # an unknown area is refused before any file is made
    with node.sessions() as session:
        lines = export.export(
            session,
            node.master,
            area_code,
            start.date(),
            end.date(),
            fmt,
            actor=Actor.operator(),
            now=utcnow(),
        )
        if output is None:
            for line in lines:
                click.echo(line)
            return
        _write_whole(Path(output), lines)


def _write_whole(path: Path, lines: Iterator[str]) -> None:
    """All or nothing: a refused or interrupted export leaves no partial file behind."""
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as sink:
            for line in lines:
                sink.write(line + "\n")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


@audit_group.command("subject")
@click.option("--area", "area_code", required=True)
@click.option("--json", "as_json", is_flag=True)
@friendly
def audit_subject(area_code: str, as_json: bool) -> None:
    """Every disclosure concerning a person (subject access, court orders).

    The name and date of birth are asked for at the prompt (or read from stdin), never
    taken as arguments, so they stay out of shell history and process lists.
    """
    given = click.prompt("Given names", err=True).strip()
    family = click.prompt("Family name (blank: any)", default="", show_default=False, err=True)
    born = click.prompt("Date of birth (YYYY-MM-DD)", type=click.DateTime(["%Y-%m-%d"]), err=True)
    person = subject.Person(given, family.strip() or None, born.date())
    node = _node()
    with node.sessions() as session:
        found = subject.search(
            session, node.master, area_code, person, actor=Actor.operator(), now=utcnow()
        )
    if as_json:
        click.echo(json.dumps({"area": area_code, "disclosures": found}, indent=2))
        return
    click.echo(subject_report(area_code, found))


def subject_report(area_code: str, found: list[dict[str, Any]]) -> str:
    lines = [
        f"Subject access search, {area_code}, {utcnow():%Y-%m-%d %H:%M} UTC",
        f"Disclosures found: {len(found)}",
        "Before release, consider exemptions (e.g. where disclosure would put the victim or "
        "another person at risk) with the data protection officer.",
    ]
    for number, item in enumerate(found, 1):
        bases = "; ".join(f"{b['label']} [{b['code']}]" for b in item["legal_basis"])
        lines += [
            "",
            f"{number}. {item['created_at']}  {item['direction']}  "
            f"{item['disclosed_by']} -> {item['disclosed_to']}",
            f"   concerning the person as: {', '.join(item['roles'])}",
            f"   consent: {item['consent']} (victim informed: {item['victim_informed']}, "
            f"decided {item['decision_forum']})",
            f"   legal basis: {bases or 'consent'}",
            f"   status: {item['status']}, delivered {item['delivered_at'] or '-'}",
            f"   transfer {item['transfer']}, envelope {item['envelope']}",
        ]
        if item["audit"]:
            lines.append(
                f"   audit entry {item['audit']['seq']} (leaf {item['audit']['leaf_hash']})"
            )
    return "\n".join(lines)


@audit_group.command("report")
@click.option("--area", "area_code", required=True)
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--period", type=click.Choice(reports.PERIODS), default="month", show_default=True)
@friendly
def audit_report(area_code: str, start: datetime, end: datetime, period: str) -> None:
    """Disclosure counts and delivery times (JSON)."""
    if end < start:
        raise click.BadParameter("--to is before --from")
    node = _node()
    with node.sessions() as session:
        result = reports.disclosures(session, area_code, start.date(), end.date(), period)
    click.echo(json.dumps(result, indent=2))


@audit_group.command("checkpoint")
@click.option("--area", "area_code", help="One area (default: every area on this node).")
@friendly
def audit_checkpoint(area_code: str | None) -> None:
    """Sign a checkpoint of the log now."""
    node = _node()
    for code in _local_areas(node, area_code):
        with node.sessions() as session, session.begin():
            made = checkpoints.issue(session, node.master, code, utcnow())
        click.echo(f"{code}: checkpoint of size {made.size}, root {made.root.hex()}")


# --- retention --------------------------------------------------------------------------
@main.group("retention")
def retention_group() -> None:
    """Case content retention."""


@retention_group.command("purge")
@click.option("--area", "area_code", help="One area (default: every area on this node).")
@click.option("--dry-run", is_flag=True, help="Count what would be purged; change nothing.")
@friendly
def retention_purge(area_code: str | None, dry_run: bool) -> None:
    """Purge case content past each area's retention period; the audit stays verifiable."""
    node = _node()
    with node.sessions() as session:
        found = retention.purge(
            session,
            now=utcnow(),
            default_months=node.settings.retention_months,
            area=area_code,
            dry_run=dry_run,
            actor=Actor.operator(),
        )
    if not dry_run:
        reclaim(node.engine, ("envelopes", "audit_salts"))
    verb = "would purge" if dry_run else "purged"
    for report in found:
        click.echo(
            f"{report.area}: {verb} {report.transfers} case(s), {report.envelopes} envelope(s) "
            f"with no activity since {report.cutoff:%Y-%m-%d}"
        )


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
    """Deliver the outbox (and, as they land, reminders and flag expiry)."""
    from gateway.worker import run_worker

    handled = run_worker(_node(), once=once)
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


if __name__ == "__main__":
    main()

"""The root of `marac-gateway` (DESIGN section 4, binding verbs): the command group, the
groups other modules extend, and how every command reports a refusal (a clear message on
stderr and exit status 1; nothing half-written).

Every command is also reachable as `flask --app wsgi ...`.

The verbs' modules are imported only when one of their verbs runs (`VERBS`), and nothing
here imports Flask, SQLAlchemy or PyNaCl at start: `marac-gateway --help` and `--version`
answer without loading the node (README, Benchmarks: CLI start-up)."""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gateway import logs
from gateway.config import ConfigError, Settings
from gateway.errors import DomainError

if TYPE_CHECKING:
    from flask import Flask

    from gateway.node import Node

F = TypeVar("F", bound=Callable[..., Any])


def current_node() -> Node:
    from flask import current_app, has_app_context

    from gateway.node import Node, build_node

    if has_app_context():
        found = current_app.extensions.get("gateway.node")
        if isinstance(found, Node):
            return found
    return build_node(Settings.from_env())


def flatten(errors: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(errors, dict):
        for key, value in errors.items():
            yield from flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(errors, list) and all(isinstance(e, str) for e in errors):
        yield f"  {prefix or 'request'}: {' '.join(errors)}"
    elif isinstance(errors, list):
        for item in errors:
            yield from flatten(item, prefix)
    else:
        yield f"  {prefix or 'request'}: {errors}"


def friendly(func: F) -> F:
    """Turn refusals into a message on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from keys import MasterKeyError  # PyNaCl: imported when a verb runs, not at start

        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            click.echo(f"error: {exc.detail}", err=True)
            for line in flatten(exc.errors or {}):
                click.echo(line, err=True)
            sys.exit(1)
        except (ConfigError, MasterKeyError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def read_json(path: str) -> dict[str, Any]:
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise click.ClickException(f"{path}: no such file") from None
    except (ValueError, UnicodeDecodeError):
        raise click.ClickException(f"{path}: not valid UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise click.ClickException(f"{path}: expected a JSON object")
    return value


@dataclass(frozen=True)
class Verb:
    help: (
        str  # the short help `--help` lists (tests/cli/test_cli_start.py: equal to the verb's own)
    )
    modules: tuple[str, ...]  # the modules of gateway.cli that add it or its sub-verbs


# Every top-level verb and where it is defined. A verb missing here, or a module that adds
# to a verb without being listed, fails tests/cli/test_cli_start.py.
VERBS: Mapping[str, Verb] = {
    "area": Verb("Areas hosted on this node.", ("node_setup", "workflow")),
    "audit": Verb("The disclosure audit: verify, export, subject access, checkpoints.", ("audit",)),
    "backup": Verb(
        "Write a consistent copy of the database to FILE while the node runs.", ("backups",)
    ),
    "client": Verb(
        "Machine clients (case-management systems) of the application API.", ("identity",)
    ),
    "config": Verb("The node's settings.", ("node_setup",)),
    "db": Verb("Database schema.", ("node_setup",)),
    "demo": Verb(
        "Two real nodes on 127.0.0.1 exchanging a transfer about fictional people.",
        ("processes",),
    ),
    "flags": Verb("Shared flags.", ("flags",)),
    "keys": Verb("Area keys.", ("node_setup",)),
    "peer": Verb("Other areas this node exchanges with.", ("node_setup",)),
    "restore": Verb(
        "Replace the database with the backup FILE and declare the restore to peers.",
        ("backups",),
    ),
    "retention": Verb(
        "Case content retention: the schedule, legal holds and early purges.", ("retention",)
    ),
    "serve": Verb("Run the web app under gunicorn.", ("processes",)),
    "transfer": Verb(
        "MARAC-to-MARAC transfers.", ("transfers", "workflow", "casework", "documents")
    ),
    "user": Verb("People who sign in, with roles per area.", ("identity",)),
    "worker": Verb(
        "Deliver the outbox, send notifications and reminders (and, as it lands, expire flags).",
        ("processes",),
    ),
}


def load_verbs(names: Iterator[str] | list[str] | None = None) -> None:
    """Import the modules that define `names` (every verb when None)."""
    for name in VERBS if names is None else names:
        for module in VERBS[name].modules:
            importlib.import_module(f"gateway.cli.{module}")


class LazyVerbs(click.Group):
    """The root group: lists every verb from `VERBS` without importing it, and imports a
    verb's modules only when that verb is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(VERBS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in VERBS:
            load_verbs([cmd_name])
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            (name, VERBS[name].help if name in VERBS else self.commands[name].get_short_help_str())
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyVerbs, help="MARAC Exchange Gateway node administration.")
@click.version_option(package_name="marac-gateway", message="marac-gateway %(version)s")
def main() -> None:
    # Read here, before the settings: a bad value is refused with the settings later.
    logs.configure("text" if os.environ.get("GATEWAY_LOG_FORMAT", "").lower() == "text" else "json")


@main.group()
def area() -> None:
    """Areas hosted on this node."""


@main.group()
def transfer() -> None:
    """MARAC-to-MARAC transfers."""


AppFactory = Callable[[Settings], "Flask"]
APP_FACTORY_KEY = "gateway.create_app"


@dataclass(frozen=True)
class Wiring:
    """What the entry point hands the CLI: the app factory, which `serve` runs under
    gunicorn (the CLI never imports the app module, which imports the CLI)."""

    create_app: AppFactory


def app_factory() -> AppFactory:
    """The factory handed in by `marac-gateway` or, under `flask --app`, by the app."""
    from flask import current_app, has_app_context

    wiring = click.get_current_context().find_object(Wiring)
    if wiring is not None:
        return wiring.create_app
    found = current_app.extensions.get(APP_FACTORY_KEY) if has_app_context() else None
    if found is None:
        raise click.ClickException("no app factory: run this as `marac-gateway serve`")
    return found  # type: ignore[no-any-return]

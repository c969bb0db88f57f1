"""The root of `marac-gateway` (DESIGN section 4, binding verbs): the command group, the
groups other modules extend, and how every command reports a refusal (a clear message on
stderr and exit status 1; nothing half-written).

Every command is also reachable as `flask --app wsgi ...`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask, current_app, has_app_context

from gateway import logs
from gateway.config import ConfigError, Settings
from gateway.errors import DomainError
from gateway.node import Node, build_node
from keys import MasterKeyError

F = TypeVar("F", bound=Callable[..., Any])


def current_node() -> Node:
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


@click.group(help="MARAC Exchange Gateway node administration.")
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


AppFactory = Callable[[Settings], Flask]
APP_FACTORY_KEY = "gateway.create_app"


@dataclass(frozen=True)
class Wiring:
    """What the entry point hands the CLI: the app factory, which `serve` runs under
    gunicorn (the CLI never imports the app module, which imports the CLI)."""

    create_app: AppFactory


def app_factory() -> AppFactory:
    """The factory handed in by `marac-gateway` or, under `flask --app`, by the app."""
    wiring = click.get_current_context().find_object(Wiring)
    if wiring is not None:
        return wiring.create_app
    found = current_app.extensions.get(APP_FACTORY_KEY) if has_app_context() else None
    if found is None:
        raise click.ClickException("no app factory: run this as `marac-gateway serve`")
    return found  # type: ignore[no-any-return]

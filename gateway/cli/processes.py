"""The node's processes: the web app under gunicorn, the worker, and the demo."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.cli.root import app_factory, current_node, friendly, main
from gateway.config import Settings
from gateway.readiness import startup_checks


# --- processes --------------------------------------------------------------------------
@main.command()
@click.option("--host", help="[default: 127.0.0.1, or the config file's bind]")
@click.option("--port", type=int, help="[default: 5000, or the config file's bind]")
@click.option("--workers", type=int, help="[default: 2, or the config file's workers]")
@click.option(
    "-c",
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="GATEWAY_GUNICORN_CONFIG",
    help="A gunicorn configuration file (e.g. deploy/gunicorn.conf.py); GUNICORN_CMD_ARGS "
    "and the options above override it.",
)
@friendly
def serve(
    host: str | None, port: int | None, workers: int | None, config_file: Path | None
) -> None:
    """Run the web app under gunicorn."""
    from gateway.serve import run_gunicorn

    settings = Settings.from_env()
    settings.check_web()
    startup_checks(current_node())
    run_gunicorn(app_factory(), host=host, port=port, workers=workers, config_file=config_file)


@main.command()
@click.option("--once", is_flag=True, help="Deliver what is due, then exit.")
@friendly
def worker(once: bool) -> None:
    """Deliver the outbox, send notifications and reminders (and, as it lands, expire flags)."""
    from gateway.worker import run_worker

    node = current_node()
    startup_checks(node)
    handled = run_worker(node, once=once)
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
    from gateway.devtools.demo import run_demo

    sys.exit(run_demo(Path(workdir), exit_after=exit_after))

"""Backup and restore of a node's database (README "Backup and restore"). The master key
is never in a backup; it is kept apart, and a restore needs the node's own key file."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import click

from adapters.db import upgrade
from adapters.db.backup import BackupError, backup, restore
from gateway.cli.root import current_node, friendly, main
from gateway.domain.areas import local_areas
from gateway.domain.audit import restores
from gateway.domain.clock import utcnow


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@friendly
def backup_command(file: Path) -> None:
    """Write a consistent copy of the database to FILE while the node runs."""
    node = current_node()
    try:
        backup(node.settings.database_url, file)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backup written to {file} (mode 0600)")
    click.echo("the master key is not in it: keep the key file's offline copy apart")


@main.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@friendly
def restore_command(file: Path, yes: bool) -> None:
    """Replace the database with the backup FILE and declare the restore to peers.
    Stop `serve` and `worker` first."""
    if not yes:
        click.confirm(
            "This replaces the node's database. Are serve and worker stopped?", abort=True
        )
    node = current_node()
    node.engine.dispose()
    try:
        restore(node.settings.database_url, file)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    node.engine.dispose()
    upgrade(node.engine)  # a backup from an older release
    with node.sessions() as session:
        failing = local_areas.areas_whose_keys_do_not_open(session, node.master, utcnow())
        if failing:
            raise click.ClickException(
                f"{failing} area(s) have keys that do not open under this master key: "
                "put back the node's own key file (GATEWAY_MASTER_KEY_FILE) and restore again"
            )
        declared = restores.declare_restored(session, node.master, utcnow())
    _wait_for_the_next_second(declared)
    click.echo(f"database restored from {file}")
    for made in declared:
        click.echo(
            f"{made.area}: audit log restored at {made.size} entries; the restore is declared "
            "to peers with the next disclosure and consistency check"
        )


def _wait_for_the_next_second(declared: list[restores.Declared]) -> None:
    """Signed times are whole seconds: the node's next checkpoint must come after the
    declaration's second, or a peer could not tell it from the ones the restore lost."""
    if declared:
        left = (declared[0].issued_at + timedelta(seconds=1) - utcnow()).total_seconds()
        time.sleep(max(0.0, left))

"""`flags expire` (the worker does it too) and `flags policy` (what an area shares)."""

from __future__ import annotations

import click

from gateway.cli.root import current_node, friendly, main
from gateway.domain.clock import utcnow
from gateway.domain.flags import lifecycle
from gateway.domain.identity.actors import Actor


@main.group("flags")
def flags_group() -> None:
    """Shared flags."""


@flags_group.command("expire")
@friendly
def flags_expire() -> None:
    """Expire flags whose 12 months have lapsed, tell the index and originating areas."""
    node = current_node()
    with node.sessions() as session:
        expired = lifecycle.expire_due(session, node.flag_roles, utcnow())
        purged = lifecycle.purge_index(session, utcnow())
    click.echo(f"expired {expired} flag(s); the index dropped {purged} lapsed token(s)")


@flags_group.command("policy")
@click.argument("area_code")
@click.option("--perpetrators/--no-perpetrators", default=None, help="Share perpetrators.")
@click.option("--children/--no-children", default=None, help="Share children.")
@friendly
def flags_policy(area_code: str, perpetrators: bool | None, children: bool | None) -> None:
    """Show or change which subjects an area's flags share with other areas (new flags)."""
    node = current_node()
    with node.sessions() as session:
        shared = lifecycle.set_policy(
            session, area_code, perpetrators, children, Actor.operator(), utcnow()
        )
    click.echo(f"{area_code} shares: {', '.join(sorted(shared))}")

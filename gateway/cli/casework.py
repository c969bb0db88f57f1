"""`transfer withdraw` and `transfer forward`: casework at the node's command line.
The operator acts as `operator` in the audit."""

from __future__ import annotations

import json
from typing import TextIO

import click

from gateway.cli.root import current_node, friendly, transfer
from gateway.domain.casework import forwarding, withdrawal
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import Principal
from schemas.wire.withdrawal import REASONS


@transfer.command("withdraw")
@click.argument("transfer_id")
@click.option("--reason", required=True, type=click.Choice(REASONS))
@click.option("--by", "by_name", required=True, help="Who decided the withdrawal.")
@click.option("--role", "by_role", required=True, help="Their role, e.g. MARAC coordinator.")
@click.option("--note", default=None, help="Sealed for the receiving area; never logged.")
@friendly
def transfer_withdraw(
    transfer_id: str, reason: str, by_name: str, by_role: str, note: str | None
) -> None:
    """Take back a transfer this node sent (before or after delivery)."""
    node = current_node()
    body = {"reason": reason, "note": note, "withdrawn_by": {"name": by_name, "role": by_role}}
    with node.sessions() as session:
        done = withdrawal.withdraw(
            session, node.master, Principal.operator(), transfer_id, body, utcnow()
        )
    click.echo(f"{done.id}\t{done.status}")


@transfer.command("forward")
@click.argument("transfer_id")
@click.argument("decision", type=click.File("r", encoding="utf-8"))
@click.option("--to", "to_area", required=True, help="The third area (a grant must be recorded).")
@friendly
def transfer_forward(transfer_id: str, decision: TextIO, to_area: str) -> None:
    """Forward a received case to a third area with the originating area's permission.
    DECISION is a JSON file `{"sender": {...}, "consent": {...}}`: this area's own
    sender details and consent decision, as in a transfer request (seed 004 ISP 3.4),
    and optionally `"documents": [<id>, ...]`, documents the grant covers."""
    node = current_node()
    try:
        own = json.load(decision)
    except ValueError as exc:
        raise click.UsageError("DECISION is not JSON.") from exc
    if not isinstance(own, dict):
        raise click.UsageError("DECISION must be a JSON object.")
    body = {**own, "to_area": to_area}
    with node.sessions() as session:
        sent = forwarding.forward(
            session, node.master, Principal.operator(), transfer_id, body, utcnow()
        )
    click.echo(f"{sent.id}\t{sent.status}\tenvelope {sent.envelope_id}")

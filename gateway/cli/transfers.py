"""Sending and listing transfers from the command line."""

from __future__ import annotations

import json

import click

from gateway.cli.root import current_node, friendly, read_json, transfer
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import reading, sending


@transfer.command("send")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--from", "from_area", required=True)
@click.option("--to", "to_area", required=True)
@friendly
def transfer_send(file: str, from_area: str, to_area: str) -> None:
    """Validate, seal and queue a transfer_request; the worker delivers it."""
    node = current_node()
    with node.sessions() as session:
        sent = sending.send(
            session,
            node.master,
            Principal.operator(),
            sending.addressed(read_json(file), from_area, to_area),
            utcnow(),
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

"""`marac-gateway transfer attach TRANSFER_ID FILE --kind KIND`: send a document about a
transfer from the command line (operator automation).

The same rules as the API: the file is judged by its content, never its name (which is
neither stored nor sent); it is bounded by GATEWAY_DOCUMENT_MAX_BYTES; it is sealed to the
peer, logged and queued for the worker in one transaction.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import click

from gateway.cli.root import current_node, friendly
from gateway.cli.root import transfer as transfer_group
from gateway.domain.casework import documents
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import Principal
from schemas.wire.document import KINDS


def _read_bounded(path: str, limit: int) -> bytes:
    try:
        with Path(path).open("rb") as handle:
            content = handle.read(limit + 1)
    except FileNotFoundError:
        raise click.ClickException(f"{path}: no such file") from None
    except IsADirectoryError:
        raise click.ClickException(f"{path}: is a directory") from None
    except PermissionError:
        raise click.ClickException(f"{path}: not readable") from None
    return content


def _uuid(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    try:
        if str(uuid.UUID(value)) == value:
            return value
    except ValueError:
        pass
    raise click.ClickException(f"{what} must be a canonical UUID")


@transfer_group.command("attach")
@click.argument("transfer_id")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--kind", required=True, type=click.Choice(KINDS), help="What the document is.")
@click.option("--answers", default=None, help="The information request it answers (its id).")
@friendly
def transfer_attach(transfer_id: str, file: str, kind: str, answers: str | None) -> None:
    """Seal FILE to the transfer's other area and queue it; the worker delivers it."""
    node = current_node()
    transfer_id = _uuid(transfer_id, "TRANSFER_ID") or transfer_id
    limit = node.settings.document_max_bytes
    outgoing = documents.file_upload(
        kind, _read_bounded(file, limit), _uuid(answers, "--answers"), limit
    )
    with node.sessions() as session:
        sent = documents.send_document(
            session, node.master, Principal.operator(), transfer_id, outgoing, utcnow()
        )
    click.echo(f"{sent.id}\t{sent.kind}\t{sent.media_type}\t{sent.size} bytes\tqueued")

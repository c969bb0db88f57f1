"""CLI: the workflow verbs for automation (drafts, approval, acknowledgement, timeline) and
an area's meeting dates and acknowledgement limit.

Who acts: the operator holds the master key and may save and send drafts as `transfer
send` does. Approval and acknowledgement are decisions of people, so those verbs name the
person (`--chair`, `--coordinator`) who must hold that role in the transfer's area, and
every rule of the API applies to them unchanged (four eyes: never the creator); the audit
names that person.
"""

from __future__ import annotations

import json
from datetime import datetime

import click

from gateway.cli.root import area, current_node, friendly, read_json, transfer
from gateway.domain.casework import acknowledgements, chair_approval
from gateway.domain.clock import utcnow
from gateway.domain.identity import users
from gateway.domain.identity.principals import CHAIR, COORDINATOR, Principal
from gateway.domain.schedule import meetings
from gateway.domain.transfers import drafts, reading, sending


def _print(view: reading.TransferView) -> None:
    click.echo(f"{view.id}\t{view.status}\tenvelope {view.envelope_id}")


def _acting(email: str, transfer_id: str, role: str) -> Principal:
    """The named person, who must hold `role` in the transfer's own area."""
    node = current_node()
    with node.sessions() as session:
        return users.acting_on_transfer(session, email, transfer_id, role)


# --- transfer -----------------------------------------------------------------------------


@transfer.command("draft")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--from", "from_area", required=True)
@click.option("--to", "to_area", required=True)
@friendly
def transfer_draft(file: str, from_area: str, to_area: str) -> None:
    """Validate and save a transfer_request as a draft: sealed to the sending area's own
    key, nothing sent until `transfer send-draft`."""
    node = current_node()
    with node.sessions() as session:
        saved = drafts.save_draft(
            session,
            node.master,
            Principal.operator(),
            sending.addressed(read_json(file), from_area, to_area),
            utcnow(),
        )
    _print(saved)


@transfer.command("send-draft")
@click.argument("transfer_id")
@friendly
def transfer_send_draft(transfer_id: str) -> None:
    """Seal a draft to its recipient and queue it (or hold it for a chair's approval)."""
    node = current_node()
    with node.sessions() as session:
        sent = drafts.send_draft(session, node.master, Principal.operator(), transfer_id, utcnow())
    _print(sent)


@transfer.command("approve")
@click.argument("transfer_id")
@click.option("--chair", "email", required=True, help="The approving chair's email.")
@friendly
def transfer_approve(transfer_id: str, email: str) -> None:
    """Record a chair's approval of a held transfer (never its creator's) and queue it."""
    principal = _acting(email, transfer_id, CHAIR)
    node = current_node()
    with node.sessions() as session:
        approved = chair_approval.approve(session, node.master, principal, transfer_id, utcnow())
    _print(approved)


@transfer.command("acknowledge")
@click.argument("transfer_id")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--coordinator", "email", required=True, help="The acknowledging coordinator.")
@friendly
def transfer_acknowledge(transfer_id: str, file: str, email: str) -> None:
    """Acknowledge an inbound transfer with FILE (the acknowledgement JSON body)."""
    body = read_json(file)
    principal = _acting(email, transfer_id, COORDINATOR)
    node = current_node()
    with node.sessions() as session:
        answered = acknowledgements.acknowledge(
            session, node.master, principal, transfer_id, body, utcnow()
        )
    _print(answered)


@transfer.command("timeline")
@click.argument("transfer_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@friendly
def transfer_timeline(transfer_id: str, as_json: bool) -> None:
    """Every step of a transfer as this node saw it; metadata only."""
    node = current_node()
    with node.sessions() as session:
        _, steps = reading.transfer_timeline(session, Principal.operator(), transfer_id)
    for step in steps:
        actor = step.actor or {}
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "at": step.at.isoformat(),
                        "kind": step.kind,
                        "actor": actor or None,
                        "envelope_id": step.envelope_id,
                        "detail": dict(step.detail),
                    },
                    sort_keys=True,
                )
            )
        else:
            who = f"{actor.get('kind', '-')}:{actor.get('id', '-')}"
            click.echo(f"{step.at.isoformat()}\t{step.kind}\t{who}")


# --- area ---------------------------------------------------------------------------------


@area.command("meetings")
@click.argument("code")
@click.option("--add", "added", multiple=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--remove", "removed", multiple=True, type=click.DateTime(["%Y-%m-%d"]))
@friendly
def area_meetings(code: str, added: tuple[datetime, ...], removed: tuple[datetime, ...]) -> None:
    """Show the area's meeting dates; --add / --remove DATE (YYYY-MM-DD, repeatable)."""
    node = current_node()
    add = [moment.date() for moment in added]
    remove = [moment.date() for moment in removed]
    with node.sessions() as session:
        if add or remove:
            found = meetings.set_meetings(
                session, Principal.operator(), code, add=add, remove=remove, now=utcnow()
            )
        else:
            found = meetings.schedule(session, Principal.operator(), code)
    if not found.meeting_dates:
        click.echo(f"{code}: no meeting dates set (any listing date is accepted)")
    for day in found.meeting_dates:
        click.echo(day.isoformat())


@area.command("set")
@click.argument("code")
@click.option(
    "--ack-days",
    type=int,
    help="Working days to acknowledge a received transfer (default 2).",
)
@click.option(
    "--deadline-days",
    type=int,
    help="Working days before each meeting by which a referral must arrive (default 0).",
)
@friendly
def area_set(code: str, ack_days: int | None, deadline_days: int | None) -> None:
    """Set the area's acknowledgement limit and referral deadline in working days
    (England and Wales); an option left out stays as it is."""
    if ack_days is None and deadline_days is None:
        raise click.UsageError("Give --ack-days, --deadline-days or both.")
    node = current_node()
    with node.sessions() as session:
        found = meetings.set_settings(
            session,
            Principal.operator(),
            code,
            now=utcnow(),
            ack_working_days=ack_days,
            referral_deadline_working_days=deadline_days,
        )
    click.echo(
        f"{found.area}: acknowledgement limit {found.ack_working_days} working days, "
        f"referral deadline {found.referral_deadline_working_days} working days before a meeting"
    )

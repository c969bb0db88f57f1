"""CLI: retention. `retention purge` runs the schedule (DESIGN section 4); `--dry-run` lists
what is due and what a legal hold keeps, with the reason, in counts and opaque ids only.

Holding, lifting and purging early are decisions of people (seed 004 ISP 8.4-8.6,
9.7-9.8), so those verbs name the person (`--by`), a coordinator or chair of the case's
area, and every rule of the API applies to them; the audit names that person.
"""

from __future__ import annotations

import click

from adapters.db.grants import PURGED_TABLES
from adapters.db.session import reclaim
from gateway.cli.root import current_node, friendly, main
from gateway.domain import retention
from gateway.domain.clock import utcnow
from gateway.domain.identity import users
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import CHAIR, COORDINATOR, Principal
from gateway.errors import Forbidden
from schemas.api.retention import EARLY_PURGE, HOLD, LIFT, REASONS


@main.group("retention")
def retention_group() -> None:
    """Case content retention: the schedule, legal holds and early purges."""


@retention_group.command("purge")
@click.option("--area", "area_code", help="One area (default: every area on this node).")
@click.option("--dry-run", is_flag=True, help="List what is due and why; change nothing.")
@friendly
def retention_purge(area_code: str | None, dry_run: bool) -> None:
    """Purge case content past each area's retention period; the audit stays verifiable.
    Cases under a legal hold are kept (and listed)."""
    node = current_node()
    with node.sessions() as session:
        found = retention.purge(
            session,
            now=utcnow(),
            default_months=node.settings.retention_months,
            area=area_code,
            dry_run=dry_run,
            actor=Actor.operator(),
        )
    skipped = [] if dry_run else reclaim(node.engine, PURGED_TABLES)
    verb = "would purge" if dry_run else "purged"
    for report in found:
        since = f"{report.cutoff:%Y-%m-%d}"
        click.echo(
            f"{report.area}: {verb} {report.transfers} case(s), {report.envelopes} envelope(s) "
            f"with no activity since {since}; {report.flags} flag(s) "
            f"that ended before then; {len(report.held)} case(s) kept under a legal hold"
        )
        if dry_run:
            for transfer_id in report.transfer_ids:
                click.echo(f"{report.area}: due {transfer_id}: no activity since {since}")
        for transfer_id, reason in report.held:
            click.echo(f"{report.area}: held {transfer_id}: legal hold ({reason})")
    if skipped:
        # The rows are gone, but PostgreSQL keeps their old versions until a VACUUM,
        # which before version 17 only the tables' owner may run.
        click.echo(
            f"WARNING: not vacuumed (this role does not own them): {', '.join(skipped)}. "
            f"The purged content stays on disk until the owner runs: VACUUM "
            f"{', '.join(skipped)};",
            err=True,
        )


def _acting(email: str, transfer_id: str) -> Principal:
    """The named person: a coordinator, else a chair, of the transfer's own area."""
    node = current_node()
    for role in (COORDINATOR, CHAIR):
        try:
            with node.sessions() as session:
                return users.acting_on_transfer(session, email, transfer_id, role)
        except Forbidden:
            continue
    raise Forbidden("That user is neither a coordinator nor a chair of the case's area.")


def _decide(transfer_id: str, decision: str, reason: str, note: str, email: str) -> None:
    principal = _acting(email, transfer_id)
    node = current_node()
    with node.sessions() as session:
        done = retention.decide(
            session,
            node.master,
            principal,
            transfer_id,
            decision,
            {"reason": reason, "note": note},
            utcnow(),
        )
    if decision == EARLY_PURGE:
        reclaim(node.engine, PURGED_TABLES)
    state = f"held ({done.legal_hold})" if done.legal_hold else "not held"
    if done.purged_at is not None:
        state = "purged"
    click.echo(f"{done.transfer_id}\t{state}\tdecision {done.decision}")


def _decision_options(decision: str) -> click.Command:
    """The one shape of the three decision verbs."""

    @click.argument("transfer_id")
    @click.option("--reason", required=True, type=click.Choice(REASONS[decision]))
    @click.option("--note", required=True, help="Why, in words (kept sealed).")
    @click.option("--by", "email", required=True, help="The deciding coordinator or chair.")
    @friendly
    def command(transfer_id: str, reason: str, note: str, email: str) -> None:
        _decide(transfer_id, decision, reason, note, email)

    return click.command()(command)


HELP = {
    HOLD: ("hold", "Set a legal hold on this area's copy of a case: the purge keeps it."),
    LIFT: ("lift", "Lift a case's legal hold: the retention schedule applies again."),
    EARLY_PURGE: ("purge-case", "Purge one case's content now (metadata and audit stay)."),
}
for _decision, (_name, _help) in HELP.items():
    _command = _decision_options(_decision)
    _command.name, _command.help = _name, _help
    retention_group.add_command(_command)

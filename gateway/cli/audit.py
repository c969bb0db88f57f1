"""CLI: the disclosure audit (verify, export, subject access, reports, checkpoints);
retention is in `retention`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from gateway.cli.root import current_node, friendly, main
from gateway.domain.areas import local_areas
from gateway.domain.audit import checkpoints, export, reports, subject, verify, witness
from gateway.domain.clock import utcnow
from gateway.domain.identity.actors import Actor
from gateway.node import Node


# --- audit ------------------------------------------------------------------------------
@main.group("audit")
def audit_group() -> None:
    """The disclosure audit: verify, export, subject access, checkpoints."""


def _local_areas(node: Node, only: str | None) -> list[str]:
    with node.sessions() as session:
        return local_areas.area_codes(session, only)


@audit_group.command("verify")
@click.option("--area", "area_code", help="One area (default: every area on this node).")
@click.option("--peer", help="Ask this peer area to prove its log extends what we hold.")
@click.option("--deep", is_flag=True, help="Also parse and schema-check every leaf (slower).")
@click.option("--json", "as_json", is_flag=True)
@friendly
def audit_verify(area_code: str | None, peer: str | None, deep: bool, as_json: bool) -> None:
    """Recompute the whole tree and every checkpoint; exit 1 on any problem."""
    node = current_node()
    if peer is not None:
        with node.sessions() as session:
            report = witness.verify_peer(session, node.master, node.client, peer, utcnow())
        _print_peer(report, as_json)
        sys.exit(0 if report.ok else 1)
    failed = False
    for code in _local_areas(node, area_code):
        with node.sessions() as session:
            result = verify.verify_area(session, code, deep=deep)
        failed = failed or not result.ok
        _print_log(result, as_json)
    sys.exit(1 if failed else 0)


def _print_log(result: verify.LogReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    summary = f"{result.area}: {result.entries} entries, {result.checkpoints} checkpoint(s)"
    if result.ok:
        click.echo(f"{summary}: OK (root {result.root})")
        return
    click.echo(f"{summary}: FAILED", err=True)
    first = result.first_bad
    if first is not None and first.seq is not None:
        click.echo(f"  first bad entry: {first.seq}: {first.what}", err=True)
    for problem in result.problems:
        where = f"entry {problem.seq}" if problem.seq is not None else "log"
        click.echo(f"  {where}: {problem.what}", err=True)


def _print_peer(report: witness.PeerReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict()))
        return
    sizes = ", ".join(str(s) for s in report.checked_sizes)
    if report.lost_sizes:
        lost = ", ".join(str(s) for s in sorted(report.lost_sizes))
        click.echo(f"{report.peer}: restored from a backup; checkpoints lost: {lost}")
    if report.ok:
        witnessed = "co-signed" if report.cosigned else "co-signature not accepted"
        click.echo(f"{report.peer}: consistent from {sizes} to {report.size}: OK ({witnessed})")
        return
    click.echo(f"{report.peer}: INCONSISTENT", err=True)
    for problem in report.problems:
        click.echo(f"  {problem}", err=True)


@audit_group.command("export")
@click.option("--area", "area_code", required=True)
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--format", "fmt", required=True, type=click.Choice(export.FORMATS))
@click.option("--output", type=click.Path(dir_okay=False), help="File (default: stdout).")
@friendly
def audit_export(
    area_code: str, start: datetime, end: datetime, fmt: str, output: str | None
) -> None:
    """Events between two dates (inclusive), content-free, as CSV or JSON lines."""
    if end < start:
        raise click.BadParameter("--to is before --from")
    node = current_node()
    _local_areas(node, area_code)  # an unknown area is refused before any file is made
    with node.sessions() as session:
        lines = export.export(
            session,
            node.master,
            area_code,
            start.date(),
            end.date(),
            fmt,
            actor=Actor.operator(),
            now=utcnow(),
        )
        if output is None:
            for line in lines:
                click.echo(line)
            return
        _write_whole(Path(output), lines)


def _write_whole(path: Path, lines: Iterator[str]) -> None:
    """All or nothing: a refused or interrupted export leaves no partial file behind."""
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as sink:
            for line in lines:
                sink.write(line + "\n")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


@audit_group.command("subject")
@click.option("--area", "area_code", required=True)
@click.option("--json", "as_json", is_flag=True)
@friendly
def audit_subject(area_code: str, as_json: bool) -> None:
    """Every disclosure concerning a person (subject access, court orders).

    The name and date of birth are asked for at the prompt (or read from stdin), never
    taken as arguments, so they stay out of shell history and process lists.
    """
    given = click.prompt("Given names", err=True).strip()
    family = click.prompt("Family name (blank: any)", default="", show_default=False, err=True)
    born = click.prompt("Date of birth (YYYY-MM-DD)", type=click.DateTime(["%Y-%m-%d"]), err=True)
    person = subject.Person(given, family.strip() or None, born.date())
    node = current_node()
    with node.sessions() as session:
        found = subject.search(
            session, node.master, area_code, person, actor=Actor.operator(), now=utcnow()
        ).disclosures
    if as_json:
        click.echo(json.dumps({"area": area_code, "disclosures": found}, indent=2))
        return
    click.echo(subject_report(area_code, found))


def subject_report(area_code: str, found: list[dict[str, Any]]) -> str:
    lines = [
        f"Subject access search, {area_code}, {utcnow():%Y-%m-%d %H:%M} UTC",
        f"Disclosures found: {len(found)}",
        "Before release, consider exemptions (e.g. where disclosure would put the victim or "
        "another person at risk) with the data protection officer.",
    ]
    for number, item in enumerate(found, 1):
        bases = "; ".join(f"{b['label']} [{b['code']}]" for b in item["legal_basis"])
        lines += [
            "",
            f"{number}. {item['created_at']}  {item['direction']}  "
            f"{item['disclosed_by']} -> {item['disclosed_to']}",
            f"   concerning the person as: {', '.join(item['roles'])}",
            f"   consent: {item['consent']} (victim informed: {item['victim_informed']}, "
            f"decided {item['decision_forum']})",
            f"   legal basis: {bases or 'consent'}",
            f"   status: {item['status']}, delivered {item['delivered_at'] or '-'}",
            f"   transfer {item['transfer']}, envelope {item['envelope']}",
        ]
        if item["audit"]:
            lines.append(
                f"   audit entry {item['audit']['seq']} (leaf {item['audit']['leaf_hash']})"
            )
    return "\n".join(lines)


@audit_group.command("report")
@click.option("--area", "area_code", required=True)
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--period", type=click.Choice(reports.PERIODS), default="month", show_default=True)
@friendly
def audit_report(area_code: str, start: datetime, end: datetime, period: str) -> None:
    """Disclosure counts and delivery times (JSON)."""
    if end < start:
        raise click.BadParameter("--to is before --from")
    node = current_node()
    with node.sessions() as session:
        result = reports.disclosures(session, area_code, start.date(), end.date(), period)
    click.echo(json.dumps(result, indent=2))


@audit_group.command("checkpoint")
@click.option("--area", "area_code", help="One area (default: every area on this node).")
@friendly
def audit_checkpoint(area_code: str | None) -> None:
    """Sign a checkpoint of the log now."""
    node = current_node()
    for code in _local_areas(node, area_code):
        with node.sessions() as session:
            made = checkpoints.issue_now(session, node.master, code, utcnow())
        click.echo(f"{code}: checkpoint of size {made.size}, root {made.root.hex()}")

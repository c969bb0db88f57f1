"""`audit verify`: recompute an area's whole tree from its leaves, compare every stored
hash, every checkpoint's root and signature, and name the first bad entry.

One streaming pass in sequence order keeps memory flat: the frontier (a few dozen hashes)
is all the state the recomputation needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import AreaKey, AuditCheckpoint, AuditEvent, AuditHead
from gateway.domain.areas import get_area
from gateway.domain.audit.checkpoints import read_signed, root_of
from gateway.domain.audit.log import format_at
from keys import CryptoError, canonical_json
from keys.merkle import Frontier, leaf_hash

MAX_PROBLEMS = 50
BATCH = 5_000


@dataclass(frozen=True)
class Problem:
    seq: int | None  # the entry at fault, or None for a checkpoint or the head
    what: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "problem": self.what}


@dataclass
class LogReport:
    area: str
    entries: int = 0
    checkpoints: int = 0
    root: str | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad(self) -> Problem | None:
        """The lowest entry at fault; failing that, the first problem found."""
        entries = [p for p in self.problems if p.seq is not None]
        if entries:
            return min(entries, key=lambda p: p.seq or 0)
        return self.problems[0] if self.problems else None

    def add(self, seq: int | None, what: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(seq, what))

    def as_dict(self) -> dict[str, Any]:
        return {
            "area": self.area,
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "root": self.root,
            "first_bad": self.first_bad.as_dict() if self.first_bad else None,
            "problems": [p.as_dict() for p in self.problems],
        }


def verify_log(session: Session, area: str) -> LogReport:
    """Read-only; run inside a transaction so the log does not move underneath."""
    get_area(session, area)
    report = LogReport(area)
    checkpoints = _checkpoints(session, area, report)
    frontier = Frontier()
    pending = iter(checkpoints)
    due = next(pending, None)
    rows = session.execute(
        select(
            AuditEvent.seq,
            AuditEvent.leaf,
            AuditEvent.leaf_hash,
            AuditEvent.subtrees,
            AuditEvent.action,
            AuditEvent.at,
        )
        .where(AuditEvent.area_code == area)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=BATCH)
    )
    for seq, leaf, stored_hash, subtrees, action, at in rows:
        if seq != frontier.size:
            report.add(frontier.size, f"entries {frontier.size} to {seq - 1} are missing")
            break
        _check_entry(report, area, seq, leaf, stored_hash, action, format_at(at))
        # The stored hash feeds the tree: a changed leaf is then named alone, while a
        # changed hash also breaks the subtrees and checkpoints that cover it.
        if b"".join(frontier.append(stored_hash)) != subtrees:
            report.add(seq, "the stored subtree hashes do not match the tree (rewritten)")
        while due is not None and due.size == frontier.size:
            _check_root(report, due, frontier.root())
            due = next(pending, None)
    report.entries = frontier.size
    report.root = frontier.root().hex()
    for beyond in [due, *pending] if due is not None else []:
        report.add(
            None,
            f"checkpoint of size {beyond.size} covers entries the log no longer has (truncated)",
        )
    _check_head(session, report, area, frontier)
    return report


def _check_entry(
    report: LogReport, area: str, seq: int, leaf: str, stored: bytes, action: str, at: str
) -> None:
    encoded = leaf.encode("utf-8")
    if leaf_hash(encoded) != stored:
        report.add(seq, "the entry does not match its hash (modified)")
        return
    try:
        parsed = json.loads(encoded)
        canonical = canonical_json(parsed) == encoded
    except ValueError:
        report.add(seq, "the entry is not JSON")
        return
    if not canonical or not isinstance(parsed, dict):
        report.add(seq, "the entry is not canonical JSON")
    elif parsed.get("seq") != seq or parsed.get("area") != area:
        report.add(seq, f"the entry states position {parsed.get('seq')} (reordered or inserted)")
    elif parsed.get("action") != action or parsed.get("at") != at:
        report.add(seq, "the indexed action or time disagrees with the entry")


def _checkpoints(session: Session, area: str, report: LogReport) -> list[AuditCheckpoint]:
    rows = list(
        session.scalars(
            select(AuditCheckpoint)
            .where(AuditCheckpoint.area_code == area)
            .order_by(AuditCheckpoint.size, AuditCheckpoint.id)
        )
    )
    keys = {
        row.key_id: row.signing_public
        for row in session.scalars(select(AreaKey).where(AreaKey.area_code == area))
    }
    for row in rows:
        _check_signature(report, row, keys.get(row.key_id))
    report.checkpoints = len(rows)
    return rows


def _check_signature(report: LogReport, row: AuditCheckpoint, key: bytes | None) -> None:
    where = f"checkpoint of size {row.size} issued {row.issued_at:%Y-%m-%d %H:%M:%S}"
    if key is None:
        report.add(None, f"{where} names a key this area never had")
        return
    try:
        body = read_signed(json.loads(row.document), key)
    except (CryptoError, ValueError):
        report.add(None, f"{where}: the signature does not verify (forged or altered)")
        return
    if (body.area, body.size, root_of(body), body.key) != (
        row.area_code,
        row.size,
        row.root,
        row.key_id,
    ):
        report.add(None, f"{where}: the stored columns disagree with the signed document")


def _check_root(report: LogReport, row: AuditCheckpoint, root: bytes) -> None:
    if row.root != root:
        report.add(
            row.size - 1,
            f"checkpoint of size {row.size} signed a different root (log rewritten or forked)",
        )


def _check_head(session: Session, report: LogReport, area: str, frontier: Frontier) -> None:
    head = session.get(AuditHead, area)
    if head is None:
        report.add(None, "the area has no log head")
    elif head.size != frontier.size or head.frontier != frontier.to_bytes():
        report.add(None, f"the head says {head.size} entries but the log has {frontier.size}")

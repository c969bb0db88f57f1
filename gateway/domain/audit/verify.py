"""`audit verify`: recompute an area's whole tree from its leaves, compare every stored
hash, every checkpoint's root and signature, and name the first bad entry.

One streaming pass in sequence order keeps memory flat: the frontier (a few dozen hashes)
is all the state the recomputation needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import AreaKey, AuditCheckpoint, AuditHead
from adapters.db.session import param_mark, read_only
from gateway.domain.areas.local_areas import get_area
from gateway.domain.audit.checkpoints import read_signed, root_of
from gateway.domain.audit.log import format_at
from gateway.domain.transaction import owns_transaction
from keys import CryptoError, canonical_json
from keys.merkle import Frontier, leaf_hash
from schemas.wire.audit_evidence import LeafSchema

MAX_PROBLEMS = 50
LEAF_SCHEMA = LeafSchema()  # built once: a marshmallow schema costs far more to build than to use
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


def verify_log(session: Session, area: str, *, deep: bool = False) -> LogReport:
    """Read-only, on one snapshot of the database (see `read_only`), so the log does not
    move underneath and the writers are not held up. `deep` also parses every leaf and
    checks it is canonical JSON of the expected shape; the default checks the fields the
    log relies on (position, area, action, time) straight from the canonical text."""
    read_only(session, snapshot=True)
    get_area(session, area)
    report = LogReport(area)
    checkpoints = _checkpoints(session, area, report)
    frontier = Frontier()
    pending = iter(checkpoints)
    due = next(pending, None)
    check = _check_deep if deep else _check_fields
    for seq, leaf, stored_hash, subtrees, action, at in _stream(session, area):
        if seq != frontier.size:
            report.add(frontier.size, f"entries {frontier.size} to {seq - 1} are missing")
            break
        stored_hash, subtrees = bytes(stored_hash), bytes(subtrees)
        if leaf_hash(leaf.encode("ascii", "replace")) != stored_hash:
            report.add(seq, "the entry does not match its hash (modified)")
        else:
            check(report, area, seq, leaf, action, _leaf_time(at))
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


def _stream(session: Session, area: str) -> Iterator[Any]:
    """The rows straight from the driver: at a million rows, SQLAlchemy's per-row type
    processing would cost more than all the hashing."""
    connection = session.connection()
    mark = param_mark(connection)
    result = connection.exec_driver_sql(
        "SELECT seq, leaf, leaf_hash, subtrees, action, at FROM audit_events "  # noqa: S608
        f"WHERE area_code = {mark} ORDER BY seq",
        (area,),
        execution_options={"stream_results": True, "yield_per": BATCH},
    )
    yield from result


def _leaf_time(at: Any) -> str:
    """The stored time as the leaf writes it. SQLite hands back the text SQLAlchemy stored
    ('YYYY-MM-DD HH:MM:SS.ffffff', UTC); PostgreSQL a timezone-aware datetime."""
    if isinstance(at, str):
        return f"{at[:10]}T{at[11:23]}Z"
    return format_at(at)


def _check_fields(report: LogReport, area: str, seq: int, leaf: str, action: str, at: str) -> None:
    """Canonical JSON sorts keys, so the top-level fields sit at fixed places: `action`
    first, `area` and `at` right after the actor object, `seq` and `v` last."""
    if not leaf.endswith(f',"seq":{seq},"v":1}}'):
        report.add(seq, "the entry states another position (reordered or inserted)")
    elif not leaf.startswith(f'{{"action":"{action}","actor":{{'):
        report.add(seq, "the indexed action disagrees with the entry")
    elif f'}},"area":"{area}","at":"{at}","commitment":' not in leaf:
        report.add(seq, "the entry's area or time disagrees with the log")


def _check_deep(report: LogReport, area: str, seq: int, leaf: str, action: str, at: str) -> None:
    try:
        parsed = json.loads(leaf)
    except ValueError:
        report.add(seq, "the entry is not JSON")
        return
    if not isinstance(parsed, dict) or canonical_json(parsed) != leaf.encode("ascii", "replace"):
        report.add(seq, "the entry is not canonical JSON")
        return
    problems = LEAF_SCHEMA.validate(parsed)
    if problems:
        report.add(seq, f"the entry's fields are not valid: {', '.join(sorted(problems))}")
        return
    _check_fields(report, area, seq, leaf, action, at)


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


@owns_transaction
def verify_area(session: Session, area: str, *, deep: bool = False) -> LogReport:
    """`verify_log` in a read-only transaction of its own: verify the log now."""
    with session.begin():
        return verify_log(session, area, deep=deep)

"""`audit export`: an area's events between two dates, for auditors and steering groups.

JSON lines carry each leaf exactly as hashed, its hash and its inclusion proof in a
checkpoint issued for the export (the last line), so anyone holding the area's public key
can check every line on their own. CSV is the same events flattened for a spreadsheet.
Either way the export holds no personal data, because no leaf does.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import AuditEvent
from gateway.domain import audit
from gateway.domain.areas.local_areas import get_area
from gateway.domain.audit import actions
from gateway.domain.audit.checkpoints import Checkpoint, issue
from gateway.domain.audit.log import fetch_nodes
from gateway.domain.identity.actors import Actor
from gateway.domain.transaction import owns_transaction
from keys import MasterKey, b64url_encode
from keys.merkle import inclusion_nodes, inclusion_proof

FORMATS = ("csv", "jsonl")
CSV_COLUMNS = (
    "seq",
    "at",
    "action",
    "actor_kind",
    "actor_id",
    "actor_role",
    "peer_area",
    "transfer",
    "envelope",
    "envelope_digest",
    "legal_basis",
    "consent",
    "details",
    "leaf_hash",
)
PROOF_BATCH = 500


def day_range(start: date, end: date) -> tuple[datetime, datetime]:
    """From the start of `start` to the end of `end`, in UTC."""
    return (
        datetime.combine(start, time.min, UTC),
        datetime.combine(end + timedelta(days=1), time.min, UTC),
    )


@owns_transaction
def export(
    session: Session,
    master: MasterKey,
    area: str,
    start: date,
    end: date,
    fmt: str,
    *,
    actor: Actor,
    now: datetime,
) -> Iterator[str]:
    """Record the export (it is itself an audited disclosure of metadata), sign a
    checkpoint that covers it, then yield the lines. Runs in one transaction."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    with session.begin():
        get_area(session, area)
        audit.record(
            session,
            area,
            audit.Event(
                action=actions.AUDIT_EXPORTED,
                actor=actor,
                details={"from": start.isoformat(), "to": end.isoformat(), "format": fmt},
            ),
            now,
        )
        checkpoint = issue(session, master, area, now)
        rows = _rows(session, area, *day_range(start, end))
        lines = _jsonl(session, area, rows, checkpoint) if fmt == "jsonl" else _csv(rows)
        yield from lines


def _rows(session: Session, area: str, lo: datetime, hi: datetime) -> list[tuple[int, str, bytes]]:
    return [
        (seq, leaf, hashed)
        for seq, leaf, hashed in session.execute(
            select(AuditEvent.seq, AuditEvent.leaf, AuditEvent.leaf_hash)
            .where(AuditEvent.area_code == area, AuditEvent.at >= lo, AuditEvent.at < hi)
            .order_by(AuditEvent.seq)
        )
    ]


def _jsonl(
    session: Session, area: str, rows: list[tuple[int, str, bytes]], checkpoint: Checkpoint
) -> Iterator[str]:
    size = checkpoint.size
    for start in range(0, len(rows), PROOF_BATCH):
        batch = rows[start : start + PROOF_BATCH]
        wanted = {node for seq, _, _ in batch for node in inclusion_nodes(seq, size)}
        nodes = fetch_nodes(session, area, wanted)
        for seq, leaf, hashed in batch:
            proof = inclusion_proof(seq, size, nodes)
            yield json.dumps(
                {
                    "seq": seq,
                    "leaf": json.loads(leaf),
                    "leaf_hash": hashed.hex(),
                    "proof": [b64url_encode(h) for h in proof],
                    "tree_size": size,
                },
                sort_keys=True,
            )
    yield json.dumps({"checkpoint": checkpoint.document}, sort_keys=True)


def _csv(rows: list[tuple[int, str, bytes]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="")
    writer.writerow(CSV_COLUMNS)
    yield _take(buffer)
    for seq, leaf, hashed in rows:
        writer.writerow(_flat(seq, json.loads(leaf), hashed))
        yield _take(buffer)


def _take(buffer: io.StringIO) -> str:
    value = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return value


def _flat(seq: int, leaf: dict[str, Any], hashed: bytes) -> list[str]:
    actor = leaf.get("actor", {})
    objects = leaf.get("objects", {})
    return [
        str(seq),
        leaf.get("at", ""),
        leaf.get("action", ""),
        actor.get("kind", ""),
        actor.get("id", ""),
        actor.get("role", ""),
        leaf.get("peer_area") or "",
        objects.get("transfer", ""),
        objects.get("envelope", ""),
        leaf.get("envelope_digest") or "",
        ";".join(leaf.get("legal_basis", [])),
        leaf.get("consent") or "",
        json.dumps(leaf.get("details", {}), sort_keys=True),
        hashed.hex(),
    ]

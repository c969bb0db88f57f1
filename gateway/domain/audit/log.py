"""The append-only audit log of one area: an RFC 9162 Merkle tree in the database.

Every append runs inside the caller's transaction, so an event is written if and only if
the action it records is. Appends to one area are serialised by locking its head row
(SQLite serialises all writers anyway), which keeps sequence numbers gap-free.

The head is read and locked once per transaction and kept with the transaction
(`_Pending`): later appends in the same transaction build on it with plain Core inserts,
and the head row is written once, when the transaction commits (it stays locked until
then anyway). A savepoint that may roll back appends goes through `savepoint`, which
rolls the kept head back with it.
An event whose caller needs nothing back (`record_later`) is appended when the
transaction commits, all of one area's in one insert, so the head row is locked only for
the end of the transaction rather than from the first append to the commit.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from adapters.db.models import AuditEvent, AuditHead, AuditSalt
from adapters.db.session import insert_now, param_mark, write_kept
from gateway.domain.identity.actors import Actor
from keys import MasterKey, b64url_encode, canonical_json
from keys.encoding import sha256
from keys.merkle import HASH_SIZE, Frontier, NodeId, leaf_hash, node_row, root_nodes

LEAF_VERSION = 1
SALT_BYTES = 32

Detail = str | int | bool | None


@dataclass(frozen=True)
class Event:
    """What happened, in metadata only. `personal` is never stored: only a salted
    commitment to it enters the leaf, and the salt is kept sealed (and shredded at purge)."""

    action: str
    actor: Actor
    peer_area: str | None = None
    objects: Mapping[str, str] = field(default_factory=dict)
    envelope_digest: str | None = None
    legal_basis: tuple[str, ...] = ()
    consent: str | None = None
    details: Mapping[str, Detail] = field(default_factory=dict)
    personal: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Recorded:
    area: str
    seq: int
    leaf: dict[str, Any]
    leaf_hash: bytes
    # The inclusion proof of this leaf in the tree that ends with it (size seq + 1): the
    # frontier before the append, which is exactly the set of sibling subtrees.
    proof_nodes: dict[NodeId, bytes]

    @property
    def size(self) -> int:
        return self.seq + 1


def format_at(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def truncate_at(moment: datetime) -> datetime:
    """The time as the leaf states it (milliseconds), so the indexed column agrees."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def start_log(session: Session, area: str, now: datetime) -> None:
    session.add(AuditHead(area_code=area, size=0, frontier=b"", updated_at=now))


_HEADS = cast(Table, AuditHead.__table__)
_PENDING = "gateway_audit_pending"


@dataclass
class _Pending:
    """One transaction's view of the heads it has locked, and its deferred events."""

    transaction: SessionTransaction | None
    heads: dict[str, Frontier] = field(default_factory=dict)
    later: list[tuple[str, Event, datetime]] = field(default_factory=list)
    # Areas whose head has moved since it was locked, with the time to store: written
    # at commit, one update per area however many events were appended.
    moved: dict[str, datetime] = field(default_factory=dict)


def _pending(session: Session) -> _Pending:
    transaction = session.get_transaction()
    if transaction is None:  # not begun yet: begin it, so the state is tied to it
        session.connection()
        transaction = session.get_transaction()
    found = session.info.get(_PENDING)
    if not isinstance(found, _Pending) or found.transaction is not transaction:
        found = _Pending(transaction)
        session.info[_PENDING] = found
    return found


def _locked_head(session: Session, pending: _Pending, area: str) -> Frontier:
    """The area's head, read with FOR UPDATE the first time this transaction needs it."""
    frontier = pending.heads.get(area)
    if frontier is None:
        # ORM-enabled select: pending ORM rows (a head `start_log` just added) flush first.
        row = session.execute(
            select(AuditHead.size, AuditHead.frontier)
            .where(AuditHead.area_code == area)
            .with_for_update()
        ).first()
        if row is None:
            raise LookupError(f"area {area} has no audit log")
        frontier = Frontier.from_bytes(int(row[0]), bytes(row[1]))
        pending.heads[area] = frontier
        # An AuditHead object loaded earlier would go stale under the Core updates below.
        for obj in list(session.identity_map.values()):
            if isinstance(obj, AuditHead) and obj.area_code == area:
                session.expire(obj)
    return frontier


def record(
    session: Session,
    area: str,
    event: Event,
    now: datetime,
    master: MasterKey | None = None,
) -> Recorded:
    """Append one event to `area`'s log, in the caller's transaction."""
    pending = _pending(session)
    frontier = _locked_head(session, pending, area)
    recorded, row = _append(session, master, area, frontier, event, now)
    # The head was read through the ORM, which flushed then: nothing a leaf refers to is
    # pending, so the leaf goes in on the connection (adapters.db.session.insert_now).
    insert_now(session, AuditEvent, [row])
    pending.moved[area] = now
    return recorded


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A savepoint (in the caller's transaction) whose audit appends roll back with it:
    the head this transaction keeps in memory is restored to what it was at the start,
    so the next append reuses the sequence numbers the rolled-back one took."""
    pending = _pending(session)
    heads = {area: _copy(frontier) for area, frontier in pending.heads.items()}
    moved, later = dict(pending.moved), list(pending.later)
    try:
        with session.begin_nested():
            yield
    except BaseException:
        pending.heads, pending.moved, pending.later = heads, moved, later
        raise


def _copy(frontier: Frontier) -> Frontier:
    return Frontier.from_bytes(frontier.size, frontier.to_bytes())


def record_later(session: Session, area: str, event: Event, now: datetime) -> None:
    """Append one event to `area`'s log when the caller's transaction commits (or never,
    if it rolls back): for callers that need neither its sequence number nor its proof.
    Inside a savepoint, or with personal data to commit to, it is appended at once."""
    if event.personal is not None or session.in_nested_transaction():
        record(session, area, event, now)
        return
    _pending(session).later.append((area, event, now))


def _append(
    session: Session,
    master: MasterKey | None,
    area: str,
    frontier: Frontier,
    event: Event,
    now: datetime,
) -> tuple[Recorded, dict[str, Any]]:
    """The leaf of `event` at the end of `frontier` (which it advances), and its row."""
    seq = frontier.size
    proof_nodes = dict(zip(root_nodes(seq), frontier.hashes, strict=True))
    commitment = _commit(session, master, area, seq, event) if event.personal else None
    at = truncate_at(now)
    leaf = _leaf(area, seq, at, event, commitment)
    encoded = canonical_json(leaf)
    hashed = leaf_hash(encoded)
    completed = frontier.append(hashed)
    row = {
        "area_code": area,
        "seq": seq,
        "leaf": encoded.decode("ascii"),
        "leaf_hash": hashed,
        "subtrees": b"".join(completed),
        "action": event.action,
        "at": at,
    }
    return Recorded(area, seq, leaf, hashed, proof_nodes), row


def _store_head(session: Session, area: str, frontier: Frontier, now: datetime) -> None:
    session.execute(
        update(_HEADS)
        .where(_HEADS.c.area_code == area)
        .values(size=frontier.size, frontier=frontier.to_bytes(), updated_at=now)
    )


def _append_deferred(session: Session) -> None:
    """Before the commit of a transaction (not of a savepoint): its deferred events, one
    insert per area, then one head update per area that moved, areas in a fixed order."""
    if session.in_nested_transaction():
        return
    found = session.info.get(_PENDING)
    transaction = session.get_transaction()
    if (
        not isinstance(found, _Pending)
        or transaction is None
        or found.transaction is not transaction
    ):
        return
    later, found.later = found.later, []
    by_area: dict[str, list[tuple[Event, datetime]]] = {}
    for area, event, now in later:
        by_area.setdefault(area, []).append((event, now))
    for area in sorted(by_area):
        frontier = _locked_head(session, found, area)
        rows = [_append(session, None, area, frontier, e, now)[1] for e, now in by_area[area]]
        insert_now(session, AuditEvent, rows)
        found.moved[area] = by_area[area][-1][1]
    moved, found.moved = found.moved, {}
    for area in sorted(moved):
        _store_head(session, area, found.heads[area], moved[area])


sa_event.listen(Session, "before_commit", _append_deferred)


def record_everywhere(
    session: Session, areas: Iterable[str], event: Event, now: datetime
) -> list[Recorded]:
    """Node-wide actions (a peer import) concern every area hosted here."""
    return [record(session, area, event, now) for area in areas]


def _leaf(
    area: str, seq: int, at: datetime, event: Event, commitment: str | None
) -> dict[str, Any]:
    return {
        "v": LEAF_VERSION,
        "seq": seq,
        "area": area,
        "at": format_at(at),
        "action": event.action,
        "actor": event.actor.as_dict(),
        "peer_area": event.peer_area,
        "objects": dict(event.objects),
        "envelope_digest": event.envelope_digest,
        "legal_basis": sorted(event.legal_basis),
        "consent": event.consent,
        "commitment": commitment,
        "details": dict(event.details),
    }


def salt_context(area: str, seq: int) -> str:
    return f"audit-salt:{area}:{seq}"


def commitment_for(salt: bytes, personal: Mapping[str, Any]) -> str:
    return b64url_encode(sha256(salt + canonical_json(dict(personal))))


def _commit(session: Session, master: MasterKey | None, area: str, seq: int, event: Event) -> str:
    if master is None or event.personal is None:
        raise ValueError("a commitment to personal data needs the master key")
    salt = secrets.token_bytes(SALT_BYTES)
    insert_now(
        session,
        AuditSalt,
        [
            {
                "area_code": area,
                "seq": seq,
                "envelope_id": event.objects.get("envelope"),
                "sealed": master.seal(salt, salt_context(area, seq)),
            }
        ],
    )
    return commitment_for(salt, event.personal)


def fetch_nodes(session: Session, area: str, wanted: Iterable[NodeId]) -> dict[NodeId, bytes]:
    """Every requested subtree hash in one query: node (L, i) lives in row (i+1)*2^L - 1.
    Plain driver SQL, because a proof's whole budget is a few milliseconds."""
    return fetch_nodes_and_leaves(session, area, wanted, ())[0]


def fetch_nodes_and_leaves(
    session: Session, area: str, wanted: Iterable[NodeId], leaves: Iterable[int]
) -> tuple[dict[NodeId, bytes], dict[int, str]]:
    """`fetch_nodes`, and the canonical text of the leaves `leaves`, in the same query."""
    wanted = set(wanted)
    texts = set(leaves)
    rows = sorted({node_row(level, index) for level, index in wanted} | texts)
    if not rows:
        return {}, {}
    write_kept(session)  # leaves kept by writes_together are part of the tree read here
    connection = session.connection()
    mark = param_mark(connection)
    leaf_column = "leaf" if texts else "NULL"
    found = {
        seq: (bytes(leaf_hashed), bytes(subtrees), leaf)
        for seq, leaf_hashed, subtrees, leaf in connection.exec_driver_sql(
            f"SELECT seq, leaf_hash, subtrees, {leaf_column} FROM audit_events "  # noqa: S608
            f"WHERE area_code = {mark} AND seq IN ({', '.join([mark] * len(rows))})",
            (area, *rows),
        )
    }
    nodes: dict[NodeId, bytes] = {}
    for level, index in wanted:
        leaf_hashed, subtrees, _ = found[node_row(level, index)]
        nodes[(level, index)] = (
            leaf_hashed if level == 0 else subtrees[(level - 1) * HASH_SIZE : level * HASH_SIZE]
        )
    return nodes, {seq: str(found[seq][2]) for seq in texts}


def head_of(session: Session, area: str) -> tuple[int, bytes]:
    """The current size and root of an area's log (as this transaction left it, if it
    has appended to it: the head it locked is kept with the transaction)."""
    pending = session.info.get(_PENDING)
    transaction = session.get_transaction()
    if (
        transaction is not None
        and isinstance(pending, _Pending)
        and pending.transaction is transaction
    ):
        frontier = pending.heads.get(area)
        if frontier is not None:
            return frontier.size, frontier.root()
    row = session.execute(
        select(AuditHead.size, AuditHead.frontier).where(AuditHead.area_code == area)
    ).first()
    if row is None:
        raise LookupError(f"area {area} has no audit log")
    frontier = Frontier.from_bytes(int(row[0]), bytes(row[1]))
    return frontier.size, frontier.root()

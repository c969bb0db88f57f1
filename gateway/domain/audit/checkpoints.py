"""Signed checkpoints: an area's statement, under its Ed25519 key, of its log's size and
root at a moment. Issued on demand (the envelopes a worker is about to deliver carry one,
shared by all of one area's in the batch) and by the worker at least every
CHECKPOINT_INTERVAL while events arrive."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from marshmallow import ValidationError
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from adapters.db.models import Area, AuditCheckpoint, AuditHead, PeerCheckpoint
from gateway.domain.areas.local_areas import current_secret_keys
from gateway.domain.areas.peers import pinned_key
from gateway.domain.audit.log import head_of
from gateway.domain.transaction import owns_transaction
from keys import (
    AreaSecretKeys,
    MasterKey,
    b64url_decode,
    b64url_encode,
    canonical_json,
    document_body,
    format_time,
    sha256_hex,
    sign_document,
    verify_document,
)
from keys.errors import Malformed, UnknownKey
from schemas.common import parse_timestamp
from schemas.wire.audit_evidence import CHECKPOINT_KIND, CheckpointBody, CheckpointBodySchema

# Built once: a schema instance deep-copies its fields when made, and loading is
# thread-safe (nothing here sets its context).
_CHECKPOINT_BODY = CheckpointBodySchema()

CHECKPOINT_INTERVAL = timedelta(seconds=60)
_PEER_CHECKPOINTS = cast(Table, PeerCheckpoint.__table__)
# The worker looks every CHECKPOINT_LOOK, so it re-signs logs whose last checkpoint is
# older than CHECKPOINT_AGE: together never more than CHECKPOINT_INTERVAL apart.
CHECKPOINT_LOOK = timedelta(seconds=10)
CHECKPOINT_AGE = CHECKPOINT_INTERVAL - CHECKPOINT_LOOK


@dataclass(frozen=True)
class Checkpoint:
    area: str
    size: int
    root: bytes
    key_id: str
    issued_at: datetime
    document: dict[str, Any]


def issue(
    session: Session,
    master: MasterKey,
    area: str,
    now: datetime,
    keys: AreaSecretKeys | None = None,
) -> Checkpoint:
    """Sign the log as it stands, in the caller's transaction (with `keys` when the
    caller already unsealed the area's current keys)."""
    size, root = head_of(session, area)
    keys = keys or current_secret_keys(session, master, area, now)
    body = {
        "kind": CHECKPOINT_KIND,
        "v": 1,
        "area": area,
        "size": size,
        "root": b64url_encode(root),
        "issued_at": format_time(now),
        "key": keys.key_id,
    }
    document = sign_document(body, keys)
    session.add(
        AuditCheckpoint(
            area_code=area,
            size=size,
            root=root,
            key_id=keys.key_id,
            document=canonical_json(document).decode("ascii"),
            issued_at=now,
        )
    )
    session.flush()
    return Checkpoint(area, size, root, keys.key_id, now, document)


def latest(session: Session, area: str) -> AuditCheckpoint | None:
    return session.scalar(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.area_code == area)
        .order_by(AuditCheckpoint.size.desc(), AuditCheckpoint.id.desc())
        .limit(1)
    )


def current(session: Session, master: MasterKey, area: str, now: datetime) -> Checkpoint:
    """The latest checkpoint if it covers the whole log, else a new one."""
    row = latest(session, area)
    size, _ = head_of(session, area)
    if row is not None and row.size == size:
        return of_row(row)
    return issue(session, master, area, now)


def of_row(row: AuditCheckpoint) -> Checkpoint:
    """A stored checkpoint as issued (its signed document kept byte for byte)."""
    return Checkpoint(
        row.area_code, row.size, row.root, row.key_id, row.issued_at, json.loads(row.document)
    )


@owns_transaction
def issue_due(session: Session, master: MasterKey, now: datetime) -> list[Checkpoint]:
    """Every area whose log grew and whose last checkpoint is older than the interval."""
    issued = []
    with session.begin():
        for area, size in session.execute(
            select(Area.code, AuditHead.size).join(AuditHead, AuditHead.area_code == Area.code)
        ):
            row = latest(session, area)
            stale = row is None or row.issued_at <= now - CHECKPOINT_AGE
            if size > (row.size if row else 0) and stale:
                issued.append(issue(session, master, area, now))
    return issued


def read_signed(document: Any, signing_public: bytes | None = None) -> CheckpointBody:
    """Parse a signed checkpoint; with a key, verify its signature too."""
    try:
        raw = (
            verify_document(document, CHECKPOINT_KIND, signing_public)
            if signing_public is not None
            else document_body(document, CHECKPOINT_KIND)
        )
        return _CHECKPOINT_BODY.load(raw)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise Malformed("checkpoint body is not valid") from exc


def root_of(body: CheckpointBody) -> bytes:
    return b64url_decode(body.root, length=32)


@dataclass(frozen=True)
class PeerStatement:
    """A checkpoint a peer signed, verified against the key we pinned for it."""

    body: CheckpointBody
    root: bytes
    document: dict[str, Any]


# Peer checkpoints whose signature this process has verified, by the SHA-256 of the signed
# document, with the public key that verified it. The envelopes of one batch (and those a
# peer's worker sends in one pass) share one checkpoint: its signature is checked once.
# Whether the key is still pinned and valid is asked every time.
_VERIFIED: OrderedDict[str, tuple[bytes, PeerStatement]] = OrderedDict()
_VERIFIED_MAX = 256
_VERIFIED_LOCK = threading.Lock()


def verify_peer_checkpoint(
    session: Session, document: Any, peer: str, now: datetime
) -> PeerStatement:
    """Raise UnknownKey unless a key pinned for `peer` signed it, and another CryptoError
    when the key is past its end (honoured like an envelope's) or the signature fails."""
    digest = sha256_hex(canonical_json(document)) if isinstance(document, dict) else None
    known = _recall(digest)
    unverified = known[1].body if known is not None else read_signed(document)
    key = pinned_key(session, unverified.key)
    if key is None or key.area != peer or unverified.area != peer:
        raise UnknownKey("checkpoint not signed by a key pinned for the peer")
    key.check_valid(now)
    if known is not None and known[0] == key.signing_public:
        return known[1]
    body = read_signed(document, key.signing_public)
    statement = PeerStatement(body, root_of(body), dict(document))
    _remember(digest, key.signing_public, statement)
    return statement


def _recall(digest: str | None) -> tuple[bytes, PeerStatement] | None:
    if digest is None:
        return None
    with _VERIFIED_LOCK:
        return _VERIFIED.get(digest)


def _remember(digest: str | None, key: bytes, statement: PeerStatement) -> None:
    if digest is None:
        return
    with _VERIFIED_LOCK:
        _VERIFIED[digest] = (key, statement)
        while len(_VERIFIED) > _VERIFIED_MAX:
            _VERIFIED.popitem(last=False)


def keep_peer_checkpoint(
    session: Session,
    statement: PeerStatement,
    local_area: str,
    now: datetime,
    *,
    verified: bool,
) -> None:
    """Store a peer's checkpoint once: the reference later consistency proofs start from.
    `verified` says whether a consistency proof already tied it to earlier ones. One
    statement that does nothing when the checkpoint is held already: envelopes sharing a
    checkpoint may be stored at the same time (a sender's lanes), and a second insert must
    not fail the envelope."""
    body = statement.body
    row = {
        "peer_area": body.area,
        "local_area": local_area,
        "size": body.size,
        "root": statement.root,
        "document": canonical_json(statement.document).decode("ascii"),
        "issued_at": parse_timestamp(body.issued_at),
        "received_at": now,
        "verified_at": now if verified else None,
    }
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    session.execute(
        dialect.insert(_PEER_CHECKPOINTS)
        .values(row)
        .on_conflict_do_nothing(index_elements=["peer_area", "size", "root"])
    )


@owns_transaction
def issue_now(session: Session, master: MasterKey, area: str, now: datetime) -> Checkpoint:
    """Sign the area's log as it stands, in a transaction of its own (on demand)."""
    with session.begin():
        return issue(session, master, area, now)

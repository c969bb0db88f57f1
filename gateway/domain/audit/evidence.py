"""Cross-area evidence (DESIGN sections 4 and 7).

The sender's envelope carries, outside its signature, the sender's audit leaf for the
disclosure, the leaf's inclusion proof and a signed checkpoint. The leaf is appended when
the envelope is written (with its outbox row); the proof and the checkpoint are attached by
the worker just before the first POST, one checkpoint for all of an area's envelopes in a
claimed batch, so a checkpoint's tree may hold later leaves too. The receiver checks the
leaf names this very envelope (id and digest), the checkpoint is signed by the sender's
pinned key, and the proof places the leaf in the tree the checkpoint states; then it keeps
the checkpoint, so that later consistency proofs from that size expose any rewrite.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import PeerCheckpoint
from gateway.domain.audit import checkpoints, restores
from gateway.domain.audit.checkpoints import Checkpoint, PeerStatement
from gateway.domain.audit.log import fetch_nodes_and_leaves
from gateway.errors import Refused
from keys import (
    AreaSecretKeys,
    CryptoError,
    MasterKey,
    UnknownKey,
    b64url_decode,
    b64url_encode,
    canonical_json,
)
from keys.merkle import inclusion_nodes, inclusion_proof, leaf_hash, verify_inclusion
from schemas.wire.audit_evidence import Evidence, EvidenceSchema, LeafSchema

# Built once: a schema instance deep-copies its fields when made, and loading is
# thread-safe (nothing here sets its context).
_EVIDENCE = EvidenceSchema()
_LEAF = LeafSchema()

log = logging.getLogger("gateway.audit")


def prove(
    session: Session,
    master: MasterKey,
    area: str,
    seqs: Iterable[int],
    now: datetime,
    keys: AreaSecretKeys,
) -> dict[int, dict[str, Any]]:
    """The `evidence` member for each of `area`'s leaves `seqs` (disclosures about to be
    sent), all against ONE checkpoint signed by `keys`: the latest one when it already
    covers every leaf and `keys` signed it, else one signed now of the log as it stands.
    In the caller's transaction; it reads the head without locking it (the leaves are
    committed, so the committed head covers them). Proofs come from the stored subtree
    hashes, one query for all of them and the leaves (as the audit export does)."""
    wanted = sorted(set(seqs))
    if not wanted:
        return {}
    checkpoint = _covering(session, master, area, wanted[-1], now, keys)
    size = checkpoint.size
    nodes, leaves = fetch_nodes_and_leaves(
        session, area, {n for seq in wanted for n in inclusion_nodes(seq, size)}, wanted
    )
    declared = restores.attached(session, area, size)
    built = {}
    for seq in wanted:
        evidence: dict[str, Any] = {
            "v": 1,
            "leaf": json.loads(leaves[seq]),
            "index": seq,
            "proof": [b64url_encode(h) for h in inclusion_proof(seq, size, nodes)],
            "checkpoint": checkpoint.document,
        }
        if declared:  # the area was restored from a backup (docs/contract.md)
            evidence["restores"] = declared
        built[seq] = evidence
    return built


def _covering(
    session: Session, master: MasterKey, area: str, last: int, now: datetime, keys: AreaSecretKeys
) -> Checkpoint:
    """A checkpoint signed by `keys` whose tree holds leaf `last`."""
    row = checkpoints.latest(session, area)
    if row is not None and row.size > last and row.key_id == keys.key_id:
        return checkpoints.of_row(row)
    return checkpoints.issue(session, master, area, now, keys)


def verify(
    session: Session,
    wire: dict[str, Any],
    digest: str,
    now: datetime,
    forks_checked: set[tuple[str, int, bytes]] | None = None,
) -> PeerStatement | None:
    """Check an inbound envelope's evidence; None when the sender sent none (an older
    node). Anything present but wrong is refused: a sender whose audit does not verify
    must be fixed, and the refusal tells its coordinator at once. `forks_checked` holds
    the checkpoints already held to the fork check in the caller's transaction (the
    envelopes of one batch share one checkpoint)."""
    raw = wire.get("evidence")
    if raw is None:
        return None
    try:
        evidence: Evidence = _EVIDENCE.load(raw)
        leaf = _LEAF.load(evidence.leaf)
    except ValidationError as exc:
        raise _bad("The audit evidence is malformed.") from exc
    _check_leaf(leaf, wire, digest, evidence.index)
    statement = _check_checkpoint(session, evidence.checkpoint, wire["from"]["area"], now)
    body, root = statement.body, statement.root
    try:
        verify_inclusion(
            leaf_hash(canonical_json(evidence.leaf)),
            evidence.index,
            body.size,
            [b64url_decode(h, length=32) for h in evidence.proof],
            root,
        )
    except CryptoError as exc:
        raise _bad("The audit leaf is not in the sender's signed log.") from exc
    try:
        restores.accept(
            session, evidence.restores, body.area, body.size, root, wire["to"]["area"], now
        )
    except CryptoError as exc:
        raise _bad("The sender's restore declaration does not verify.") from exc
    if forks_checked is None or (body.area, body.size, root) not in forks_checked:
        _check_fork(session, body.area, body.size, root)
        if forks_checked is not None:
            forks_checked.add((body.area, body.size, root))
    return statement


def _bad(detail: str) -> Refused:
    return Refused(detail, reason="bad-evidence")


def _check_leaf(leaf: dict[str, Any], wire: dict[str, Any], digest: str, index: int) -> None:
    expected = {
        "seq": index,
        "area": wire["from"]["area"],
        "peer_area": wire["to"]["area"],
        "envelope_digest": digest,
    }
    actual = {key: leaf.get(key) for key in expected}
    if actual != expected or leaf["objects"].get("envelope") != wire["id"]:
        raise _bad("The audit leaf is for another envelope.")


def _check_checkpoint(
    session: Session, document: dict[str, Any], sender: str, now: datetime
) -> PeerStatement:
    try:
        return checkpoints.verify_peer_checkpoint(session, document, sender, now)
    except UnknownKey as exc:
        raise _bad("The checkpoint is not signed by a key pinned for the sender.") from exc
    except CryptoError as exc:
        raise _bad("The sender's checkpoint does not verify.") from exc


def _check_fork(session: Session, peer: str, size: int, root: bytes) -> None:
    """Two signed checkpoints of one size with different roots: the peer's log forked
    (unless the one we held described entries the peer lost in a declared restore)."""
    known = session.scalars(
        select(PeerCheckpoint).where(PeerCheckpoint.peer_area == peer, PeerCheckpoint.size == size)
    ).all()
    if any(other.root != root and not restores.is_lost(session, other) for other in known):
        log.error("audit fork detected peer=%s size=%s", peer, size)
        raise Refused(
            "The sender signed two different logs of the same size (a fork).",
            reason="audit-fork",
        )


def keep(session: Session, verified: PeerStatement, local_area: str, now: datetime) -> None:
    """Store the sender's checkpoint (once), in the receiving transaction."""
    checkpoints.keep_peer_checkpoint(session, verified, local_area, now, verified=False)

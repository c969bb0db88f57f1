"""A node restored from a backup, and its peers (DESIGN section 7; README "Backup and
restore").

A restore loses the log entries written after the backup, yet peers may hold checkpoints
of them (evidence travels with every disclosure). The restored log then grows again from
the backup's size with other entries, and a peer comparing its checkpoints would see a
fork. So the restore is *declared*: `marac-gateway restore` signs, for each hosted area, a
statement of the size and root it restored (`audit-restore`) and logs it. The declaration
then travels with every later disclosure's evidence and every consistency answer, each
time with a consistency proof from the restored size to the checkpoint it accompanies.

A peer that verifies it keeps it and logs that the area restored, and from then on a
checkpoint of that area signed *no later than* the declaration and *larger* than the restored
size is "lost in a declared restore" (reported, counted), not a fork. Everything else is
checked as before: checkpoints up to the restored size must still be consistent with the
new log, so a rewrite of what the backup held is still a fork, and an undeclared rewrite
of anything is still a fork. The declaration can only come from the area's own pinned key,
and it is loud on both sides: a restore can lose entries but never hide that it did.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Area, AuditRestore, PeerCheckpoint
from gateway.domain import audit
from gateway.domain.areas.local_areas import current_secret_keys
from gateway.domain.areas.peers import pinned_key
from gateway.domain.audit import actions
from gateway.domain.audit.log import fetch_nodes, head_of
from gateway.domain.identity.actors import Actor
from gateway.domain.transaction import owns_transaction
from keys import (
    MasterKey,
    b64url_decode,
    b64url_encode,
    canonical_json,
    format_time,
    sign_document,
    verify_document,
)
from keys.errors import Malformed, UnknownKey
from keys.merkle import consistency_nodes, consistency_proof, verify_consistency
from schemas.common import parse_timestamp
from schemas.wire.audit_evidence import (
    RESTORE_KIND,
    RestoreBody,
    RestoreBodySchema,
    RestoreProof,
)

# Built once: a schema instance deep-copies its fields when made, and loading is
# thread-safe (nothing here sets its context).
_RESTORE_BODY = RestoreBodySchema()

log = logging.getLogger("gateway.audit")


@dataclass(frozen=True)
class Declared:
    area: str
    size: int
    issued_at: datetime


@owns_transaction
def declare_restored(session: Session, master: MasterKey, now: datetime) -> list[Declared]:
    """Sign and keep, for every hosted area, that its log was restored as it now stands;
    then log it (the declaration states the size before that entry)."""
    declared = []
    with session.begin():
        for area in session.scalars(select(Area.code).order_by(Area.code)):
            size, root = head_of(session, area)
            keys = current_secret_keys(session, master, area, now)
            issued = parse_timestamp(format_time(now))
            body: dict[str, Any] = {
                "kind": RESTORE_KIND,
                "v": 1,
                "area": area,
                "size": size,
                "root": b64url_encode(root),
                "issued_at": format_time(now),
                "key": keys.key_id,
            }
            _keep(session, area, size, root, sign_document(body, keys), issued, now)
            audit.record(
                session,
                area,
                audit.Event(
                    action=actions.LOG_RESTORED,
                    actor=Actor.operator(),
                    details={"restored_size": size},
                ),
                now,
            )
            declared.append(Declared(area, size, issued))
    return declared


def _keep(
    session: Session,
    area: str,
    size: int,
    root: bytes,
    document: dict[str, Any],
    issued_at: datetime,
    now: datetime,
) -> None:
    session.add(
        AuditRestore(
            area_code=area,
            size=size,
            root=root,
            document=canonical_json(document).decode("ascii"),
            issued_at=issued_at,
            received_at=now,
        )
    )
    session.flush()


def _declarations(session: Session, area: str) -> list[AuditRestore]:
    return list(
        session.scalars(
            select(AuditRestore)
            .where(AuditRestore.area_code == area)
            .order_by(AuditRestore.issued_at)
        )
    )


def attached(session: Session, area: str, size: int) -> list[dict[str, Any]]:
    """Our area's declarations, each with a consistency proof from its size to `size` (the
    checkpoint they travel with). Empty for an area never restored."""
    out = []
    for row in _declarations(session, area):
        proof: list[bytes] = []
        if 0 < row.size < size:
            nodes = fetch_nodes(session, area, consistency_nodes(row.size, size))
            proof = consistency_proof(row.size, size, nodes)
        out.append(
            {
                "declaration": _parse(row.document),
                "proof": [b64url_encode(h) for h in proof],
            }
        )
    return out


def _parse(document: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(document)
    return value


def accept(
    session: Session,
    items: Sequence[RestoreProof],
    peer: str,
    size: int,
    root: bytes,
    local_area: str,
    now: datetime,
) -> int:
    """Verify a peer's declarations against its pinned key and the checkpoint (`size`,
    `root`) they came with; keep and log each one not held yet. Raises CryptoError (the
    caller's refusal) for anything that does not verify. Returns how many were new."""
    new = 0
    for item in items:
        body = _verified(session, item, peer, size, root, now)
        issued = parse_timestamp(body.issued_at)
        held = session.scalar(
            select(AuditRestore.id).where(
                AuditRestore.area_code == peer, AuditRestore.issued_at == issued
            )
        )
        if held is not None:
            continue
        _keep(
            session,
            peer,
            body.size,
            b64url_decode(body.root, length=32),
            item.declaration,
            issued,
            now,
        )
        lost = len(_lost_rows(session, peer))
        log.warning(
            "peer %s declares a restore at size %s; %s checkpoint(s) lost", peer, body.size, lost
        )
        audit.record(
            session,
            local_area,
            audit.Event(
                action=actions.PEER_LOG_RESTORED,
                actor=Actor.peer(peer),
                peer_area=peer,
                details={"restored_size": body.size, "lost_checkpoints": lost},
            ),
            now,
        )
        new += 1
    return new


def _verified(
    session: Session, item: RestoreProof, peer: str, size: int, root: bytes, now: datetime
) -> RestoreBody:
    raw = item.declaration.get("body")
    if not isinstance(raw, dict):
        raise Malformed("restore declaration is not a signed document")
    try:
        unverified: RestoreBody = _RESTORE_BODY.load(raw)
    except ValidationError as exc:
        raise Malformed("restore declaration is not valid") from exc
    key = pinned_key(session, unverified.key)
    if key is None or key.area != peer or unverified.area != peer:
        raise UnknownKey("restore declaration not signed by a key pinned for the peer")
    key.check_valid(now)
    verify_document(item.declaration, RESTORE_KIND, key.signing_public)
    if unverified.size > size:
        raise Malformed("restore declaration is larger than the checkpoint it came with")
    verify_consistency(
        unverified.size,
        size,
        b64url_decode(unverified.root, length=32),
        root,
        [b64url_decode(h, length=32) for h in item.proof],
    )
    return unverified


def _lost_rows(session: Session, peer: str) -> list[PeerCheckpoint]:
    held = session.scalars(select(PeerCheckpoint).where(PeerCheckpoint.peer_area == peer))
    return [row for row in held if is_lost(session, row)]


def is_lost(session: Session, row: PeerCheckpoint) -> bool:
    """Whether a held checkpoint described entries the peer lost in a declared restore."""
    # Checkpoint times are whole seconds: one issued in the declaration's second was
    # signed before it (`restore` waits for the next second before the node runs again).
    return any(
        row.size > restore.size and row.issued_at <= restore.issued_at
        for restore in _declarations(session, row.peer_area)
    )

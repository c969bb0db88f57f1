"""Holding peers to their logs (DESIGN section 7).

`audit verify --peer AREA` asks the peer for a fresh checkpoint and a consistency proof
from every size we hold a checkpoint of; a proof that does not verify means the peer
rewrote its log, a size beyond its log means it truncated it. When all is consistent we
co-sign the new checkpoint (witnessing) and send the co-signature back, where it is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import AuditCheckpoint, AuditCosignature, PeerCheckpoint
from adapters.peer_client import PeerClient, PeerUnreachable
from gateway.domain import audit
from gateway.domain.areas import peer_auth
from gateway.domain.areas.local_areas import current_secret_keys, get_area
from gateway.domain.areas.peers import node_url, pinned_key
from gateway.domain.audit import actions, restores
from gateway.domain.audit.checkpoints import (
    PeerStatement,
    current,
    keep_peer_checkpoint,
    verify_peer_checkpoint,
)
from gateway.domain.audit.log import fetch_nodes
from gateway.domain.identity.actors import Actor
from gateway.domain.transaction import owns_transaction
from gateway.errors import Conflict, Invalid, Malformed, NotFound, Unauthorized, field_errors
from keys import (
    CryptoError,
    MasterKey,
    UnknownKey,
    b64url_decode,
    b64url_encode,
    canonical_json,
    format_time,
    issue_request_token,
    parse_json,
    sign_document,
    verify_document,
)
from keys.merkle import consistency_nodes, consistency_proof, verify_consistency
from schemas.wire.audit_evidence import (
    COSIGNATURE_KIND,
    CheckpointBody,
    ConsistencyAnswer,
    ConsistencyAnswerSchema,
    ConsistencyRequestSchema,
    CosignatureBodySchema,
)

# Built once: a schema instance deep-copies its fields when made, and loading is
# thread-safe (nothing here sets its context).
_CONSISTENCY_ANSWER = ConsistencyAnswerSchema()
_COSIGNATURE_BODY = CosignatureBodySchema()

CONSISTENCY_PATH = "/federation/v1/audit/consistency"
COSIGNATURE_PATH = "/federation/v1/audit/cosignatures"
MAX_SIZES = 100


# --- The asking side ------------------------------------------------------------------


@dataclass
class PeerReport:
    peer: str
    checked_sizes: list[int] = field(default_factory=list)
    size: int | None = None
    problems: list[str] = field(default_factory=list)
    cosigned: bool = False
    # Checkpoints of entries the peer lost in a declared restore: reported, not problems.
    lost_sizes: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "peer": self.peer,
            "ok": self.ok,
            "checked_sizes": self.checked_sizes,
            "peer_size": self.size,
            "problems": self.problems,
            "cosigned": self.cosigned,
            "lost_in_restore": self.lost_sizes,
        }


@owns_transaction
def verify_peer(
    session: Session,
    master: MasterKey,
    client: PeerClient,
    peer: str,
    now: datetime,
    *,
    area: str | None = None,
    actor: Actor | None = None,
) -> PeerReport:
    """Hold `peer` to its checkpoints. `area` (an auditor's page) checks and records in
    that local area only; the operator's command line uses whichever area holds them."""
    report = PeerReport(peer)
    with session.begin():
        held = [row for row in _held(session, peer) if area is None or row.local_area == area]
        if not held:
            raise NotFound(f"No checkpoint from {peer} is held yet; nothing to check against.")
        local = held[0].local_area
        url = node_url(session, peer)
        keys = current_secret_keys(session, master, local, now)
        # Checkpoints lost in a restore the peer declared are reported, not asked about.
        sizes = sorted({row.size for row in held if not restores.is_lost(session, row)})
        sizes = sizes[-MAX_SIZES:]
    report.checked_sizes = sizes
    answer = _ask(client, keys, peer, url, sizes, now)
    with session.begin():
        held = [
            row
            for row in _held(session, peer)
            if row.size in sizes or restores.is_lost(session, row)
        ]
        try:
            statement = _check_answer(session, answer, peer, now)
        except Conflict as exc:
            # A checkpoint that does not verify is itself evidence: record it, then report.
            report.problems.append(exc.detail)
            audit.record(session, local, _verified_event(report, actor), now)
            return report
        body, root = statement.body, statement.root
        report.size = body.size
        try:
            restores.accept(session, answer.restores, peer, body.size, root, local, now)
        except CryptoError:
            report.problems.append("the peer's restore declaration does not verify")
        _compare(session, report, held, body, root, answer)
        if report.ok:
            keep_peer_checkpoint(session, statement, local, now, verified=True)
            for row in held:
                if not restores.is_lost(session, row):
                    row.verified_at = now
        audit.record(session, local, _verified_event(report, actor), now)
    if report.ok:
        report.cosigned = _cosign(client, keys, peer, url, body, now)
    return report


@dataclass(frozen=True)
class HeldPeer:
    """A peer whose checkpoints an area holds: what it can be held to."""

    peer: str
    checkpoints: int
    largest: int
    last_verified: datetime | None


@owns_transaction
def held_peers(session: Session, area: str) -> list[HeldPeer]:
    """The peers whose signed checkpoints `area` received with evidence, by code."""
    with session.begin():
        get_area(session, area)
        rows = session.scalars(
            select(PeerCheckpoint)
            .where(PeerCheckpoint.local_area == area)
            .order_by(PeerCheckpoint.peer_area)
        )
        found: dict[str, list[PeerCheckpoint]] = {}
        for row in rows:
            found.setdefault(row.peer_area, []).append(row)
    return [
        HeldPeer(
            peer,
            len(held),
            max(row.size for row in held),
            max((row.verified_at for row in held if row.verified_at), default=None),
        )
        for peer, held in found.items()
    ]


def _held(session: Session, peer: str) -> list[PeerCheckpoint]:
    return list(
        session.scalars(
            select(PeerCheckpoint)
            .where(PeerCheckpoint.peer_area == peer)
            .order_by(PeerCheckpoint.size.desc())
        )
    )


def _ask(
    client: PeerClient, keys: Any, peer: str, url: str, sizes: list[int], now: datetime
) -> ConsistencyAnswer:
    body = canonical_json({"area": peer, "sizes": sizes})
    target = url + CONSISTENCY_PATH
    token = issue_request_token(
        keys, audience=peer, method="POST", url=target, body=body, now=int(now.timestamp())
    )
    try:
        response = client.post(target, body, token)
    except PeerUnreachable as exc:
        raise Conflict(f"The peer could not be reached ({exc}); try again later.") from exc
    if response.status != 200:
        raise Conflict(f"The peer refused the consistency request (HTTP {response.status}).")
    try:
        loaded: ConsistencyAnswer = _CONSISTENCY_ANSWER.load(parse_json(response.body))
    except (ValueError, ValidationError) as exc:
        raise Conflict("The peer sent a malformed consistency answer.") from exc
    return loaded


def _check_answer(
    session: Session, answer: ConsistencyAnswer, peer: str, now: datetime
) -> PeerStatement:
    try:
        return verify_peer_checkpoint(session, answer.checkpoint, peer, now)
    except UnknownKey as exc:
        raise Conflict("The peer's checkpoint is signed by a key not pinned for it.") from exc
    except CryptoError as exc:
        raise Conflict("The peer's checkpoint signature does not verify.") from exc


def _compare(
    session: Session,
    report: PeerReport,
    held: list[PeerCheckpoint],
    body: CheckpointBody,
    root: bytes,
    answer: ConsistencyAnswer,
) -> None:
    for row in sorted(held, key=lambda r: r.size):
        if restores.is_lost(session, row):
            report.lost_sizes.append(row.size)
            continue
        if row.size > body.size:
            report.problems.append(
                f"the peer signed {row.size} entries before but now shows {body.size} "
                "(truncated or rolled back)"
            )
            continue
        proof = answer.proofs.get(str(row.size))
        if proof is None:
            report.problems.append(f"the peer gave no proof from size {row.size}")
            continue
        try:
            verify_consistency(
                row.size, body.size, row.root, root, [b64url_decode(h, length=32) for h in proof]
            )
        except (CryptoError, ValueError):
            report.problems.append(
                f"the peer's log of {body.size} entries does not extend the one it signed at "
                f"size {row.size} (rewritten or forked)"
            )


def _verified_event(report: PeerReport, actor: Actor | None) -> audit.Event:
    return audit.Event(
        action=actions.PEER_VERIFIED if report.ok else actions.PEER_INCONSISTENT,
        actor=actor or Actor.operator(),
        peer_area=report.peer,
        details={
            "peer_size": report.size,
            "checked": len(report.checked_sizes),
            "problems": len(report.problems),
        },
    )


def _cosign(
    client: PeerClient, keys: Any, peer: str, url: str, body: CheckpointBody, now: datetime
) -> bool:
    """Best effort: witnessing is a courtesy to the peer, the check above already stands."""
    statement = {
        "kind": COSIGNATURE_KIND,
        "v": 1,
        "area": peer,
        "witness": keys.area,
        "size": body.size,
        "root": body.root,
        "issued_at": format_time(now),
        "key": keys.key_id,
    }
    payload = canonical_json(sign_document(statement, keys))
    target = url + COSIGNATURE_PATH
    token = issue_request_token(
        keys, audience=peer, method="POST", url=target, body=payload, now=int(now.timestamp())
    )
    try:
        return client.post(target, payload, token).status in (200, 201)
    except PeerUnreachable:
        return False


# --- The answering side ---------------------------------------------------------------


@owns_transaction
def answer_consistency(
    session: Session, master: MasterKey, body: bytes, authorization: str | None, now: datetime
) -> dict[str, Any]:
    request = _load(ConsistencyRequestSchema(), body)
    peer_auth.authenticate(
        session,
        authorization,
        audience=request.area,
        method="POST",
        path=CONSISTENCY_PATH,
        body=body,
        now=now,
    )
    with session.begin():
        checkpoint = current(session, master, request.area, now)
        proofs = {}
        for old in sorted(set(request.sizes)):
            if old > checkpoint.size:
                continue  # we cannot prove what we do not have; the asker sees truncation
            nodes = fetch_nodes(session, request.area, consistency_nodes(old, checkpoint.size))
            proofs[str(old)] = [
                b64url_encode(h) for h in consistency_proof(old, checkpoint.size, nodes)
            ]
        answer: dict[str, Any] = {"checkpoint": checkpoint.document, "proofs": proofs}
        declared = restores.attached(session, request.area, checkpoint.size)
        if declared:
            answer["restores"] = declared
    return answer


@owns_transaction
def accept_cosignature(
    session: Session, body: bytes, authorization: str | None, now: datetime
) -> None:
    document = _json(body)
    raw = document.get("body")
    if not isinstance(raw, dict):
        raise Invalid("A co-signature is a signed document {body, sig}.")
    try:
        statement = _COSIGNATURE_BODY.load(raw)
    except ValidationError as exc:
        raise Invalid("The co-signature is not valid.", errors=field_errors(exc.messages)) from exc
    claims = peer_auth.authenticate(
        session,
        authorization,
        audience=statement.area,
        method="POST",
        path=COSIGNATURE_PATH,
        body=body,
        now=now,
    )
    with session.begin():
        get_area(session, statement.area)
        key = pinned_key(session, statement.key)
        if key is None or key.area != statement.witness or claims.iss != statement.witness:
            raise Unauthorized("The co-signature is not signed by the requesting peer.")
        try:
            key.check_valid(now)
            verify_document(document, COSIGNATURE_KIND, key.signing_public)
        except CryptoError as exc:
            raise Unauthorized("The co-signature does not verify.") from exc
        root = b64url_decode(statement.root, length=32)
        _store_cosignature(session, statement.area, statement.witness, statement.size, root)
        session.add(
            AuditCosignature(
                area_code=statement.area,
                witness_area=statement.witness,
                size=statement.size,
                root=root,
                document=canonical_json(document).decode("ascii"),
                received_at=now,
            )
        )
        audit.record(
            session,
            statement.area,
            audit.Event(
                action=actions.COSIGNED,
                actor=Actor.peer(statement.witness),
                peer_area=statement.witness,
                details={"size": statement.size},
            ),
            now,
        )


def _store_cosignature(session: Session, area: str, witness: str, size: int, root: bytes) -> None:
    """Only a checkpoint we really signed can be witnessed, and only once per witness."""
    ours = session.scalar(
        select(AuditCheckpoint.id).where(
            AuditCheckpoint.area_code == area,
            AuditCheckpoint.size == size,
            AuditCheckpoint.root == root,
        )
    )
    if ours is None:
        raise Conflict("The co-signed checkpoint is not one this area signed.")
    again = session.scalar(
        select(AuditCosignature.id).where(
            AuditCosignature.area_code == area,
            AuditCosignature.witness_area == witness,
            AuditCosignature.size == size,
        )
    )
    if again is not None:
        raise Conflict("This peer has already co-signed that checkpoint.")


def _json(body: bytes) -> dict[str, Any]:
    try:
        document = parse_json(body)
    except ValueError as exc:
        raise Malformed("The body is not JSON.") from exc
    if not isinstance(document, dict):
        raise Malformed("The body must be a JSON object.")
    return document


def _load(schema: Any, body: bytes) -> Any:
    try:
        return schema.load(_json(body))
    except ValidationError as exc:
        raise Invalid("The request is not valid.", errors=field_errors(exc.messages)) from exc

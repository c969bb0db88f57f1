"""Accepting an envelope from a peer (DESIGN section 3, step 3).

Everything is checked before anything is stored: the request token (signature, claims,
binding to this request), the addressee, the envelope signature against the sender's
pinned key, and the payload itself (opened in memory, validated, then dropped). Storage
is idempotent by envelope id: a retry gets the byte-identical receipt and creates nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters.db.models import Envelope, UsedToken
from adapters.db.session import read_only, writes_together
from gateway.domain import audit
from gateway.domain.areas import peer_auth
from gateway.domain.areas.local_areas import FULL_ACCEPTS, own_key, secret_keys_by_id
from gateway.domain.areas.peers import is_revoked, pinned_key
from gateway.domain.audit import actions, checkpoints, evidence
from gateway.domain.audit.log import Detail
from gateway.domain.federation import registry
from gateway.domain.federation.handlers import Inbound
from gateway.domain.identity.actors import Actor
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers.states import INBOUND
from gateway.errors import (
    Conflict,
    DomainError,
    Malformed,
    Refused,
    TooLarge,
    Unauthorized,
    field_errors,
)
from keys import (
    AreaSecretKeys,
    BadJson,
    CryptoError,
    EnvelopeParts,
    ExpiredKey,
    JsonLimits,
    MasterKey,
    RequestClaims,
    canonical_json,
    envelope_digest,
    format_time,
    open_envelope,
    parse_envelope,
    parse_json,
    sign_document,
    verify_envelope,
)
from schemas.wire import payload_versions
from schemas.wire.envelope import (
    BATCH_MAX_ENVELOPES,
    ENVELOPE_BATCHES_PATH,
    ENVELOPES_PATH,
    EnvelopeSchema,
)
from schemas.wire.receipt import RECEIPT_KIND

# Built once: a schema instance deep-copies its fields when made, and loading is
# thread-safe (nothing here sets its context).
_ENVELOPE = EnvelopeSchema()

# The ciphertext is one string as large as the sealed document it carries.
WIRE_LIMITS = JsonLimits(max_string=None)
# A batch: that many envelopes, each with its evidence (proof hashes are strings).
BATCH_LIMITS = JsonLimits(max_string=None, max_tokens=200_000, max_keys=20_000)


@dataclass(frozen=True)
class Accepted:
    receipt: str
    duplicate: bool


@owns_transaction
def receive_envelope(
    session: Session,
    master: MasterKey,
    *,
    read_body: Callable[[], bytes],
    authorization: str | None,
    now: datetime,
    accepts: payload_versions.Accepts = FULL_ACCEPTS,
) -> Accepted:
    """`read_body` is called only once the request token has verified, so a stranger
    cannot make this node read a body up to the envelope limit. `accepts` are the payload
    versions this node accepts (what its bundle lists); any other version is refused."""
    claims = peer_auth.verify_before_body(
        session, authorization, method="POST", path=ENVELOPES_PATH, now=now
    )
    body = read_body()
    peer_auth.body_matches(claims, body)
    return _accept(session, master, _parse_body(body), claims, now, accepts, token_used=False)


@dataclass(frozen=True)
class BatchAnswer:
    """One envelope's answer within a batch: its receipt, or the refusal it would have got
    alone (status and problem document)."""

    envelope_id: str | None
    status: int
    receipt: dict[str, Any] | None = None
    problem: dict[str, Any] | None = None


@owns_transaction
def receive_batch(
    session: Session,
    master: MasterKey,
    *,
    read_body: Callable[[], bytes],
    authorization: str | None,
    now: datetime,
    problem_base: str,
    accepts: payload_versions.Accepts = FULL_ACCEPTS,
) -> list[BatchAnswer]:
    """Several envelopes in one POST (docs/contract.md, "Envelope batches"). The request
    token is checked once for the batch. Each envelope is verified on its own, exactly as
    `receive_envelope` would verify it (all of them in one read transaction), then those
    that verified are stored in one write transaction, which also spends the token (all in
    one savepoint, or, if one is refused while storing, a savepoint each, so that one
    leaves the others stored); their audit events share one lock and one update of the
    head. Answered in order."""
    claims = peer_auth.verify_before_body(
        session, authorization, method="POST", path=ENVELOPE_BATCHES_PATH, now=now
    )
    body = read_body()
    peer_auth.body_matches(claims, body)
    wires = _parse_batch(body)
    outcomes: dict[int, Accepted | DomainError] = {}
    verified: list[tuple[int, Arrival, AreaSecretKeys]] = []
    forks_checked: set[tuple[str, int, bytes]] = set()
    with session.begin():
        read_only(session)
        for index, wire in enumerate(wires):
            try:
                if not isinstance(wire, dict):
                    raise Malformed("Each envelope must be a JSON object.")
                arrival = _verify(session, master, wire, claims, now, accepts, forks_checked)
                verified.append((index, *arrival))
            except DomainError as exc:
                outcomes[index] = exc
    outcomes.update(_store_batch(session, master, verified, claims, now))
    return [_answer(wire, outcomes[index], problem_base) for index, wire in enumerate(wires)]


def _answer(wire: Any, outcome: Accepted | DomainError, problem_base: str) -> BatchAnswer:
    envelope_id = wire.get("id") if isinstance(wire, dict) else None
    ident = envelope_id if isinstance(envelope_id, str) and len(envelope_id) <= 64 else None
    if isinstance(outcome, DomainError):
        return BatchAnswer(ident, outcome.status, problem=outcome.problem(problem_base))
    status = 200 if outcome.duplicate else 202
    return BatchAnswer(ident, status, receipt=parse_json(outcome.receipt))


def _parse_batch(body: bytes) -> list[Any]:
    try:
        outer = parse_json(body, BATCH_LIMITS)
    except BadJson as exc:
        raise Malformed(f"The body is not acceptable JSON: {exc}.") from exc
    envelopes = outer.get("envelopes") if isinstance(outer, dict) else None
    if not isinstance(envelopes, list) or set(outer) != {"envelopes"} or not envelopes:
        raise Malformed('The body must be {"envelopes": [<envelope>, ...]}, at least one.')
    if len(envelopes) > BATCH_MAX_ENVELOPES:
        raise TooLarge(f"A batch holds at most {BATCH_MAX_ENVELOPES} envelopes.")
    return envelopes


@owns_transaction
def _store_batch(
    session: Session,
    master: MasterKey,
    verified: list[tuple[int, Arrival, AreaSecretKeys]],
    claims: RequestClaims,
    now: datetime,
) -> dict[int, Accepted | DomainError]:
    """The verified envelopes of a batch in one transaction that first spends the batch's
    token (single use, DESIGN section 5: a replayed batch stores nothing)."""
    with session.begin():
        try:
            session.add(peer_auth.used_token(claims, now))
            session.flush()
        except IntegrityError as exc:
            raise Unauthorized("The request token has already been used.") from exc
        _keep_evidence(
            session, [(arrival, recipient.area) for _, arrival, recipient in verified], now
        )
        held = _held_already(session, [(a.wire["id"], r.area) for _, a, r in verified])
        together = _store_together(session, master, verified, now, held)
        if together is not None:
            return together
        return {
            index: _store_one(
                session,
                master,
                arrival,
                recipient,
                now,
                held.get((arrival.wire["id"], recipient.area)),
            )
            for index, arrival, recipient in verified
        }


def _store_together(
    session: Session,
    master: MasterKey,
    verified: list[tuple[int, Arrival, AreaSecretKeys]],
    now: datetime,
    held: dict[tuple[str, str], Envelope],
) -> dict[int, Accepted | DomainError] | None:
    """The usual batch, where every new envelope stores cleanly: all of them in one
    savepoint, their rows written a statement per table (`writes_together` and one
    flush) rather than eight statements per envelope, each a round trip on PostgreSQL
    inside the write transaction that holds the audit head. If one is refused while
    storing or loses a race, this savepoint rolls back (audit head with it) and None sends
    the caller to a savepoint per envelope, so that the refusal touches that envelope
    only; the receipts are signed again there, identically (the same sequence numbers,
    the same time, deterministic signatures)."""
    outcomes: dict[int, Accepted | DomainError] = {}
    try:
        with audit.savepoint(session), writes_together(session):
            for index, arrival, recipient in verified:
                existing = held.get((arrival.wire["id"], recipient.area))
                if existing is None:
                    receipt = _insert(session, master, arrival, recipient, now, flush=False)
                    outcomes[index] = Accepted(receipt, duplicate=False)
                    continue
                outcomes[index] = _answer_retry(existing, arrival.digest)  # writes nothing
            # The rows of every envelope, a statement per table (an id stored twice fails
            # here, inside the savepoint).
            session.flush()
    except (DomainError, IntegrityError):
        return None
    return outcomes


def _keep_evidence(session: Session, arrivals: list[tuple[Arrival, str]], now: datetime) -> None:
    """The senders' checkpoints the envelopes carried, each kept once (the envelopes of
    a batch share one): verified statements of the peer's log, worth keeping whether or
    not the envelope that carried one is stored."""
    kept: set[tuple[str, int, bytes, str]] = set()
    for arrival, area in arrivals:
        statement = arrival.evidence
        if statement is None:
            continue
        key = (statement.body.area, statement.body.size, statement.root, area)
        if key not in kept:
            kept.add(key)
            evidence.keep(session, statement, area, now)


def _held_already(
    session: Session, wanted: list[tuple[str, str]]
) -> dict[tuple[str, str], Envelope]:
    """Those of a batch's envelopes (id, area) stored already (retries), in one query."""
    if not wanted:
        return {}
    found = session.scalars(
        select(Envelope).where(Envelope.envelope_id.in_({envelope_id for envelope_id, _ in wanted}))
    )
    return {(row.envelope_id, row.area_code): row for row in found}


def _store_one(
    session: Session,
    master: MasterKey,
    arrival: Arrival,
    recipient: AreaSecretKeys,
    now: datetime,
    existing: Envelope | None,
) -> Accepted | DomainError:
    """One envelope of a batch, in the caller's transaction and a savepoint of its own:
    a refusal (or a lost race) rolls back this envelope's writes and audit event only.
    `existing`: the envelope as the batch found it stored already, if it was."""
    try:
        if existing is not None:
            return _duplicate(existing, arrival.digest)
        with audit.savepoint(session):
            return Accepted(_insert(session, master, arrival, recipient, now), duplicate=False)
    except DomainError as exc:
        return exc
    except IntegrityError:
        pass
    # Lost a race: a concurrent retry stored it first (committed, so this statement sees it).
    existing = _existing(session, arrival.wire["id"], recipient.area)
    if existing is None:
        return DomainError("The envelope could not be stored; retry.")
    return _answer_retry(existing, arrival.digest)


@owns_transaction
def _accept(
    session: Session,
    master: MasterKey,
    wire: dict[str, Any],
    claims: RequestClaims,
    now: datetime,
    accepts: payload_versions.Accepts,
    *,
    token_used: bool,
) -> Accepted:
    with session.begin():
        read_only(session)
        arrival, recipient = _verify(session, master, wire, claims, now, accepts)
    return _store(session, master, arrival, recipient, claims, now, token_used=token_used)


def _verify(
    session: Session,
    master: MasterKey,
    wire: dict[str, Any],
    claims: RequestClaims,
    now: datetime,
    accepts: payload_versions.Accepts,
    forks_checked: set[tuple[str, int, bytes]] | None = None,
) -> tuple[Arrival, AreaSecretKeys]:
    """Everything checked before an envelope is stored, in the caller's (read)
    transaction: the recipient's key, the sender's pinned key and the evidence are read
    together; nothing here writes."""
    header = _load_header(wire)
    if header.recipient.area != claims.aud:
        raise Unauthorized("The token's audience is not the envelope's recipient.")
    if header.sender.area != claims.iss:
        raise Unauthorized("The token's issuer is not the envelope's sender.")
    to_area = header.recipient.area
    parts = _parse_parts(wire)
    digest = envelope_digest(parts)
    recipient = _recipient_keys(session, master, to_area, header.recipient.key, now)
    facts, summary = _verify_and_validate(session, wire, parts, recipient, now, accepts)
    proof = evidence.verify(session, wire, digest, now, forks_checked)
    return Arrival(wire, digest, facts, proof, summary), recipient


@dataclass(frozen=True)
class Arrival:
    """A verified envelope and what the audit records about it; no plaintext."""

    wire: dict[str, Any]
    digest: str
    facts: audit.DisclosureFacts
    evidence: checkpoints.PeerStatement | None
    # What the payload's handler kept from the plaintext (content-free), applied when stored.
    summary: object | None = None


def _parse_parts(wire: dict[str, Any]) -> EnvelopeParts:
    try:
        return parse_envelope(wire)
    except CryptoError as exc:
        raise Refused(f"The envelope is malformed: {exc}.", reason="malformed") from exc


def _parse_body(body: bytes) -> dict[str, Any]:
    try:
        wire = parse_json(body, WIRE_LIMITS)
    except BadJson as exc:
        raise Malformed(f"The body is not acceptable JSON: {exc}.") from exc
    if not isinstance(wire, dict):
        raise Malformed("The body must be a JSON object.")
    return wire


def _load_header(wire: dict[str, Any]) -> Any:
    try:
        return _ENVELOPE.load(wire)
    except ValidationError as exc:
        raise Malformed("The envelope is not valid.", errors=field_errors(exc.messages)) from exc


def _recipient_keys(
    session: Session, master: MasterKey, area: str, key_id: str, now: datetime
) -> AreaSecretKeys:
    """In the caller's transaction; from the key cache."""
    row = own_key(session, key_id)
    if row is None or row.area != area:
        raise Refused(
            "The envelope is sealed to a key this area does not hold.", reason="wrong-addressee"
        )
    if row.revoked:
        raise Refused("The envelope is sealed to a revoked key.", reason="revoked-key")
    if row.valid_until is not None and row.valid_until <= now:
        raise Refused("The envelope is sealed to a retired key.", reason="expired-key")
    keys = secret_keys_by_id(session, master, key_id)
    if keys is None:
        raise Refused(
            "The envelope is sealed to a key this area does not hold.", reason="wrong-addressee"
        )
    return keys


def _verify_and_validate(
    session: Session,
    wire: dict[str, Any],
    parts: EnvelopeParts,
    recipient: AreaSecretKeys,
    now: datetime,
    accepts: payload_versions.Accepts,
) -> tuple[audit.DisclosureFacts, object | None]:
    """In the caller's transaction."""
    sender_key_id = wire["from"]["key"]
    sender_key = pinned_key(session, sender_key_id)
    if sender_key is None and is_revoked(session, sender_key_id):
        # Even an envelope signed before the revocation: the key may have been stolen then.
        raise Refused("The envelope is signed by a revoked key.", reason="revoked-key")
    if sender_key is None or sender_key.area != wire["from"]["area"]:
        raise Refused(
            "The envelope's signing key is not pinned for its sender.", reason="unknown-key"
        )
    try:
        verify_envelope(parts, sender_key, now)
        payload = open_envelope(parts, recipient)
    except ExpiredKey as exc:
        raise Refused("The envelope's signing key has expired.", reason="expired-key") from exc
    except CryptoError as exc:
        raise Refused(f"The envelope does not verify: {exc}.", reason=exc.code) from exc
    handler = registry.HANDLERS.get(wire["type"])
    if handler is None:
        raise Refused("This node does not yet accept that payload type.", reason="unsupported-type")
    _check_version(wire["type"], payload, accepts)
    try:
        loaded = handler.load(payload)
        return audit.facts_of(loaded), handler.summary(loaded)
    except ValidationError as exc:
        raise Refused("The payload is not valid.", reason="invalid-payload") from exc
    finally:
        del payload  # plaintext lives only for this check and the audit commitment


def _check_version(
    payload_type: str, payload: dict[str, Any], accepts: payload_versions.Accepts
) -> None:
    """A version this node does not list in its bundle is refused: a sender that read the
    bundle would have sent one it lists (DESIGN section 4)."""
    listed = payload_versions.versions_for(accepts, payload_type)
    if payload_versions.version_of(payload) not in listed:
        versions = ", ".join(str(v) for v in listed)
        raise Refused(
            f"This node accepts {payload_type} version(s) {versions} only.",
            reason="unsupported-type",
        )


@owns_transaction
def _store(
    session: Session,
    master: MasterKey,
    arrival: Arrival,
    recipient: AreaSecretKeys,
    claims: RequestClaims,
    now: datetime,
    *,
    token_used: bool = False,
) -> Accepted:
    """`token_used`: the request's token was already spent (a batch spends it once)."""
    wire = arrival.wire
    try:
        with session.begin():
            if not token_used:
                session.add(peer_auth.used_token(claims, now))
                session.flush()
            existing = _existing(session, wire["id"], recipient.area)
            if existing is not None:
                return _duplicate(existing, arrival.digest)
            _keep_evidence(session, [(arrival, recipient.area)], now)
            receipt = _insert(session, master, arrival, recipient, now)
            return Accepted(receipt=receipt, duplicate=False)
    except IntegrityError:
        pass
    # Lost a race: either the token was replayed, or a concurrent retry stored it first.
    with session.begin():
        if not token_used and session.get(UsedToken, claims.jti) is not None:
            raise Unauthorized("The request token has already been used.")
        existing = _existing(session, wire["id"], recipient.area)
        if existing is None:
            raise DomainError("The envelope could not be stored; retry.")
        return _duplicate(existing, arrival.digest)


def _existing(session: Session, envelope_id: str, area: str) -> Envelope | None:
    return session.scalar(
        select(Envelope).where(Envelope.envelope_id == envelope_id, Envelope.area_code == area)
    )


def _answer_retry(existing: Envelope, digest: str) -> Accepted | DomainError:
    """A batch's answer for an envelope stored already: its receipt, or the conflict."""
    try:
        return _duplicate(existing, digest)
    except DomainError as exc:
        return exc


def _duplicate(existing: Envelope, digest: str) -> Accepted:
    if existing.digest != digest or existing.receipt is None:
        raise Conflict("An envelope with this id and different content was already received.")
    return Accepted(receipt=existing.receipt, duplicate=True)


def _sign_receipt(
    wire: dict[str, Any],
    digest: str,
    recipient: AreaSecretKeys,
    recorded: audit.Recorded,
    now: datetime,
) -> str:
    body = {
        "kind": RECEIPT_KIND,
        "v": 1,
        "envelope_id": wire["id"],
        "envelope_digest": digest,
        "from_area": recipient.area,
        "to_area": wire["from"]["area"],
        "key": recipient.key_id,
        "received_at": format_time(now),
        "status": "received",
        # The receipt commits to our own audit leaf for this envelope.
        "audit": {"seq": recorded.seq, "leaf_hash": recorded.leaf_hash.hex()},
    }
    return canonical_json(sign_document(body, recipient)).decode("ascii")


def _insert(
    session: Session,
    master: MasterKey,
    arrival: Arrival,
    recipient: AreaSecretKeys,
    now: datetime,
    *,
    flush: bool = True,
) -> str:
    """Store the envelope (still sealed), its transfer row and our audit event, and sign
    the receipt that commits to that event; all in the caller's transaction. Without
    `flush`, the rows wait for the caller's flush (a batch's, for all its envelopes)."""
    wire, area = arrival.wire, recipient.area
    handler = registry.HANDLERS[wire["type"]]
    inbound = Inbound(area=area, wire=wire, summary=arrival.summary, now=now)
    # Checked here, in the storing transaction, so a refusal stores nothing.
    transfer_id = handler.target(session, inbound)
    recorded = audit.record(session, area, _received_event(arrival, transfer_id), now, master)
    receipt = _sign_receipt(wire, arrival.digest, recipient, recorded, now)
    session.add(
        Envelope(
            envelope_id=wire["id"],
            area_code=area,
            direction=INBOUND,
            type=wire["type"],
            peer_area=wire["from"]["area"],
            in_reply_to=wire["in_reply_to"],
            digest=arrival.digest,
            body=canonical_json(wire).decode("ascii"),
            self_sealed_key=None,
            receipt=receipt,
            created_at=now,
            purged_at=None,
        )
    )
    if flush:
        session.flush()
    handler.apply(session, inbound, transfer_id)
    if flush:
        session.flush()
    return receipt


def _received_event(arrival: Arrival, transfer_id: str | None) -> audit.Event:
    wire, facts = arrival.wire, arrival.facts
    objects = {"envelope": wire["id"]}
    if transfer_id is not None:
        objects["transfer"] = transfer_id
    details: dict[str, Detail] = {
        "type": wire["type"],
        "evidence": "verified" if arrival.evidence else "absent",
    }
    if arrival.evidence is not None:
        details["sender_log_size"] = arrival.evidence.body.size
        details["sender_seq"] = int(wire["evidence"]["index"])
    return audit.Event(
        action=actions.ENVELOPE_RECEIVED,
        actor=Actor.peer(wire["from"]["area"]),
        peer_area=wire["from"]["area"],
        objects=objects,
        envelope_digest=arrival.digest,
        legal_basis=facts.legal_basis,
        consent=facts.consent,
        details=details,
        personal=facts.personal,
    )

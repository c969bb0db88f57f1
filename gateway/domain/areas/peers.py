"""Peers: importing another area's bundle (fingerprint confirmed out of band) and the
lookup of pinned public keys used to verify everything a peer sends."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Area, AreaKey, Peer, PeerKey
from adapters.peer_client import check_peer_url
from gateway.domain import audit
from gateway.domain.areas import key_cache
from gateway.domain.areas.local_areas import FULL_ACCEPTS, OPERATOR, local_public_key
from gateway.domain.audit import actions
from gateway.domain.identity.actors import Actor
from gateway.domain.transaction import owns_transaction
from gateway.errors import Conflict, Forbidden, Invalid, NotFound, field_errors
from keys import (
    CryptoError,
    PublicAreaKey,
    b64url_decode,
    canonical_json,
    fingerprint,
    key_id_for,
    normalise_fingerprint,
    verify_document,
)
from schemas.common import parse_timestamp
from schemas.wire import payload_versions
from schemas.wire.bundle import (
    BUNDLE_KIND,
    REVOCATION_KIND,
    ROTATION_KIND,
    BundleBody,
    BundleKey,
    BundleSchema,
)
from schemas.wire.envelope import ENVELOPE_BATCH_EXCHANGE

# Called with a peer's area code after its pinned keys change (import, an accepted
# rotation, a revocation), so that an in-process cache of peer keys can drop its entries
# (the key cache's generation check covers changes made by other processes).
KEY_CHANGE_HOOKS: list[Callable[[str], None]] = [key_cache.forget]


def keys_changed(area: str) -> None:
    for hook in KEY_CHANGE_HOOKS:
        hook(area)


@dataclass(frozen=True)
class PeerView:
    code: str
    name: str
    url: str
    mailbox: str
    fingerprint: str
    key_ids: tuple[str, ...]
    # (key id, valid from, valid until or None), oldest first: what the peers page shows.
    validity: tuple[tuple[str, datetime, datetime | None], ...] = ()
    # Key ids no longer trusted, with when and by whom ("peer" or "admin").
    revoked: tuple[tuple[str, datetime, str], ...] = ()
    # A fetched bundle waiting for its fingerprint by phone (its fingerprint, since when).
    pending_fingerprint: str | None = None
    pending_since: datetime | None = None
    # The last fetch of its published bundle; the last rotation accepted without a call.
    checked_at: datetime | None = None
    rotated_at: datetime | None = None


@owns_transaction
def import_peer(
    session: Session,
    document: Mapping[str, Any],
    confirmed: str,
    now: datetime,
    actor: Actor = OPERATOR,
) -> PeerView:
    """Pin a peer's keys. The fingerprint must be the one read out by the peer's coordinator."""
    try:
        expected = normalise_fingerprint(confirmed)
    except CryptoError as exc:
        raise Invalid("The fingerprint is not 64 hex digits.") from exc
    body = _loaded(document)
    if fingerprint(document["body"]) != expected:
        raise Forbidden("The bundle's fingerprint does not match the one confirmed. Not imported.")
    keys = _verified_keys(document, body)
    with session.begin():
        if session.get(Area, body.area) is not None:
            raise Conflict(f"Area {body.area} is hosted on this node; it needs no import.")
        _store(session, body, keys, document, now)
        audit.record_everywhere(
            session,
            session.scalars(select(Area.code)).all(),
            audit.Event(
                action=actions.PEER_IMPORTED,
                actor=actor,
                peer_area=body.area,
                details={"fingerprint": expected, "keys": len(keys)},
            ),
            now,
        )
    keys_changed(body.area)
    return peer_view(session, body.area)


def _loaded(document: Mapping[str, Any]) -> BundleBody:
    try:
        bundle = BundleSchema().load(dict(document))
    except ValidationError as exc:
        raise Invalid("The bundle is not valid.", errors=field_errors(exc.messages)) from exc
    body: BundleBody = bundle.body
    return body


def _verified_keys(document: Mapping[str, Any], body: BundleBody) -> list[PublicAreaKey]:
    """The bundle's keys, once its signature verifies under its current key and its URL
    is one this node may call."""
    current = _public_key(body.area, _as_key(body), None)
    try:
        verify_document(document, BUNDLE_KIND, current.signing_public)
        check_peer_url(body.url)
    except (CryptoError, ValueError) as exc:
        raise Invalid("The bundle does not verify or names an unsafe URL.") from exc
    return [current] + [_public_key(body.area, k, k.valid_until) for k in body.previous_keys]


@dataclass(frozen=True)
class BundleSummary:
    """What the import's second page names: the area, never the fingerprint (the admin
    types the one read out by phone; showing it would invite copying it)."""

    code: str
    name: str
    url: str


@owns_transaction
def read_bundle(session: Session, document: Mapping[str, Any]) -> BundleSummary:
    """Check an uploaded bundle before its fingerprint is confirmed: well formed, signed
    by its own key, a safe URL, not one of this node's own areas. Stores nothing."""
    body = _loaded(document)
    _verified_keys(document, body)
    with session.begin():
        if session.get(Area, body.area) is not None:
            raise Conflict(f"Area {body.area} is hosted on this node; it needs no import.")
    return BundleSummary(body.area, body.name, body.url.rstrip("/"))


def _as_key(body: BundleBody) -> BundleKey:
    return BundleKey(body.key_id, body.signing_key, body.encryption_key, body.valid_from)


def _public_key(area: str, key: BundleKey, valid_until: str | None) -> PublicAreaKey:
    try:
        return PublicAreaKey(
            area=area,
            key_id=key.key_id,
            signing_public=b64url_decode(key.signing_key, length=32),
            encryption_public=b64url_decode(key.encryption_key, length=32),
            valid_from=parse_timestamp(key.valid_from),
            valid_until=parse_timestamp(valid_until) if valid_until else None,
        )
    except CryptoError as exc:
        raise Invalid("A key in the bundle is malformed or does not match its id.") from exc


def _store(
    session: Session,
    body: BundleBody,
    keys: list[PublicAreaKey],
    document: Mapping[str, Any],
    now: datetime,
) -> None:
    peer = session.get(Peer, body.area)
    if peer is None:
        peer = Peer(code=body.area, imported_at=now)
        session.add(peer)
    peer.name, peer.url, peer.mailbox = body.name, body.url.rstrip("/"), body.mailbox
    peer.fingerprint = fingerprint(document["body"])
    peer.bundle = canonical_json(dict(document)).decode("ascii")
    peer.imported_at = now
    peer.pending_bundle = peer.pending_fingerprint = peer.pending_since = None
    for key in keys:
        row = session.get(PeerKey, key.key_id)
        if row is not None and row.peer_code != body.area:
            raise Conflict("A key in the bundle is already pinned for another area.")
        if row is None:
            row = PeerKey(key_id=key.key_id, peer_code=body.area)
            session.add(row)
        row.signing_public, row.encryption_public = key.signing_public, key.encryption_public
        row.valid_from, row.valid_until = key.valid_from, key.valid_until
    session.flush()


def peer_view(session: Session, code: str) -> PeerView:
    peer = session.get(Peer, code)
    if peer is None:
        raise NotFound(f"Area {code} is not a known peer.")
    rows = session.scalars(
        select(PeerKey)
        .where(PeerKey.peer_code == code)
        .order_by(PeerKey.valid_from, PeerKey.key_id)
    ).all()
    return PeerView(
        peer.code,
        peer.name,
        peer.url,
        peer.mailbox,
        peer.fingerprint,
        tuple(row.key_id for row in rows),
        tuple((row.key_id, row.valid_from, row.valid_until) for row in rows),
        tuple(
            (row.key_id, row.revoked_at, row.revoked_by or "admin")
            for row in rows
            if row.revoked_at is not None
        ),
        peer.pending_fingerprint,
        peer.pending_since,
        peer.checked_at,
        peer.rotated_at,
    )


@owns_transaction
def list_peers(session: Session) -> list[PeerView]:
    """Every pinned peer, with its fingerprint and key ids."""
    with session.begin():
        codes = list(session.scalars(select(Peer.code).order_by(Peer.code)))
        return [peer_view(session, code) for code in codes]


def pinned_key(session: Session, key_id: str) -> PublicAreaKey | None:
    """A public key this node trusts: a peer's pinned key or one of its own areas' keys.
    A revoked key is trusted for nothing, so every caller refuses it (`is_revoked` says
    why, for a refusal that names the reason). From the key cache."""
    return key_cache.cached(session, ("pinned", key_id), lambda: _pinned_key(session, key_id))


def _pinned_key(session: Session, key_id: str) -> PublicAreaKey | None:
    if is_revoked(session, key_id):
        return None
    row = session.get(PeerKey, key_id)
    if row is not None:
        return PublicAreaKey(
            area=row.peer_code,
            key_id=row.key_id,
            signing_public=row.signing_public,
            encryption_public=row.encryption_public,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
        )
    local = session.get(AreaKey, key_id)
    return None if local is None else local_public_key(local)


def pinned_keys_of(session: Session, area: str) -> dict[str, PublicAreaKey]:
    """Every key this node trusts for `area` (a peer's pinned keys, or one of its own
    areas' keys), by key id, in one query for a peer. Revoked keys are left out, as
    `pinned_key` leaves them out. From the key cache."""
    return dict(
        key_cache.cached(session, ("pinned_of", area), lambda: _pinned_keys_of(session, area))
    )


def _pinned_keys_of(session: Session, area: str) -> dict[str, PublicAreaKey]:
    found = {
        row.key_id: PublicAreaKey(
            area=row.peer_code,
            key_id=row.key_id,
            signing_public=row.signing_public,
            encryption_public=row.encryption_public,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
        )
        for row in session.scalars(
            select(PeerKey).where(PeerKey.peer_code == area, PeerKey.revoked_at.is_(None))
        )
    }
    if found:
        return found
    return {
        row.key_id: local_public_key(row)
        for row in session.scalars(
            select(AreaKey).where(AreaKey.area_code == area, AreaKey.revoked_at.is_(None))
        )
    }


def recipient_key(session: Session, area: str, now: datetime) -> PublicAreaKey:
    """The newest valid key of a recipient area, peer or local."""
    candidates = key_cache.cached(session, ("candidates", area), lambda: _candidates(session, area))
    valid = [
        key
        for key in candidates
        if key is not None
        and key.valid_from <= now
        and (key.valid_until is None or key.valid_until > now)
    ]
    if not valid:
        raise NotFound(
            f"Area {area} is not a known peer with a valid key; import its bundle first."
        )
    return max(valid, key=lambda key: (key.valid_until is None, key.valid_from))


def _candidates(session: Session, area: str) -> tuple[PublicAreaKey | None, ...]:
    return tuple(
        pinned_key(session, key_id)
        for key_id in [
            *session.scalars(select(PeerKey.key_id).where(PeerKey.peer_code == area)),
            *session.scalars(select(AreaKey.key_id).where(AreaKey.area_code == area)),
        ]
    )


def accepts_of(session: Session, area: str) -> payload_versions.Accepts:
    """The payload versions a recipient area accepts: a peer's as its imported bundle lists
    them (none listed: version 1 of everything, docs/contract.md); one of this node's own
    areas accepts what this release understands. From the key cache."""
    return key_cache.cached(session, ("accepts", area), lambda: _accepts_of(session, area))


def _accepts_of(session: Session, area: str) -> payload_versions.Accepts:
    peer = session.get(Peer, area)
    if peer is None:
        return FULL_ACCEPTS
    body = json.loads(peer.bundle).get("body", {})
    return payload_versions.peer_accepts(body.get("accepts"))


def accepts_batches(session: Session, area: str) -> bool:
    """Whether a recipient area takes envelope batches: a peer whose imported bundle lists
    the exchange (an older peer's does not: it is sent envelopes one at a time); one of
    this node's own areas is served by this release. From the key cache."""
    return key_cache.cached(session, ("batches", area), lambda: _accepts_batches(session, area))


def _accepts_batches(session: Session, area: str) -> bool:
    peer = session.get(Peer, area)
    if peer is None:
        return True
    exchanges = json.loads(peer.bundle).get("body", {}).get("exchanges")
    if not isinstance(exchanges, dict):
        return False
    versions = exchanges.get(ENVELOPE_BATCH_EXCHANGE)
    return isinstance(versions, list) and 1 in versions


def node_url(session: Session, area: str) -> str:
    """A peer's URL, or one of this node's own areas'. From the key cache."""
    url = key_cache.cached(session, ("url", area), lambda: _node_url(session, area))
    if url is None:
        raise NotFound(f"Area {area} is not a known peer.")
    return url


def _node_url(session: Session, area: str) -> str | None:
    peer = session.get(Peer, area)
    if peer is not None:
        return peer.url
    local = session.get(Area, area)
    return None if local is None else local.url


def is_revoked(session: Session, key_id: str) -> bool:
    """A pinned peer key or an own key that has been revoked (docs/contract.md). From the
    key cache."""
    return key_cache.cached(session, ("revoked", key_id), lambda: _is_revoked(session, key_id))


def _is_revoked(session: Session, key_id: str) -> bool:
    peer_row = session.get(PeerKey, key_id)
    if peer_row is not None:
        return peer_row.revoked_at is not None
    own = session.get(AreaKey, key_id)
    return own is not None and own.revoked_at is not None


# --- rotation reaching peers, and revocation (docs/contract.md "Key rotation and revocation")


@dataclass(frozen=True)
class Refreshed:
    """What a fetched bundle did: `unchanged`, `rotated` (accepted because a pinned key
    endorsed it) or `waiting` (it needs its fingerprint by phone); and which pinned keys
    its revocation statements revoked."""

    outcome: str
    fingerprint: str
    revoked: tuple[str, ...] = ()


@owns_transaction
def accept_fetched(
    session: Session, code: str, document: Mapping[str, Any], now: datetime
) -> Refreshed:
    """A bundle fetched from peer `code`'s published URL. Its revocation statements that
    verify under a key pinned for `code` revoke that key at once. Then it is pinned
    without a phone call only if a chain of rotation statements, each signed by a key
    trusted here (pinned, valid, not revoked), leads to its current key; otherwise it
    waits for its fingerprint, and nothing that is pinned changes."""
    body = _loaded(document)
    keys = _verified_keys(document, body)
    raw = dict(document["body"])
    new_fingerprint = fingerprint(raw)
    with session.begin():
        peer = session.get(Peer, code)
        if peer is None:
            raise NotFound(f"Area {code} is not a known peer.")
        if body.area != code:
            raise Invalid("The fetched bundle is for another area.")
        revoked = _apply_revocations(session, code, raw.get("revocations", []), now)
        peer.checked_at = now
        if new_fingerprint == peer.fingerprint:
            outcome = "unchanged"
        elif _endorsed(session, code, raw.get("rotations", []), body.key_id, now):
            old = peer.fingerprint
            _store(session, body, keys, document, now)
            peer.rotated_at = now
            _record(
                session,
                actions.PEER_KEYS_ROTATED,
                code,
                {"fingerprint": new_fingerprint, "previous_fingerprint": old, "key": body.key_id},
                now,
            )
            outcome = "rotated"
        else:
            if peer.pending_fingerprint != new_fingerprint:
                peer.pending_bundle = canonical_json(dict(document)).decode("ascii")
                peer.pending_fingerprint, peer.pending_since = new_fingerprint, now
                _record(
                    session,
                    actions.PEER_BUNDLE_WAITING,
                    code,
                    {"fingerprint": new_fingerprint, "key": body.key_id},
                    now,
                )
            outcome = "waiting"
    if revoked or outcome == "rotated":
        keys_changed(code)
    return Refreshed(outcome, new_fingerprint, tuple(revoked))


def _record(
    session: Session, action: str, code: str, details: dict[str, Any], now: datetime
) -> None:
    audit.record_everywhere(
        session,
        session.scalars(select(Area.code)).all(),
        audit.Event(action=action, actor=OPERATOR, peer_area=code, details=details),
        now,
    )


def _apply_revocations(
    session: Session, code: str, statements: list[Any], now: datetime
) -> list[str]:
    """Revoke each pinned key of `code` that revokes itself. A statement signed by any
    other key, or for another area, is ignored: only the key's holder can revoke it, and
    revoking can only take trust away, never give it."""
    revoked = []
    for statement in statements:
        key_id = statement["body"]["key_id"]
        row = session.get(PeerKey, key_id)
        if row is None or row.peer_code != code or row.revoked_at is not None:
            continue
        if statement["body"]["area"] != code:
            continue
        try:
            verify_document(statement, REVOCATION_KIND, row.signing_public)
        except CryptoError:
            continue
        row.revoked_at, row.revoked_by = now, "peer"
        revoked.append(key_id)
        _record(session, actions.PEER_KEY_REVOKED, code, {"key": key_id, "by": "peer"}, now)
    session.flush()
    return revoked


def _endorsed(
    session: Session, code: str, statements: list[Any], current: str, now: datetime
) -> bool:
    """Whether a chain of rotation statements leads from a trusted pinned key of `code`
    to `current`. Each link is signed by a key already trusted and names its successor's
    public halves; a revoked or expired key endorses nothing."""
    trusted: dict[str, bytes] = {}
    for row in session.scalars(select(PeerKey).where(PeerKey.peer_code == code)):
        live = row.valid_until is None or row.valid_until > now
        if row.revoked_at is None and row.valid_from <= now and live:
            trusted[row.key_id] = row.signing_public
    if current in trusted:
        return True  # signed by the pinned key itself (`_verified_keys` checked it)
    grew = True
    while grew and current not in trusted:
        grew = False
        for statement in statements:
            link = statement["body"]
            if link["from_key"] not in trusted or link["to_key"] in trusted:
                continue
            if link["area"] != code or is_revoked(session, link["to_key"]):
                continue
            try:
                verify_document(statement, ROTATION_KIND, trusted[link["from_key"]])
                signing = b64url_decode(link["signing_key"], length=32)
                encryption = b64url_decode(link["encryption_key"], length=32)
            except CryptoError:
                continue
            if key_id_for(signing, encryption) != link["to_key"]:
                continue
            trusted[link["to_key"]] = signing
            grew = True
    return current in trusted


@owns_transaction
def revoke_peer_key(
    session: Session, code: str, key_id: str, now: datetime, actor: Actor = OPERATOR
) -> PeerView:
    """Stop trusting one of a peer's pinned keys at once (a compromise reported by phone):
    everything signed by it is refused from now on, even envelopes already in flight, and
    nothing is sealed to it. Only a bundle confirmed by its fingerprint brings trust back."""
    with session.begin():
        row = session.get(PeerKey, key_id)
        if session.get(Peer, code) is None or row is None or row.peer_code != code:
            raise NotFound(f"Area {code} has no pinned key {key_id}.")
        if row.revoked_at is not None:
            raise Conflict(f"Key {key_id} is already revoked.")
        row.revoked_at, row.revoked_by = now, "admin"
        session.flush()
        audit.record_everywhere(
            session,
            session.scalars(select(Area.code)).all(),
            audit.Event(
                action=actions.PEER_KEY_REVOKED,
                actor=actor,
                peer_area=code,
                details={"key": key_id, "by": "admin"},
            ),
            now,
        )
        view = peer_view(session, code)
    keys_changed(code)
    return view


@owns_transaction
def pending_bundle(session: Session, code: str) -> dict[str, Any]:
    """The fetched bundle waiting for its fingerprint (NotFound if none)."""
    with session.begin():
        peer = session.get(Peer, code)
        if peer is None or peer.pending_bundle is None:
            raise NotFound(f"No bundle of area {code} is waiting for its fingerprint.")
        document: dict[str, Any] = json.loads(peer.pending_bundle)
        return document

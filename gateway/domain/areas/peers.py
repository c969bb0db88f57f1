"""Peers: importing another area's bundle (fingerprint confirmed out of band) and the
lookup of pinned public keys used to verify everything a peer sends."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Area, AreaKey, Peer, PeerKey
from adapters.peer_client import check_peer_url
from gateway.domain import audit
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
    normalise_fingerprint,
    verify_document,
)
from schemas.common import parse_timestamp
from schemas.wire import payload_versions
from schemas.wire.bundle import BUNDLE_KIND, BundleBody, BundleKey, BundleSchema
from schemas.wire.envelope import ENVELOPE_BATCH_EXCHANGE


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
    rows = session.execute(
        select(PeerKey.key_id, PeerKey.valid_from, PeerKey.valid_until)
        .where(PeerKey.peer_code == code)
        .order_by(PeerKey.valid_from, PeerKey.key_id)
    ).all()
    return PeerView(
        peer.code,
        peer.name,
        peer.url,
        peer.mailbox,
        peer.fingerprint,
        tuple(key_id for key_id, _, _ in rows),
        tuple((key_id, start, end) for key_id, start, end in rows),
    )


@owns_transaction
def list_peers(session: Session) -> list[PeerView]:
    """Every pinned peer, with its fingerprint and key ids."""
    with session.begin():
        codes = list(session.scalars(select(Peer.code).order_by(Peer.code)))
        return [peer_view(session, code) for code in codes]


def pinned_key(session: Session, key_id: str) -> PublicAreaKey | None:
    """A public key this node trusts: a peer's pinned key or one of its own areas' keys."""
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


def recipient_key(session: Session, area: str, now: datetime) -> PublicAreaKey:
    """The newest valid key of a recipient area, peer or local."""
    candidates = [
        pinned_key(session, key_id)
        for key_id in [
            *session.scalars(select(PeerKey.key_id).where(PeerKey.peer_code == area)),
            *session.scalars(select(AreaKey.key_id).where(AreaKey.area_code == area)),
        ]
    ]
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


def accepts_of(session: Session, area: str) -> payload_versions.Accepts:
    """The payload versions a recipient area accepts: a peer's as its imported bundle lists
    them (none listed: version 1 of everything, docs/contract.md); one of this node's own
    areas accepts what this release understands."""
    peer = session.get(Peer, area)
    if peer is None:
        return FULL_ACCEPTS
    body = json.loads(peer.bundle).get("body", {})
    return payload_versions.peer_accepts(body.get("accepts"))


def accepts_batches(session: Session, area: str) -> bool:
    """Whether a recipient area takes envelope batches: a peer whose imported bundle lists
    the exchange (an older peer's does not: it is sent envelopes one at a time); one of
    this node's own areas is served by this release."""
    peer = session.get(Peer, area)
    if peer is None:
        return True
    exchanges = json.loads(peer.bundle).get("body", {}).get("exchanges")
    if not isinstance(exchanges, dict):
        return False
    versions = exchanges.get(ENVELOPE_BATCH_EXCHANGE)
    return isinstance(versions, list) and 1 in versions


def node_url(session: Session, area: str) -> str:
    peer = session.get(Peer, area)
    if peer is not None:
        return peer.url
    local = session.get(Area, area)
    if local is None:
        raise NotFound(f"Area {area} is not a known peer.")
    return local.url

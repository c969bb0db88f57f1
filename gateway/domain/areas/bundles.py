"""Fetching peers' published bundles, so that a rotation their pinned key endorsed reaches
this node without a phone call (docs/contract.md "Key rotation and revocation"): after a
request signed by a key this node does not know, and on the worker's schedule."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.db.models import Peer
from adapters.peer_client import PeerClient, PeerUnreachable
from gateway.domain.areas.peers import Refreshed, accept_fetched
from gateway.domain.transaction import owns_transaction
from gateway.errors import DomainError, NotFound
from keys import BadJson, parse_json

BUNDLE_PATH = "/federation/v1/areas/{code}/bundle"
# After an unknown key, a peer's bundle is fetched at most this often: anyone can send a
# token claiming to be a peer, and must not make this node call that peer in a loop.
AFTER_UNKNOWN_KEY = timedelta(seconds=30)


class FetchFailed(DomainError):
    """The peer's bundle could not be fetched or is not a bundle; nothing changed."""

    status, slug, title = 502, "bundle-fetch-failed", "The peer's bundle could not be fetched"
    explanation = (
        "This node asked the peer for its published bundle and got no usable answer. The"
        " keys pinned for it are unchanged. Try again later, or import the bundle by hand."
    )


@owns_transaction
def fetch(session: Session, client: PeerClient, code: str, now: datetime) -> Refreshed:
    """Fetch peer `code`'s bundle from the node URL pinned for it and act on it."""
    with session.begin():
        peer = session.get(Peer, code)
        if peer is None:
            raise NotFound(f"Area {code} is not a known peer.")
        url = peer.url + BUNDLE_PATH.format(code=code)
        # Noted before the call, so a peer that does not answer is not asked again at once.
        peer.checked_at = now
    try:
        response = client.get(url)
    except PeerUnreachable as exc:
        raise FetchFailed(f"Peer {code} could not be reached ({exc}).") from exc
    if response.status != 200:
        raise FetchFailed(f"Peer {code} answered HTTP {response.status} for its bundle.")
    try:
        document = parse_json(response.body)
    except BadJson as exc:
        raise FetchFailed(f"Peer {code} answered with something that is not JSON.") from exc
    if not isinstance(document, dict):
        raise FetchFailed(f"Peer {code} answered with something that is not a bundle.")
    try:
        return accept_fetched(session, code, document, now)
    except NotFound:
        raise
    except DomainError as exc:
        raise FetchFailed(f"Peer {code}'s published bundle was refused: {exc.detail}") from exc


@owns_transaction
def fetch_after_unknown_key(session: Session, client: PeerClient, code: str, now: datetime) -> bool:
    """A request claiming to be from `code` was signed by a key not pinned here: fetch
    its bundle, unless it was fetched in the last few seconds. True if keys changed."""
    with session.begin():
        peer = session.get(Peer, code)
        if peer is None:
            return False
        if peer.checked_at is not None and peer.checked_at > now - AFTER_UNKNOWN_KEY:
            return False
    try:
        refreshed = fetch(session, client, code, now)
    except (FetchFailed, NotFound):
        return False
    return refreshed.outcome == "rotated" or bool(refreshed.revoked)


@owns_transaction
def due_for_refresh(session: Session, now: datetime, interval: timedelta) -> list[str]:
    """Peers whose bundle was neither imported nor fetched within `interval`."""
    last = func.coalesce(Peer.checked_at, Peer.imported_at)
    with session.begin():
        return list(
            session.scalars(select(Peer.code).where(last <= now - interval).order_by(Peer.code))
        )

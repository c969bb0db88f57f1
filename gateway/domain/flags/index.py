"""The flag index role (DESIGN section 6): active tokens, the area holding each, that
area's opaque reference for the flag and the expiry; never an identity.

Areas publish their own tokens only (the publisher is the area whose request token
verified). A match is one indexed equality query on the token column. Strong matches name
the holding area and its coordinator mailbox; weak-only matches name no area and carry a
reference sealed under this node's master key with a fresh nonce, so the same flag looks
different in every answer and only this index can turn it back into (area, flag).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from adapters.db.models import Area, IndexToken, Peer
from gateway.domain import audit
from gateway.domain.audit import actions
from gateway.domain.flags.months import expiry_instant
from gateway.domain.identity import rate_limits
from gateway.domain.identity.actors import Actor
from gateway.domain.transaction import owns_transaction
from gateway.errors import NotFound, TooManyRequests
from keys import CryptoError, MasterKey, b64url_decode, b64url_encode
from schemas.wire.flags import (
    CLEAR_ACTION,
    EXTEND_ACTION,
    SET,
    STRONG,
    WEAK,
    IndexMatch,
    Publication,
    WireToken,
)

REF_CONTEXT = "flag-index-ref:v1"


def caller_actor(caller: str, role_area: str) -> Actor:
    """Who the index's audit names: the calling area, or the index itself for a call from
    its own area."""
    return Actor.peer(caller) if caller != role_area else Actor.system("flag-index")


@owns_transaction
def publish(
    session: Session,
    master: MasterKey,
    role_area: str,
    publisher: str,
    publication: Publication,
    limit: rate_limits.RateLimit,
    now: datetime,
) -> None:
    """Set (replace), extend or clear one flag's tokens, for the publishing area only.

    Publications count per publishing area against the same allowance as matches, on a
    counter of their own: an area cannot flood the index with writes, and a worker
    catching up on many changed flags does not use up its coordinators' lookups."""
    mine = (IndexToken.area == publisher) & (IndexToken.ref == publication.ref)
    with session.begin():
        decision = rate_limits.hit(session, f"index-publish:{publisher}", limit, now)
        if not decision.allowed:
            raise TooManyRequests(
                "This area has published too many flag changes; try again later.",
                retry_after=decision.retry_after,
            )
        if publication.action in (SET, CLEAR_ACTION):
            session.execute(delete(IndexToken).where(mine))
        if publication.action == SET and publication.expires_at is not None:
            until = expiry_instant(publication.expires_at)
            session.add_all(
                IndexToken(
                    token=b64url_decode(t.token, length=32),
                    kind=t.kind,
                    area=publisher,
                    ref=publication.ref,
                    expires_at=until,
                )
                for t in {(t.kind, t.token): t for t in publication.tokens}.values()
            )
        if publication.action == EXTEND_ACTION and publication.expires_at is not None:
            session.execute(
                update(IndexToken)
                .where(mine)
                .values(expires_at=expiry_instant(publication.expires_at))
            )
        audit.record(
            session,
            role_area,
            audit.Event(
                action=actions.INDEX_PUBLISHED,
                actor=caller_actor(publisher, role_area),
                peer_area=publisher if publisher != role_area else None,
                details={"publication": publication.action, "count": len(publication.tokens)},
            ),
            now,
        )


@dataclass(frozen=True)
class _Hit:
    area: str
    ref: str
    kind: str
    expires_at: datetime
    token: bytes
    mailbox: str | None  # the holding area's coordinator mailbox (a peer's or our own)


@owns_transaction
def match(
    session: Session,
    master: MasterKey,
    role_area: str,
    caller: str,
    tokens: Iterable[WireToken],
    limit: rate_limits.RateLimit,
    now: datetime,
) -> list[IndexMatch]:
    """Active tokens of other areas equal to any of `tokens`, one answer per flag."""
    with session.begin():
        return match_in(session, master, role_area, caller, tokens, limit, now)


def match_rate_key(caller: str) -> str:
    """The rate counter of `caller`'s index queries (a local lookup counts it up front)."""
    return f"index-match:{caller}"


def match_in(
    session: Session,
    master: MasterKey,
    role_area: str,
    caller: str,
    tokens: Iterable[WireToken],
    limit: rate_limits.RateLimit,
    now: datetime,
) -> list[IndexMatch]:
    """`match` inside the caller's transaction (a local lookup makes one).

    Each answer says which of the caller's tokens met that flag (`met`, positions in
    `tokens`): the caller knows which rule built each of its tokens and scores the match
    itself (linkage.scoring); this index compares tokens only and never learns a rule."""
    positions: dict[bytes, list[int]] = {}
    for position, item in enumerate(tokens):
        positions.setdefault(b64url_decode(item.token, length=32), []).append(position)
    wanted = sorted(positions)
    decision = rate_limits.hit(session, match_rate_key(caller), limit, now)
    if not decision.allowed:
        raise TooManyRequests(
            "This area has made too many flag index queries; try again later.",
            retry_after=decision.retry_after,
        )
    rows = session.execute(
        select(
            IndexToken.area,
            IndexToken.ref,
            IndexToken.kind,
            IndexToken.expires_at,
            IndexToken.token,
            # The mailbox comes with the (few) matching rows, not in a query per flag.
            case((Peer.code.is_not(None), Peer.mailbox), else_=Area.mailbox),
        )
        .outerjoin(Peer, Peer.code == IndexToken.area)
        .outerjoin(Area, Area.code == IndexToken.area)
        .where(
            IndexToken.token.in_(wanted),
            IndexToken.expires_at > now,
            IndexToken.area != caller,
        )
    ).all()
    flags: dict[tuple[str, str], list[_Hit]] = {}
    for row in rows:
        flags.setdefault((row[0], row[1]), []).append(_Hit(*row))
    answers = [_answer(session, master, hits, positions) for hits in flags.values()]
    audit.record_later(
        session,
        role_area,
        audit.Event(
            action=actions.INDEX_MATCHED,
            actor=caller_actor(caller, role_area),
            peer_area=caller if caller != role_area else None,
            details={
                "strong": sum(a.strength == STRONG for a in answers),
                "possible": sum(a.strength == WEAK for a in answers),
            },
        ),
        now,
    )
    # Strong first; otherwise no order that could hint at which area a weak one is.
    return sorted(answers, key=lambda a: (a.strength != STRONG, a.ref))


def _answer(
    session: Session, master: MasterKey, hits: list[_Hit], positions: dict[bytes, list[int]]
) -> IndexMatch:
    first = hits[0]
    ref = seal_ref(master, first.area, first.ref)
    met = tuple(sorted({p for hit in hits for p in positions[bytes(hit.token)]}))
    if any(hit.kind == STRONG for hit in hits):
        return IndexMatch(
            strength=STRONG,
            area=first.area,
            mailbox=first.mailbox,
            expires_at=max(hit.expires_at for hit in hits).date(),
            ref=ref,
            seal_to=first.ref,
            met=met,
        )
    return IndexMatch(
        strength=WEAK,
        area=None,
        mailbox=None,
        expires_at=None,
        ref=ref,
        seal_to=first.ref,
        met=met,
    )


def seal_ref(master: MasterKey, area: str, ref: str) -> str:
    plain = json.dumps({"a": area, "r": ref}, separators=(",", ":")).encode("ascii")
    return b64url_encode(master.seal(plain, REF_CONTEXT))


def open_ref(master: MasterKey, sealed: str) -> tuple[str, str]:
    """(holding area, its flag ref) from a reference this index issued; NotFound else."""
    try:
        found = json.loads(master.open(b64url_decode(sealed), REF_CONTEXT))
        return str(found["a"]), str(found["r"])
    except (CryptoError, ValueError, KeyError, TypeError) as exc:
        raise NotFound("No such match reference.") from exc


def purge_expired(session: Session, now: datetime) -> int:
    """The index expires tokens by itself, whatever the areas publish."""
    result = session.execute(delete(IndexToken).where(IndexToken.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)

"""Local areas and their keys: creation, the signed public bundle, rotation, the keyring.

Private keys are unsealed from the database with the node master key. The hot paths
(sending, delivering, receiving) take them from the process's key cache (`key_cache`:
checked against the database's key generation in every transaction, so a rotation or a
revocation anywhere is seen at once): unsealing them again for every envelope cost a
query and the unsealing itself. They live only in this process's memory, as the master
key does.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Area, AreaKey, Peer
from adapters.peer_client import check_peer_url
from gateway.domain import audit
from gateway.domain.areas import key_cache
from gateway.domain.audit import actions
from gateway.domain.identity.actors import Actor
from gateway.domain.transaction import owns_transaction
from gateway.errors import Conflict, Invalid, NotFound
from keys import (
    AreaSecretKeys,
    CryptoError,
    MasterKey,
    PublicAreaKey,
    b64url_encode,
    format_time,
    sign_document,
)
from schemas.common import AREA_CODE
from schemas.wire import payload_versions
from schemas.wire.bundle import BUNDLE_KIND, MAX_STATEMENTS, REVOCATION_KIND, ROTATION_KIND
from schemas.wire.envelope import ENVELOPE_BATCH_EXCHANGE

# Exchanges this release serves, with their versions: the bundle's `exchanges` member.
EXCHANGES: dict[str, tuple[int, ...]] = {ENVELOPE_BATCH_EXCHANGE: (1,)}
# What this release accepts when the node sets no cap (GATEWAY_PAYLOAD_VERSIONS).
FULL_ACCEPTS = payload_versions.accepted()

OPERATOR = Actor.operator()
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class AreaView:
    code: str
    name: str
    url: str
    mailbox: str
    key_id: str


def _seal_context(key_id: str, part: str) -> str:
    return f"area-key:{key_id}:{part}"


@owns_transaction
def create_area(
    session: Session,
    master: MasterKey,
    *,
    code: str,
    name: str,
    url: str,
    mailbox: str,
    now: datetime,
    actor: Actor = OPERATOR,
) -> AreaView:
    problems: dict[str, list[str]] = {}
    if not AREA_CODE.match(code):
        problems["code"] = ["Area codes are lowercase letters, digits and '-', 2-63 long."]
    if not name.strip() or len(name) > 200:
        problems["name"] = ["Give the area's name (at most 200 characters)."]
    if not EMAIL.match(mailbox) or len(mailbox) > 320:
        problems["mailbox"] = ["Give the coordinator mailbox as an email address."]
    try:
        check_peer_url(url)
    except ValueError as exc:
        problems["url"] = [str(exc)]
    if problems:
        raise Invalid("The area could not be created.", errors=problems)
    with session.begin():
        if session.get(Area, code) is not None:
            raise Conflict(f"Area {code} already exists on this node.")
        if session.get(Peer, code) is not None:
            raise Conflict(f"Area {code} is already imported as a peer.")
        session.add(
            Area(code=code, name=name, url=url.rstrip("/"), mailbox=mailbox, created_at=now)
        )
        key_id = _add_key(session, master, code, now)
        session.flush()
        audit.start_log(session, code, now)
        session.flush()
        audit.record(
            session,
            code,
            audit.Event(action=actions.AREA_CREATED, actor=actor, details={"key": key_id}),
            now,
        )
    return AreaView(code, name, url.rstrip("/"), mailbox, key_id)


def _add_key(session: Session, master: MasterKey, code: str, now: datetime) -> str:
    secrets = AreaSecretKeys.generate(code)
    session.add(
        AreaKey(
            key_id=secrets.key_id,
            area_code=code,
            signing_public=secrets.signing_public,
            encryption_public=secrets.encryption_public,
            signing_secret_sealed=master.seal(
                secrets.signing_seed, _seal_context(secrets.key_id, "sign")
            ),
            encryption_secret_sealed=master.seal(
                secrets.encryption_secret, _seal_context(secrets.key_id, "box")
            ),
            valid_from=now,
            valid_until=None,
            created_at=now,
        )
    )
    session.flush()
    return secrets.key_id


@owns_transaction
def rotate_keys(
    session: Session,
    master: MasterKey,
    code: str,
    *,
    grace: timedelta,
    now: datetime,
    actor: Actor = OPERATOR,
) -> tuple[str, str, datetime]:
    """New key pair; the old one keeps verifying (and opening) until `now + grace`."""
    with session.begin():
        old = _current_key_row(session, code, now)
        old.valid_until = now + grace
        new_id = _add_key(session, master, code, now)
        audit.record(
            session,
            code,
            audit.Event(
                action=actions.KEYS_ROTATED,
                actor=actor,
                details={
                    "old_key": old.key_id,
                    "new_key": new_id,
                    "old_valid_until": format_time(now + grace),
                },
            ),
            now,
        )
        return old.key_id, new_id, now + grace


@owns_transaction
def revoke_key(
    session: Session,
    master: MasterKey,
    code: str,
    key_id: str,
    *,
    now: datetime,
    actor: Actor = OPERATOR,
) -> str | None:
    """Revoke one of the area's keys as compromised (docs/contract.md "Key rotation and
    revocation"). It stops signing, opening and verifying at once, endorses no successor
    (a thief holding it must not be able to move peers to a key of theirs), and the bundle
    carries its revocation statement. Revoking the current key makes a new one, which
    peers must confirm by its fingerprint. Returns the new key id, if one was made."""
    with session.begin():
        get_area(session, code)
        row = session.get(AreaKey, key_id)
        if row is None or row.area_code != code:
            raise NotFound(f"Area {code} has no key {key_id}.")
        if row.revoked_at is not None:
            raise Conflict(f"Key {key_id} is already revoked.")
        if row.valid_until is not None and row.valid_until <= now:
            raise Conflict(f"Key {key_id} has already expired; it verifies nothing.")
        was_current = row.valid_until is None
        row.revoked_at, row.valid_until = now, now
        new_id = _add_key(session, master, code, now) if was_current else None
        details: dict[str, str] = {"key": key_id}
        if new_id is not None:
            details["new_key"] = new_id
        audit.record(
            session,
            code,
            audit.Event(action=actions.KEY_REVOKED, actor=actor, details=details),
            now,
        )
        return new_id


@owns_transaction
def current_key_id(session: Session, code: str, now: datetime) -> str:
    with session.begin():
        return _current_key_row(session, code, now).key_id


def area_url(session: Session, code: str) -> str | None:
    """The URL of one of this node's areas (None if not hosted here), from the key cache:
    every inbound federation request binds its token to it."""
    return key_cache.cached(session, ("area_url", code), lambda: _area_url(session, code))


def _area_url(session: Session, code: str) -> str | None:
    area = session.get(Area, code)
    return None if area is None else area.url


def get_area(session: Session, code: str) -> Area:
    area = session.get(Area, code)
    if area is None:
        raise NotFound(f"Area {code} is not hosted on this node.")
    return area


def require_hosted(session: Session, code: str) -> None:
    """NotFound, as `get_area`, unless the area is hosted here; from the key cache, which
    the area's keys (written with it, dropped with it) keep current, for the hot paths
    that need the area to exist but not its row."""
    _hosted_validity(session, code)


def _hosted_validity(
    session: Session, code: str
) -> tuple[tuple[str, datetime, datetime | None], ...]:
    """The area's keys as `_validity` gives them, from the key cache; NotFound if the area
    is not hosted here."""
    found = key_cache.cached(session, ("validity", code), lambda: _validity(session, code))
    if found is None:
        raise NotFound(f"Area {code} is not hosted on this node.")
    return found


def _current_key_row(session: Session, code: str, now: datetime) -> AreaKey:
    get_area(session, code)
    # The open-ended key first: a rotation in the same instant as the key it retires leaves
    # two keys with one valid_from, and the new one is current (as in `recipient_key`).
    rows = session.scalars(
        select(AreaKey)
        .where(AreaKey.area_code == code)
        .order_by(AreaKey.valid_until.is_(None).desc(), AreaKey.valid_from.desc())
    )
    for row in rows:
        if row.valid_from <= now and (row.valid_until is None or row.valid_until > now):
            return row
    raise NotFound(f"Area {code} has no valid key; run `marac-gateway keys rotate {code}`.")


def _unseal(master: MasterKey, row: AreaKey) -> AreaSecretKeys:
    return AreaSecretKeys(
        area=row.area_code,
        signing_seed=master.open(row.signing_secret_sealed, _seal_context(row.key_id, "sign")),
        encryption_secret=master.open(
            row.encryption_secret_sealed, _seal_context(row.key_id, "box")
        ),
    )


def current_secret_keys(
    session: Session, master: MasterKey, code: str, now: datetime
) -> AreaSecretKeys:
    """The area's current key (NotFound as `current_key_id`), from the key cache."""
    for key_id, valid_from, valid_until in _hosted_validity(session, code):
        if valid_from <= now and (valid_until is None or valid_until > now):
            keys = secret_keys_by_id(session, master, key_id)
            if keys is not None:
                return keys
    raise NotFound(f"Area {code} has no valid key; run `marac-gateway keys rotate {code}`.")


def _validity(
    session: Session, code: str
) -> tuple[tuple[str, datetime, datetime | None], ...] | None:
    """The area's keys in `_current_key_row`'s order, or None if it is not hosted here."""
    if session.get(Area, code) is None:
        return None
    rows = session.execute(
        select(AreaKey.key_id, AreaKey.valid_from, AreaKey.valid_until)
        .where(AreaKey.area_code == code)
        .order_by(AreaKey.valid_until.is_(None).desc(), AreaKey.valid_from.desc())
    )
    return tuple((key_id, valid_from, valid_until) for key_id, valid_from, valid_until in rows)


def secret_keys_by_id(session: Session, master: MasterKey, key_id: str) -> AreaSecretKeys | None:
    """One of this node's keys, unsealed (revoked or not: callers check), from the key
    cache (per master key: a wrong one fails to unseal, and nothing is kept)."""
    return key_cache.cached(
        session, ("secret", master, key_id), lambda: _secret_keys_by_id(session, master, key_id)
    )


def _secret_keys_by_id(session: Session, master: MasterKey, key_id: str) -> AreaSecretKeys | None:
    row = session.get(AreaKey, key_id)
    return None if row is None else _unseal(master, row)


@dataclass(frozen=True)
class OwnKey:
    """One of this node's keys as a receiver checks it: its area and whether it may
    still open envelopes (revoked, or retired since when)."""

    area: str
    revoked: bool
    valid_until: datetime | None


def own_key(session: Session, key_id: str) -> OwnKey | None:
    """From the key cache; None if the key is not one of this node's."""
    return key_cache.cached(session, ("own", key_id), lambda: _own_key(session, key_id))


def _own_key(session: Session, key_id: str) -> OwnKey | None:
    row = session.get(AreaKey, key_id)
    if row is None:
        return None
    return OwnKey(row.area_code, row.revoked_at is not None, row.valid_until)


def local_public_key(row: AreaKey) -> PublicAreaKey:
    return PublicAreaKey(
        area=row.area_code,
        key_id=row.key_id,
        signing_public=row.signing_public,
        encryption_public=row.encryption_public,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )


def export_bundle(
    session: Session,
    master: MasterKey,
    code: str,
    now: datetime,
    accepts: payload_versions.Accepts | None = FULL_ACCEPTS,
) -> dict[str, Any]:
    """The signed public bundle: the current key plus retired keys still in their grace,
    and the payload versions the node accepts (`accepts`; None leaves the member out, for
    a peer on a release that predates it: its parser refuses unknown members)."""
    area = get_area(session, code)
    current = _current_key_row(session, code, now)
    previous = session.scalars(
        select(AreaKey)
        .where(AreaKey.area_code == code, AreaKey.key_id != current.key_id)
        .where(AreaKey.valid_until.is_not(None), AreaKey.valid_until > now)
        .order_by(AreaKey.valid_from)
    )
    body: dict[str, Any] = {
        "kind": BUNDLE_KIND,
        "v": 1,
        "area": area.code,
        "name": area.name,
        "url": area.url,
        "mailbox": area.mailbox,
        **_key_fields(current),
        "previous_keys": [
            {**_key_fields(row), "valid_until": format_time(row.valid_until)}
            for row in previous
            if row.valid_until is not None
        ],
    }
    if accepts is not None:
        body["accepts"] = {kind: list(versions) for kind, versions in sorted(accepts.items())}
        # The exchanges this node serves beyond DESIGN section 4's, listed like payload
        # versions (docs/contract.md, "Envelope batches"); left out with `accepts` for a
        # peer whose parser refuses unknown members.
        body["exchanges"] = {name: list(versions) for name, versions in EXCHANGES.items()}
    # Left out when empty, so a bundle without rotations reads as it did before; and left
    # out of the legacy form, whose reader refuses members it does not know.
    rotations, revocations = _statements(session, master, code, now)
    if rotations and accepts is not None:
        body["rotations"] = rotations
    if revocations and accepts is not None:
        body["revocations"] = revocations
    return sign_document(body, _unseal(master, current))


def _statements(
    session: Session, master: MasterKey, code: str, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rotation statements (each retired key still in its grace, never a revoked one,
    endorsing the key that replaced it) and the revocation statements (each revoked key
    revoking itself, newest first), as docs/contract.md "Key rotation and revocation"
    describes. Made at export with keys that are unsealed only for the moment."""
    rows = list(
        session.scalars(
            select(AreaKey)
            .where(AreaKey.area_code == code)
            .order_by(AreaKey.valid_from, AreaKey.valid_until.is_(None), AreaKey.created_at)
        )
    )
    rotations = []
    for old, new in itertools.pairwise(rows):
        if old.revoked_at is not None or old.valid_until is None or old.valid_until <= now:
            continue
        statement = {
            "kind": ROTATION_KIND,
            "area": code,
            "from_key": old.key_id,
            "to_key": new.key_id,
            "signing_key": b64url_encode(new.signing_public),
            "encryption_key": b64url_encode(new.encryption_public),
        }
        rotations.append(sign_document(statement, _unseal(master, old)))
    revoked = sorted(
        (row for row in rows if row.revoked_at is not None),
        key=lambda row: row.revoked_at or now,
        reverse=True,
    )[:MAX_STATEMENTS]
    revocations = [
        sign_document(
            {
                "kind": REVOCATION_KIND,
                "area": code,
                "key_id": row.key_id,
                "revoked_at": format_time(row.revoked_at or now),
            },
            _unseal(master, row),
        )
        for row in revoked
    ]
    return rotations[-MAX_STATEMENTS:], revocations


def _key_fields(row: AreaKey) -> dict[str, str]:
    return {
        "key_id": row.key_id,
        "signing_key": b64url_encode(row.signing_public),
        "encryption_key": b64url_encode(row.encryption_public),
        "valid_from": format_time(row.valid_from),
    }


@owns_transaction
def published_bundle(
    session: Session,
    master: MasterKey,
    code: str,
    now: datetime,
    accepts: payload_versions.Accepts | None = FULL_ACCEPTS,
) -> dict[str, Any]:
    """The area's public bundle as a peer fetches it (DESIGN section 4)."""
    with session.begin():
        return export_bundle(session, master, code, now, accepts)


@owns_transaction
def area_codes(session: Session, only: str | None = None) -> list[str]:
    """The codes of the areas this node hosts, or just `only` (NotFound if not hosted)."""
    with session.begin():
        if only is not None:
            get_area(session, only)
            return [only]
        return list(session.scalars(select(Area.code).order_by(Area.code)))


@owns_transaction
def area_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """The names of those of `codes` this node hosts, by code (the page header shows them)."""
    wanted = sorted(set(codes))
    with session.begin():
        rows = session.execute(select(Area.code, Area.name).where(Area.code.in_(wanted)))
        return {code: name for code, name in rows}


@owns_transaction
def areas_whose_keys_do_not_open(session: Session, master: MasterKey, now: datetime) -> int:
    """How many hosted areas have no current key that opens under this master key (a wrong
    master key, a key past its validity): each would refuse every envelope sent to it."""
    failing = 0
    with session.begin():
        for code in session.scalars(select(Area.code)):
            try:
                current_secret_keys(session, master, code, now)
            except (NotFound, CryptoError):
                failing += 1
    return failing

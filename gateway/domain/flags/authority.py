"""The linkage authority role (DESIGN section 6): raises each blinded element to its
secret OPRF key without learning what was blinded. It holds the only key that turns a
name into a token, so it answers only pinned areas, rate-limits them per area and audits
each evaluation by area with a count, never an element."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters.db.models import LinkageKey
from gateway.domain import audit
from gateway.domain.audit import actions
from gateway.domain.identity import rate_limits
from gateway.domain.identity.actors import Actor
from gateway.domain.transaction import owns_transaction
from gateway.errors import Malformed, TooManyRequests
from keys import CryptoError, MasterKey
from keys.oprf import OprfKey, evaluate_direct
from keys.oprf import evaluate as oprf_evaluate

KEY_ID = "oprf-v1"


def _context(key_id: str) -> str:
    return f"linkage-oprf-key:v1:{key_id}"


# The opened key per (master key, database): the row is written once and never changed
# (there is no rotation of the OPRF key: a new key would be a new token space), so a
# process may keep it opened; a database restored under a running process is the one case
# that needs a restart (the restore procedure restarts the node anyway).
_OPENED: dict[tuple[int, str], tuple[MasterKey, OprfKey]] = {}


def authority_key(session: Session, master: MasterKey, now: datetime) -> OprfKey:
    """The authority's key, created sealed under the master key on first use (two nodes
    racing to create it: the loser reads the winner's)."""
    where = (id(master), str(session.get_bind().engine.url))
    known = _OPENED.get(where)
    if known is not None and known[0] is master:
        return known[1]
    row = session.get(LinkageKey, KEY_ID)
    if row is not None:
        # Only a row that was already there is kept: one created in this transaction
        # could still roll back, and another node would then create a different key.
        key = OprfKey.from_bytes(master.open(row.key_sealed, _context(KEY_ID)))
        _OPENED[where] = (master, key)
        return key
    fresh = OprfKey.generate()
    try:
        with session.begin_nested():
            session.add(
                LinkageKey(
                    id=KEY_ID,
                    key_sealed=master.seal(fresh.to_bytes(), _context(KEY_ID)),
                    created_at=now,
                )
            )
    except IntegrityError:
        pass
    row = session.get(LinkageKey, KEY_ID, populate_existing=True)
    if row is None:  # pragma: no cover - the insert or the winner's row is there
        raise RuntimeError("the linkage key could not be created")
    return OprfKey.from_bytes(master.open(row.key_sealed, _context(KEY_ID)))


@owns_transaction
def evaluate(
    session: Session,
    master: MasterKey,
    role_area: str,
    caller: str,
    elements: list[bytes],
    limit: rate_limits.RateLimit,
    now: datetime,
) -> list[bytes]:
    """Evaluate one batch for `caller`, as the authority answering for `role_area`."""
    with session.begin():
        return evaluate_in(session, master, role_area, caller, elements, limit, now)


def evaluate_in(
    session: Session,
    master: MasterKey,
    role_area: str,
    caller: str,
    elements: list[bytes],
    limit: rate_limits.RateLimit,
    now: datetime,
) -> list[bytes]:
    """`evaluate` inside the caller's transaction (a local lookup makes one)."""
    key = _admit(session, master, role_area, caller, len(elements), limit, now)
    try:
        return [oprf_evaluate(key, element) for element in elements]
    except CryptoError as exc:
        raise Malformed("An element is not a valid blinded group element.") from exc


def derive_in(
    session: Session,
    master: MasterKey,
    area: str,
    inputs: list[bytes],
    limit: rate_limits.RateLimit,
    now: datetime,
) -> list[bytes]:
    """Tokens for an area of THIS node when this node plays the authority, inside the
    caller's transaction: the same rate limit and the same audited evaluation as a blinded
    request, then the token computed directly from the input.

    Blinding hides an input from an authority in another process. Here the key and the
    input are already in one process (the embedded default of DESIGN section 6: one node
    plays both roles), so blinding would hide the input from nobody and cost three extra
    scalar multiplications and two subgroup checks per input; the tokens are identical
    (tests/keys/test_oprf.py proves `finalize(blind) == evaluate_direct`).
    """
    key = _admit(session, master, area, area, len(inputs), limit, now)
    return [evaluate_direct(key, data) for data in inputs]


def rate_key(caller: str) -> str:
    """The rate counter of `caller`'s evaluations (a local lookup counts it up front)."""
    return f"linkage-evaluate:{caller}"


def _admit(
    session: Session,
    master: MasterKey,
    role_area: str,
    caller: str,
    count: int,
    limit: rate_limits.RateLimit,
    now: datetime,
) -> OprfKey:
    """Rate-limit `caller`, audit the evaluation of `count` values by area (never a value),
    and return the key."""
    decision = rate_limits.hit(session, rate_key(caller), limit, now)
    if not decision.allowed:
        raise TooManyRequests(
            "This area has made too many linkage evaluations; try again later.",
            retry_after=decision.retry_after,
        )
    key = authority_key(session, master, now)
    audit.record_later(
        session,
        role_area,
        audit.Event(
            action=actions.LINKAGE_EVALUATED,
            actor=Actor.peer(caller) if caller != role_area else Actor.system(),
            peer_area=caller if caller != role_area else None,
            details={"count": count},
        ),
        now,
    )
    return key

"""`POST /flags/lookups`: is this person flagged here or elsewhere? Local matches come from
this area's own tokens, strong and possible matches elsewhere from the flag index. Rate
limited per user or client; audited with match counts, never the query."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Flag, FlagToken
from gateway.domain import audit
from gateway.domain.audit import actions
from gateway.domain.flags import authority, index
from gateway.domain.flags import roles as role_calls
from gateway.domain.flags.lifecycle import _load
from gateway.domain.flags.months import today
from gateway.domain.flags.roles import Roles
from gateway.domain.flags.token_derivation import person_tokens
from gateway.domain.identity import rate_limits
from gateway.domain.identity.principals import COORDINATOR, FLAGS_QUERY, Principal
from gateway.domain.linkage import Token, basis, decide
from gateway.domain.transaction import owns_transaction
from gateway.errors import NotFound, TooManyRequests
from keys import CryptoError, MasterKey, b64url_decode, b64url_encode
from schemas.wire.flags import (
    ACTIVE,
    CLEARED,
    STRONG,
    WEAK,
    IndexMatch,
    Person,
    PersonSchema,
    WireToken,
)

LOOKUP_ROLES = (COORDINATOR,)


@dataclass(frozen=True)
class Match:
    kind: str  # local | remote | possible
    area: str | None
    mailbox: str | None
    case_ref: str | None
    strength: str
    expires_at: date | None
    repeat: bool
    ref: str
    basis: str | None  # the strength in words (linkage.basis); never a value


@owns_transaction
def lookup(
    session: Session,
    roles: Roles,
    principal: Principal,
    requested_area: str | None,
    data: Mapping[str, Any],
    limit: rate_limits.RateLimit,
    now: datetime,
) -> list[Match]:
    area = principal.choose_area(requested_area, LOOKUP_ROLES, FLAGS_QUERY)
    person: Person = _load(PersonSchema(), data, Person)
    if role_calls.plays_both(roles):
        # Both roles here: the same services run inside ONE transaction (one commit
        # instead of five). A remote role is never called with a transaction open.
        with session.begin():
            return _lookup(session, roles, principal, area, person, limit, now, session)
    return _lookup(session, roles, principal, area, person, limit, now, None)


def _lookup(
    session: Session,
    roles: Roles,
    principal: Principal,
    area: str,
    person: Person,
    limit: rate_limits.RateLimit,
    now: datetime,
    inside: Session | None,
) -> list[Match]:
    def step() -> AbstractContextManager[Any]:
        return nullcontext() if inside is not None else session.begin()

    key = f"lookup:{principal.kind}:{principal.id}"
    with step():
        if inside is None:
            decision = rate_limits.hit(session, key, limit, now)
        else:
            # Both roles in this transaction: the lookup's, the authority's and the
            # index's limits are counted in one statement; each role still checks its own
            # decision when it runs (rate_limits.hit reuses the prepaid count), and a
            # refusal anywhere rolls all three back, as it did when counted one by one.
            decision = rate_limits.hit_many(
                session,
                [
                    (key, limit),
                    (authority.rate_key(area), roles.role_limit),
                    (index.match_rate_key(area), roles.role_limit),
                ],
                now,
                prepay=True,
            )[0]
    if not decision.allowed:
        raise TooManyRequests(
            "Too many lookups; try again later.", retry_after=decision.retry_after
        )
    tokens = person_tokens(roles, area, person, now, inside)
    # Sent in the order of the token values: the order says nothing of which rule built
    # which token; the index's `met` positions are read against this same list.
    ordered = sorted(tokens, key=lambda t: t.token)
    wire = [WireToken(kind=t.kind, token=b64url_encode(t.token)) for t in ordered]
    elsewhere = role_calls.match(roles, area, wire, now, inside) if wire else []
    remote: list[Match] = []
    possible: list[Match] = []
    for found in elsewhere:
        rules = None if found.met is None else {ordered[i].rule for i in found.met}
        words = basis(rules) if rules else None
        ref = _wrap(roles, area, found)
        if found.strength == STRONG:
            remote.append(
                Match(
                    "remote",
                    found.area,
                    found.mailbox,
                    None,
                    STRONG,
                    found.expires_at,
                    True,
                    ref,
                    words,
                )
            )
        elif rules is None or decide(rules) is not None:
            # An index that predates scored matches (no `met`): every weak-only match is
            # `possible`, as it always was (docs/contract.md).
            possible.append(Match("possible", None, None, None, WEAK, None, False, ref, words))
    with step():
        local = _local(session, area, tokens, now)
        audit.record_later(
            session,
            area,
            audit.Event(
                action=actions.LOOKUP,
                actor=principal.actor(area, LOOKUP_ROLES),
                details={"local": len(local), "remote": len(remote), "possible": len(possible)},
            ),
            now,
        )
    return [*local, *remote, *possible]


def _local(session: Session, area: str, tokens: list[Token], now: datetime) -> list[Match]:
    """This area's flags whose shared tokens score `strong` or `possible` (the same rule as
    for flags elsewhere), expired ones included: a case heard within 12 months of its last
    review is a repeat (seed 001 4.2.1), an older one is not. In the caller's transaction."""
    rule_of = {t.token: t.rule for t in tokens}
    rows = session.execute(
        select(Flag, FlagToken.token)
        .join(FlagToken, FlagToken.flag_id == Flag.id)
        .where(
            Flag.area_code == area,
            Flag.status != CLEARED,
            FlagToken.token.in_(sorted(rule_of)),
        )
    ).all()
    flags: dict[str, Flag] = {}
    met: dict[str, set[str]] = {}
    for flag, token in rows:
        flags[flag.id] = flag
        met.setdefault(flag.id, set()).add(rule_of[bytes(token)])
    scored = [(flags[i], decide(rules), rules) for i, rules in met.items()]
    return [
        Match(
            kind="local",
            area=area,
            mailbox=None,
            case_ref=flag.case_ref,
            strength=STRONG if tier == STRONG else WEAK,
            expires_at=flag.expires_at,
            repeat=flag.status == ACTIVE and flag.expires_at > today(now),
            ref=flag.id,
            basis=basis(rules),
        )
        for flag, tier, rules in sorted(scored, key=lambda f: (f[1] != STRONG, f[0].id))
        if tier is not None
    ]


def _ref_context(area: str) -> str:
    return f"flag-lookup-ref:v1:{area}"


def _wrap(roles: Roles, area: str, found: IndexMatch) -> str:
    """The reference the coordinator sees: the index's reference and the flag's sealing
    key, sealed for this area with a fresh nonce (unlinkable across answers)."""
    plain = json.dumps({"i": found.ref, "k": found.seal_to}, separators=(",", ":"))
    return b64url_encode(roles.master.seal(plain.encode("ascii"), _ref_context(area)))


def unwrap(master: MasterKey, area: str, ref: str) -> tuple[str, str]:
    """(the index's reference, the flag's sealing key) from a lookup answer of `area`."""
    try:
        found = json.loads(master.open(b64url_decode(ref), _ref_context(area)))
        return str(found["i"]), str(found["k"])
    except (CryptoError, ValueError, KeyError, TypeError) as exc:
        raise NotFound("No such match reference (refs come from this area's lookups).") from exc

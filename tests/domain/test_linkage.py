"""Linkage tokens derived through this node's own linkage authority (the node plays the
role when none is configured). Only the stable public behaviour: no date of birth, no
tokens and no call; the same person gives the same tokens whichever area asks; the
authority audits a count and rate-limits each calling area. The token rules themselves
are tested in tests/linkage."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pytest
from support.local_nodes import NORTH, LocalNode

from gateway.domain.flags import authority
from gateway.domain.flags.token_derivation import person_tokens
from gateway.domain.identity.rate_limits import RateLimit
from gateway.domain.linkage import Subject, derive_tokens, linkage_inputs
from gateway.errors import TooManyRequests
from keys.oprf import evaluate
from schemas.wire.flags import Person

WRITTEN = ("linkage_keys", "rate_counters", "audit_events")
EAST = "east-fen"


def person(dob: date | None, given: str = "Ada") -> Person:
    return Person(given, "Example", dob, (), ())


def test_no_date_of_birth_no_tokens_and_no_call(north: LocalNode, now: datetime) -> None:
    assert linkage_inputs(Subject("Ada", "Example", None)) == []

    def never(elements: list[bytes]) -> list[bytes]:
        raise AssertionError("the authority was asked")

    assert derive_tokens([], never) == []
    before = north.counts(*WRITTEN)
    assert person_tokens(north.node.flag_roles, NORTH, person(None), now) == []
    assert north.counts(*WRITTEN) == before


def test_the_same_person_gives_the_same_tokens_in_every_area(
    north: LocalNode, now: datetime
) -> None:
    north.create_area(EAST, now)
    roles = north.node.flag_roles
    ours = person_tokens(roles, NORTH, person(date(1990, 4, 1)), now)
    assert ours and {kind for kind, _, _ in ours} <= {"strong", "weak"}
    assert person_tokens(roles, NORTH, person(date(1990, 4, 1)), now) == ours
    assert person_tokens(roles, EAST, person(date(1990, 4, 1)), now) == ours
    other = {
        kind: token for kind, _, token in person_tokens(roles, NORTH, person(date(1990, 4, 2)), now)
    }
    assert {kind: token for kind, _, token in ours}["strong"] != other["strong"]
    # One key, created once; one evaluation audited per call, with a count only.
    assert north.count("linkage_keys") == 1
    assert north.count("audit_events", "action = 'linkage.evaluated'") == 4


def test_the_authority_rate_limits_each_area(north: LocalNode, now: datetime) -> None:
    roles = dataclasses.replace(north.node.flag_roles, role_limit=RateLimit.parse("1/hour"))
    person_tokens(roles, NORTH, person(date(1990, 4, 1)), now)
    before = north.count("audit_events")
    with pytest.raises(TooManyRequests):
        person_tokens(roles, NORTH, person(date(1990, 4, 1)), now)
    assert north.count("audit_events") == before


def test_in_process_tokens_equal_the_blinded_protocol(north: LocalNode, now: datetime) -> None:
    """The node that plays the authority computes its own areas' tokens directly: they must
    be exactly what an area elsewhere gets by blinding, the authority's evaluation and
    unblinding with the same key (so flags meet across both paths)."""
    roles = north.node.flag_roles
    subject = person(date(1990, 4, 1), given="Ada Mary")
    ours = person_tokens(roles, NORTH, subject, now)
    with north.session() as session, session.begin():
        key = authority.authority_key(session, north.master, now)
    inputs = linkage_inputs(Subject("Ada Mary", "Example", date(1990, 4, 1)))
    blinded = derive_tokens(inputs, lambda elements: [evaluate(key, e) for e in elements])
    assert len(ours) == len(inputs) > 20
    assert ours == blinded

"""Linkage inputs and tokens for one subject (DESIGN section 6).

A subject yields several OPRF inputs, each built by one *rule* of a *token space* (the
versioned label inside every input). The *strong* input is the exact identity (full given
names, full family name, exact date of birth); a shared strong token names the holding
area. The *weak* inputs are looser: what a match is worth is decided from the combination
of rules that met (`scoring.decide`), never from one weak rule alone that many unrelated
people share.

Space v2 (published and queried since this release; levels in scoring.py):

    strong          full given names + full family name + exact date
    given-dob       each variant of the first given name + swap-invariant date
    given-full-dob  full given names + exact date (a married name not recorded)
    names-dob       each given name x each family form (whole, each part of a double-
                    barrelled name) + swap-invariant date (a middle name in one record
                    only, a person known by a middle name, one part of a double name)
    reversed        the unordered pair (first given name, family name) + swap-invariant
                    date (names recorded in the other order)
    names-ym        first given name + family name + year and month (day mistyped)
    names-yd        first given name + family name + year and day (month mistyped)
    phonetic-dob    phonetic first given + phonetic family + swap-invariant date
    family-dob      phonetic family name + swap-invariant date (never enough alone:
                    siblings and twins share it)
    close-given     first given name with one letter out + swap-invariant date (never
                    enough alone; with a family name that agrees or is close, a typo the
                    phonetic code does not absorb, in the given name or in both names)
    close-family    family name with one letter out + swap-invariant date (never enough
                    alone; with a given name that agrees, a typo in the family name)
    no-given        whole family name + swap-invariant date, only when no given name is recorded:
                    meets only another record without a given name (a twin recorded with
                    one does not)

Space v1 (the rules before; still published and queried so that flags published by nodes
not yet upgraded, and the lookups those nodes make, keep meeting until every node
re-publishes): strong, given-dob, initial-dob, phonetic-dob, family-dob.

Every weak input binds a date of birth to at least one name: there is no name-only and no
date-only input. Without a date of birth a subject yields NO inputs: a name alone is shared
by many people ("Sarah Smith"), so every token would be a false match against unrelated
flags, and the verification requests that follow would disclose to other areas that this
name is being asked about.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, NamedTuple

from gateway.domain.linkage import names
from keys.oprf import blind, finalize

Kind = Literal["strong", "weak"]

# The token spaces this release publishes and queries, newest first. A new rule set is a
# new space (a new label inside every input): never a silent mix of old and new inputs
# under one label. Dropping an old space is a later release's change, once every node
# publishes the newer one (the worker re-publishes flags whose spaces differ).
SPACES: tuple[int, ...] = (2, 1)
_SEPARATOR = b"\x1f"  # unit separator: never produced by `names.words`


@dataclass(frozen=True)
class Subject:
    given_names: str
    family_name: str
    date_of_birth: date | None
    aliases: tuple[str, ...] = ()
    previous_family_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinkageInput:
    kind: Kind
    rule: str  # "v<space>:<rule>", e.g. "v2:names-dob"; names no personal data
    data: bytes  # the canonical OPRF input, domain-separated by the label inside it

    def __repr__(self) -> str:  # the input is personal data: keep it out of logs
        return (
            f"LinkageInput(kind={self.kind!r}, rule={self.rule!r}, data=<{len(self.data)} bytes>)"
        )


class Token(NamedTuple):
    kind: Kind
    rule: str
    token: bytes


@dataclass(frozen=True)
class _Name:
    given: str
    family: str


def _input(space: int, kind: Kind, rule: str, *fields: str) -> LinkageInput:
    body = _SEPARATOR.join(f.encode("ascii") for f in fields)
    label = f"marac-linkage:v{space}:{rule}".encode("ascii")
    return LinkageInput(kind, f"v{space}:{rule}", label + _SEPARATOR + body)


def exact_date(dob: date) -> str:
    return dob.strftime("%Y%m%d")


def swap_invariant_date(dob: date) -> str:
    """Year plus month and day sorted: 1980-03-07 and 1980-07-03 give the same string."""
    low, high = sorted((dob.month, dob.day))
    return f"{dob.year:04d}{low:02d}{high:02d}"


def _names(subject: Subject) -> Iterator[_Name]:
    """Every (given, family) pair the subject is recorded under; the primary one first."""
    family_names = [subject.family_name, *subject.previous_family_names]
    for given in (subject.given_names, *subject.aliases):
        for family in family_names:
            yield _Name(given, family)
    # An alias is an alternative given name ("Jo", "Kasia"). One of several words may be a
    # whole name ("Jo Bloggs"): its last word is then tried as a family name too, unless it
    # is a bare initial, which would make a "strong" token out of a given name and a letter.
    for alias in subject.aliases:
        parts = names.words(alias)
        if len(parts) > 1 and len(parts[-1]) > 1:
            yield _Name(" ".join(parts[:-1]), parts[-1])


def _v1(name: _Name, dob: date) -> Iterator[LinkageInput]:
    """Space v1, byte for byte as published before v2 existed."""
    given_full, first = names.given_forms(name.given)
    family_full, family_parts = names.family_forms(name.family)
    exact, swapped = exact_date(dob), swap_invariant_date(dob)
    if given_full and family_full:
        yield _input(1, "strong", "strong", given_full, family_full, exact)
    for variant in names.given_variants(first):
        yield _input(1, "weak", "given-dob", variant, swapped)
    for family in (family_full, *family_parts):
        if not family:
            continue
        code = names.phonetic(family)
        yield _input(1, "weak", "family-dob", code, swapped)
        if first:
            yield _input(1, "weak", "initial-dob", first[0], code, swapped)
            yield _input(1, "weak", "phonetic-dob", names.phonetic(first), code, swapped)


def _v2(name: _Name, dob: date) -> Iterator[LinkageInput]:
    given_full, first = names.given_forms(name.given)
    given_words = names.words(name.given)
    family_full, family_parts = names.family_forms(name.family)
    families = [f for f in (family_full, *family_parts) if f]
    exact, swapped = exact_date(dob), swap_invariant_date(dob)
    if given_full and family_full:
        yield _input(2, "strong", "strong", given_full, family_full, exact)
    for variant in names.given_variants(first):
        yield _input(2, "weak", "given-dob", variant, swapped)
    if given_full:
        yield _input(2, "weak", "given-full-dob", given_full, exact)
    for word in given_words:
        for family in families:
            yield _input(2, "weak", "names-dob", word, family, swapped)
    if first and family_full:
        low, high = sorted((first, family_full))
        yield _input(2, "weak", "reversed", low, high, swapped)
        yield _input(2, "weak", "names-ym", first, family_full, f"{dob.year:04d}{dob.month:02d}")
        yield _input(2, "weak", "names-yd", first, family_full, f"{dob.year:04d}{dob.day:02d}")
    if not given_full and family_full:
        yield _input(2, "weak", "no-given", family_full, swapped)
    for family in families:
        code = names.phonetic(family)
        yield _input(2, "weak", "family-dob", code, swapped)
        if first:
            yield _input(2, "weak", "phonetic-dob", names.phonetic(first), code, swapped)
    if first and family_full:
        for near in names.one_letter_out(first):
            yield _input(2, "weak", "close-given", near, swapped)
        for near in names.one_letter_out(family_full):
            yield _input(2, "weak", "close-family", near, swapped)


_RULE_SETS: dict[int, Callable[[_Name, date], Iterator[LinkageInput]]] = {1: _v1, 2: _v2}


def linkage_inputs(subject: Subject, spaces: Iterable[int] = SPACES) -> list[LinkageInput]:
    """All OPRF inputs of a subject in `spaces`, deduplicated, strong first, deterministic."""
    if subject.date_of_birth is None:
        return []
    found: dict[LinkageInput, None] = {}
    for space in spaces:
        rules = _RULE_SETS[space]
        for name in _names(subject):
            for item in rules(name, subject.date_of_birth):
                found.setdefault(item, None)
    return sorted(found, key=lambda item: (item.kind != "strong", item.data))


def derive_tokens(
    inputs: Sequence[LinkageInput], evaluate: Callable[[list[bytes]], list[bytes]]
) -> list[Token]:
    """Blind every input, make ONE round trip to the linkage authority, unblind and hash.

    `evaluate` sends the blinded elements to the authority and returns its answers in the
    same order; each answer is checked as a group element by `finalize`.
    """
    if not inputs:
        return []
    blinded = [blind(item.data) for item in inputs]
    answers = evaluate([b.element for b in blinded])
    if len(answers) != len(blinded):
        raise ValueError("the linkage authority answered a different number of elements")
    return [
        Token(item.kind, item.rule, finalize(b, answer))
        for item, b, answer in zip(inputs, blinded, answers, strict=True)
    ]

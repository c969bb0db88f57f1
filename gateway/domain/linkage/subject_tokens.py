"""Linkage inputs and tokens for one subject (DESIGN section 6).

A subject yields several OPRF inputs. The *strong* input is the exact identity (full given
names, full family name, exact date of birth); a shared strong token names the holding
area. The *weak* inputs are looser and only ever produce a `possible` match that a human
verifies:

    given-dob      each variant of the first given name + swap-invariant date of birth
                   (meets across a married-name change and a nickname)
    initial-dob    first initial + phonetic family name + swap-invariant date of birth
                   (meets across a typo in the given name)
    phonetic-dob   phonetic given + phonetic family + swap-invariant date of birth
                   (meets across typos in both)
    family-dob     phonetic family name + swap-invariant date of birth (meets across a
                   typo in the first letter of the given name, a nickname that changes the
                   initial, or a missing given name; not in DESIGN's list, added because
                   those were most of the misses measured by bench/linkage.py)

Aliases and previous family names add the same inputs for each recorded name.

Without a date of birth a subject yields NO inputs: a name alone is shared by many people
("Sarah Smith"), so every token would be a false `possible` against unrelated flags, and
the verification requests that follow would disclose to other areas that this name is being
asked about. Coordinators are told to record a date of birth (or an approximate year is
not enough either: see docs/linkage.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from gateway.domain.linkage import names
from keys.oprf import blind, finalize

Kind = Literal["strong", "weak"]

# Versioned label inside every input: a new normalisation is a new token space, never a
# silent mix of old and new tokens in the index.
_LABEL = b"marac-linkage:v1:"
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
    data: bytes  # the canonical OPRF input, domain-separated by the rule label inside it

    def __repr__(self) -> str:  # the input is personal data: keep it out of logs
        return f"LinkageInput(kind={self.kind!r}, data=<{len(self.data)} bytes>)"


@dataclass(frozen=True)
class _Name:
    given: str
    family: str


def _input(kind: Kind, rule: str, *fields: str) -> LinkageInput:
    body = _SEPARATOR.join(f.encode("ascii") for f in fields)
    return LinkageInput(kind, _LABEL + rule.encode("ascii") + _SEPARATOR + body)


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


def _inputs_for(name: _Name, dob: date) -> Iterator[LinkageInput]:
    given_full, first = names.given_forms(name.given)
    family_full, family_parts = names.family_forms(name.family)
    exact, swapped = exact_date(dob), swap_invariant_date(dob)
    if given_full and family_full:
        yield _input("strong", "strong", given_full, family_full, exact)
    for variant in names.given_variants(first):
        yield _input("weak", "given-dob", variant, swapped)
    for family in (family_full, *family_parts):
        if not family:
            continue
        code = names.phonetic(family)
        yield _input("weak", "family-dob", code, swapped)
        if first:
            yield _input("weak", "initial-dob", first[0], code, swapped)
            yield _input("weak", "phonetic-dob", names.phonetic(first), code, swapped)


def linkage_inputs(subject: Subject) -> list[LinkageInput]:
    """All OPRF inputs for a subject, deduplicated, strong first, in a deterministic order."""
    if subject.date_of_birth is None:
        return []
    found: dict[LinkageInput, None] = {}
    for name in _names(subject):
        for item in _inputs_for(name, subject.date_of_birth):
            found.setdefault(item, None)
    return sorted(found, key=lambda item: (item.kind != "strong", item.data))


def derive_tokens(
    inputs: Sequence[LinkageInput], evaluate: Callable[[list[bytes]], list[bytes]]
) -> list[tuple[str, bytes]]:
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
        (item.kind, finalize(b, answer))
        for item, b, answer in zip(inputs, blinded, answers, strict=True)
    ]

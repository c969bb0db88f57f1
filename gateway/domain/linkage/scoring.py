"""What a match is worth, from the rules whose tokens met (DESIGN section 6).

The flag index sees only token equality; it tells the querying node, per holding flag,
which of the querier's tokens met, and each token belongs to one rule (subject_tokens.py).
This module turns the set of rules that met into `strong`, `possible` or nothing. The same
function decides for this area's own flags and for flags elsewhere.

Each rule vouches for how closely each part of the identity agreed:

    given   4 all given names   3 a given name or a known variant   2 close (sounds alike
            or one letter differs)   1 an initial   0 nothing
    family  4 the whole name   3 a part of a double-barrelled name, or the names in the
            other order   2 close (sounds alike or one letter differs)   0 nothing
    date    3 exact   2 exact up to a day/month swap   1 one field differs (year kept)

A match is as good as the best agreement on each part over all the rules that met:

    strong    a strong rule met (the index names the holding area)
    possible  given >= 2, family >= 2 and date >= 2   (every part agrees, at least loosely)
              or given >= 3, family >= 3 and date >= 1   (names agree; one date field off)
              or given = 4 and date = 3   (all given names and the exact date: a married
              name change with the earlier name not recorded; see below)
    nothing   anything else: family name and date alone (siblings, twins), an initial with
              family name and date (twins often share an initial), names alone (no rule has
              them), names with another birth year (namesakes: every rule keeps the year)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Strength = Literal["strong", "possible"]
STRONG: Strength = "strong"
POSSIBLE: Strength = "possible"


@dataclass(frozen=True)
class Agreement:
    given: int
    family: int
    date: int

    def __or__(self, other: Agreement) -> Agreement:
        return Agreement(
            max(self.given, other.given), max(self.family, other.family), max(self.date, other.date)
        )


NONE = Agreement(0, 0, 0)
EXACT = Agreement(4, 4, 3)

# Every rule of every space this release can meet, with what it vouches for.
RULES: dict[str, Agreement] = {
    "v1:strong": EXACT,
    "v1:given-dob": Agreement(3, 0, 2),
    "v1:initial-dob": Agreement(1, 2, 2),
    "v1:phonetic-dob": Agreement(1, 2, 2),
    "v1:family-dob": Agreement(0, 2, 2),
    "v2:strong": EXACT,
    "v2:given-dob": Agreement(3, 0, 2),
    "v2:given-full-dob": Agreement(4, 0, 3),
    "v2:names-dob": Agreement(3, 3, 2),
    "v2:reversed": Agreement(3, 3, 2),
    "v2:names-ym": Agreement(3, 4, 1),
    "v2:names-yd": Agreement(3, 4, 1),
    "v2:phonetic-dob": Agreement(1, 2, 2),
    "v2:family-dob": Agreement(0, 2, 2),
    "v2:close-given": Agreement(2, 0, 2),
    "v2:close-family": Agreement(0, 2, 2),
    # Both records lack a given name: that absence agrees (level 2), and nothing else can.
    "v2:no-given": Agreement(2, 4, 2),
}
STRONG_RULES = frozenset({"v1:strong", "v2:strong"})


def agreement(rules: Iterable[str]) -> Agreement:
    """The best agreement on each part over the rules that met (unknown rules add none)."""
    found = NONE
    for rule in rules:
        found = found | RULES.get(rule, NONE)
    return found


def decide(rules: Iterable[str]) -> Strength | None:
    met = set(rules)
    if met & STRONG_RULES:
        return STRONG
    best = agreement(met)
    if best.given >= 2 and best.family >= 2 and best.date >= 2:
        return POSSIBLE
    if best.given >= 3 and best.family >= 3 and best.date >= 1:
        return POSSIBLE
    if best.given >= 4 and best.date >= 3:
        return POSSIBLE
    return None


_GIVEN = {
    4: "given names agree",
    3: "a given name agrees (or is a known variant)",
    2: "given name close (sounds alike or one letter differs)",
}
_FAMILY = {
    4: "family name agrees",
    3: "family name agrees in part or names in the other order",
    2: "family name close (sounds alike or one letter differs)",
}
_CAUTION = (
    "many people share a given name and a date of birth, so ask only if the family name may"
    " have changed (for example after marriage)"
)
_DATE = {
    3: "date of birth agrees",
    2: "date of birth agrees (day and month may be swapped)",
    1: "date of birth differs in one field",
}


def basis(rules: Iterable[str]) -> str | None:
    """The strength in words for a coordinator: which parts agreed, never the values.
    None when the rules that met are not known (an older flag index)."""
    met = set(rules)
    if not met:
        return None
    best = agreement(met)
    words = [
        _GIVEN.get(best.given, "given name differs"),
        _FAMILY.get(best.family, "family name differs"),
        _DATE.get(best.date, "date of birth differs"),
    ]
    if best.family == 0 and decide(met) == POSSIBLE:
        words.append(_CAUTION)
    return "; ".join(words)

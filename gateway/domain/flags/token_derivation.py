"""A person's linkage tokens, derived through the linkage authority: blinded here, raised
to the authority's key there, unblinded and hashed here. A node that does not play the
authority never holds the key, so it cannot compute a token for any name on its own; a
node that plays it (the embedded default) computes its own areas' tokens in process,
rate-limited and audited alike (`roles.tokens_for`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.domain.flags.roles import Roles, tokens_for
from gateway.domain.linkage import SPACES, Subject, Token, linkage_inputs
from schemas.wire.flags import Person


def subject_of(person: Person) -> Subject:
    return Subject(
        given_names=person.given_names,
        family_name=person.family_name,
        date_of_birth=person.date_of_birth,
        aliases=tuple(person.aliases),
        previous_family_names=tuple(person.previous_family_names),
    )


def spaces_label(spaces: Iterable[int] = SPACES) -> str:
    """How a flag records the token spaces it was derived under: "2,1"."""
    return ",".join(str(space) for space in spaces)


def person_tokens(
    roles: Roles,
    area: str,
    person: Person,
    now: datetime,
    inside: Session | None = None,
    spaces: Iterable[int] = SPACES,
) -> list[Token]:
    """(kind, rule, token) for every input, one authority call for the whole batch."""
    inputs = linkage_inputs(subject_of(person), spaces)
    return tokens_for(roles, area, inputs, now, inside)

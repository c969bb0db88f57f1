"""The transfer state machines: every legal move is allowed, everything else is a
Conflict that names both states, and the row is left untouched."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import pytest

from gateway.domain.transfers import states
from gateway.errors import Conflict

# Written out by hand from DESIGN section 2, not derived from the module under test.
SENDER_MOVES = {
    ("draft", "awaiting_approval"),
    ("draft", "queued"),
    ("draft", "withdrawn"),
    ("awaiting_approval", "queued"),
    ("awaiting_approval", "withdrawn"),
    ("queued", "delivered"),
    ("queued", "failed"),
    ("queued", "withdrawn"),
    ("failed", "delivered"),
    ("failed", "withdrawn"),
    ("delivered", "acknowledged"),
    ("delivered", "redirected"),
    ("delivered", "information_requested"),
    ("delivered", "withdrawn"),
    ("information_requested", "delivered"),
    ("information_requested", "acknowledged"),
    ("information_requested", "redirected"),
    ("information_requested", "withdrawn"),
    ("acknowledged", "withdrawn"),
    ("redirected", "withdrawn"),
}
RECEIVER_MOVES = {
    ("received", "acknowledged"),
    ("received", "redirected"),
    ("received", "withdrawn"),
    ("acknowledged", "withdrawn"),
    ("redirected", "withdrawn"),
}


@dataclass
class Row:
    direction: str
    status: str


@pytest.mark.parametrize(
    ("direction", "legal"), [("outbound", SENDER_MOVES), ("inbound", RECEIVER_MOVES)]
)
def test_exactly_the_listed_moves_are_allowed(direction: str, legal: set[tuple[str, str]]) -> None:
    for current, target in product(states.STATUSES, repeat=2):
        row = Row(direction, current)
        if (current, target) in legal:
            states.move(row, target)
            assert row.status == target
        else:
            with pytest.raises(Conflict) as refused:
                states.move(row, target)
            assert row.status == current
            assert f"'{current}'" in refused.value.detail and f"'{target}'" in refused.value.detail


def test_the_refusal_says_why_for_the_wrong_side() -> None:
    with pytest.raises(Conflict, match="only the receiving area acknowledges"):
        states.check(Row("outbound", "queued"), "acknowledged")
    with pytest.raises(Conflict, match="only the sending area approves"):
        states.check(Row("inbound", "received"), "queued")


def test_withdrawn_is_final_and_only_withdrawal_leaves_an_answer() -> None:
    assert not states.SENDER["withdrawn"] and not states.RECEIVER["withdrawn"]
    for answered in ("acknowledged", "redirected"):
        assert states.SENDER[answered] == {"withdrawn"} == states.RECEIVER[answered]

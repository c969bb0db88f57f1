"""Working days in England and Wales: weekends and bank holidays (substitute days and
one-off days included) do not count; days are London days. Expected dates by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.schedule.working_calendar import (
    add_working_days,
    due,
    is_overdue,
    is_working_day,
    london_day,
    overdue_cutoff,
    overdue_from,
)


def at(y: int, m: int, d: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(y, m, d, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("received", "days", "expected"),
    [
        # An ordinary week: Tuesday + 2 = Thursday.
        (at(2026, 11, 17), 2, date(2026, 11, 19)),
        # Friday + 2 skips the weekend.
        (at(2026, 11, 20), 2, date(2026, 11, 24)),
        # Received on a Saturday: Monday is the first working day after it.
        (at(2026, 11, 21), 1, date(2026, 11, 23)),
        # Christmas 2026: Fri 25 Christmas, Sat 26 Boxing Day, Mon 28 its substitute.
        (at(2026, 12, 24), 2, date(2026, 12, 30)),
        (at(2026, 12, 24), 1, date(2026, 12, 29)),
        # New Year 2027: Fri 1 January.
        (at(2026, 12, 30), 2, date(2027, 1, 4)),
        (at(2026, 12, 31), 1, date(2027, 1, 4)),
        # Easter 2026: Good Friday 3 April, Easter Monday 6 April.
        (at(2026, 4, 2), 2, date(2026, 4, 8)),
        (at(2026, 4, 2), 1, date(2026, 4, 7)),
        # Christmas 2027 falls on a weekend: substitutes Mon 27 and Tue 28 December.
        (at(2027, 12, 24), 2, date(2027, 12, 30)),
        (at(2027, 12, 23), 1, date(2027, 12, 24)),
        # 2022: Christmas on a Sunday, its substitute Tuesday 27 after Boxing Day Monday.
        (at(2022, 12, 23), 1, date(2022, 12, 28)),
        # A one-off bank holiday: the state funeral, Monday 19 September 2022.
        (at(2022, 9, 16), 2, date(2022, 9, 21)),
        # Longer limits still count only working days (Easter 2027: 26 and 29 March).
        (at(2027, 3, 24), 5, date(2027, 4, 2)),
    ],
)
def test_due_counts_working_days_after_the_day_of_receipt(
    received: datetime, days: int, expected: date
) -> None:
    assert due(received, days) == expected


def test_the_day_is_the_london_day() -> None:
    # 23:30 UTC on Wednesday 1 July 2026 is 00:30 on Thursday in London (BST).
    late = at(2026, 7, 1, 23, 30)
    assert london_day(late) == date(2026, 7, 2)
    assert due(late, 1) == date(2026, 7, 3)
    # In winter London is on UTC: the same hour stays on the Wednesday.
    assert due(at(2026, 1, 7, 23, 30), 1) == date(2026, 1, 8)


def test_overdue_from_midnight_in_london_after_the_due_day() -> None:
    received = at(2026, 12, 24)
    assert overdue_from(received, 2) == datetime(2026, 12, 31, 0, 0, tzinfo=UTC)
    assert not is_overdue(received, 2, at(2026, 12, 30, 23, 59))
    assert is_overdue(received, 2, at(2026, 12, 31, 0, 0))
    # Summer: midnight in London is 23:00 UTC the day before.
    summer = at(2026, 6, 1)  # a Monday
    assert overdue_from(summer, 2) == datetime(2026, 6, 3, 23, 0, tzinfo=UTC)
    assert not is_overdue(summer, 2, datetime(2026, 6, 3, 22, 59, tzinfo=UTC))
    assert is_overdue(summer, 2, datetime(2026, 6, 3, 23, 0, tzinfo=UTC))


def test_working_days() -> None:
    assert is_working_day(date(2026, 12, 29))
    for holiday in (date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1), date(2026, 4, 3)):
        assert not is_working_day(holiday), holiday
    assert not is_working_day(date(2026, 11, 22))  # a Sunday
    with pytest.raises(ValueError, match="at least 1"):
        add_working_days(date(2026, 1, 5), 0)


MOMENTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


@given(
    started=MOMENTS,
    later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
    working_days=st.integers(min_value=1, max_value=10),
)
def test_the_overdue_cutoff_agrees_with_is_overdue(
    started: datetime, later: timedelta, working_days: int
) -> None:
    """A list filters on one comparison with the cutoff; it must judge exactly as the
    reminders do, across weekends, bank holidays and the clock changes."""
    now = started + later
    cutoff = overdue_cutoff(now, working_days)
    assert (started < cutoff) == is_overdue(started, working_days, now)


def test_the_overdue_cutoff_over_christmas() -> None:
    # Limit 2: anything received from Thursday 24 December 2026 to Monday 28th (Christmas,
    # the weekend and the substitute Boxing Day) is due Wednesday 30th, so overdue on the
    # 31st; what arrived on Tuesday 29th is due on the 31st itself.
    cutoff = overdue_cutoff(at(2026, 12, 31, 9), 2)
    assert cutoff == datetime(2026, 12, 29, 0, 0, tzinfo=UTC)

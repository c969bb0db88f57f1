"""Working days in England and Wales, for the acknowledgement limit (DESIGN section 2).

A working day is a weekday that is not an England and Wales bank holiday (substitute days
included: Christmas on a Saturday moves to the Monday). Days are London days: a transfer
that arrives at 23:30 UTC in summer arrived on the next London day. The bank holidays come
from the maintained `holidays` package, which follows the proclamations (one-off days such
as a state funeral included), so there is no table here to fall out of date.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")
SATURDAY = 5


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: date) -> bool:
    return day.weekday() < SATURDAY and day not in _bank_holidays(day.year)


def london_day(moment: datetime) -> date:
    """The calendar day in England at `moment` (an aware datetime)."""
    return moment.astimezone(LONDON).date()


def add_working_days(start: date, working_days: int) -> date:
    """The `working_days`-th working day after `start` (`start` itself never counts)."""
    if working_days < 1:
        raise ValueError("working_days must be at least 1")
    day, counted = start, 0
    while counted < working_days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def working_days_before(end: date, working_days: int) -> date:
    """The `working_days`-th working day before `end` (`end` itself never counts); `end`
    itself for none."""
    day, counted = end, 0
    while counted < working_days:
        day -= timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def due(received_at: datetime, working_days: int) -> date:
    """The last London day on which an acknowledgement is on time: the end of the Nth
    working day after the day of receipt."""
    return add_working_days(london_day(received_at), working_days)


def overdue_from(received_at: datetime, working_days: int) -> datetime:
    """The moment (aware) an unacknowledged transfer becomes overdue: midnight in London
    at the end of its due day."""
    after = due(received_at, working_days) + timedelta(days=1)
    return datetime.combine(after, time(0), tzinfo=LONDON)


def is_overdue(received_at: datetime, working_days: int, now: datetime) -> bool:
    return now >= overdue_from(received_at, working_days)


def overdue_cutoff(now: datetime, working_days: int) -> datetime:
    """The moment before which a clock must have started for the transfer to be overdue
    at `now`: `is_overdue(started, n, now)` exactly when `started < overdue_cutoff(now, n)`.
    A list filters on it in one comparison instead of judging row by row. The due day
    never moves backwards as the arrival day moves on, so the latest arrival day already
    overdue is found by walking back from today."""
    today = london_day(now)
    last = today - timedelta(days=1)
    while add_working_days(last, working_days) >= today:
        last -= timedelta(days=1)
    return datetime.combine(last + timedelta(days=1), time(0), tzinfo=LONDON)

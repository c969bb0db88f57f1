"""Twelve calendar months (seeds 000 4.3, 003): a case is flagged until the same date one
year after its most recent review. A review on 29 February expires on 28 February of the
next year: the last day of that month, never a day in March."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime

FLAG_MONTHS = 12


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def expiry(reviewed_at: date) -> date:
    """The first day on which a flag reviewed on `reviewed_at` is no longer active."""
    return add_months(reviewed_at, FLAG_MONTHS)


def today(now: datetime) -> date:
    """Flag dates are calendar dates in UTC (the UK is UTC or one hour ahead, and a
    meeting date carries no time)."""
    return now.astimezone(UTC).date()


def expiry_instant(expires_at: date) -> datetime:
    """The moment a flag dated `expires_at` stops matching (midnight UTC)."""
    return datetime(expires_at.year, expires_at.month, expires_at.day, tzinfo=UTC)

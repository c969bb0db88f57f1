"""Twelve calendar months after a review, leap years included."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from gateway.domain.flags.months import add_months, expiry, expiry_instant, today


@pytest.mark.parametrize(
    ("reviewed", "expires"),
    [
        (date(2024, 2, 29), date(2025, 2, 28)),  # leap day: the last day of February
        (date(2023, 2, 28), date(2024, 2, 28)),  # not the 29th just because it exists
        (date(2023, 3, 1), date(2024, 3, 1)),
        (date(2027, 2, 28), date(2028, 2, 28)),
        (date(2026, 12, 31), date(2027, 12, 31)),
        (date(2026, 1, 31), date(2027, 1, 31)),
    ],
)
def test_expiry_is_twelve_calendar_months_later(reviewed: date, expires: date) -> None:
    assert expiry(reviewed) == expires


def test_months_clamp_to_the_end_of_shorter_months() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 8, 31), 1) == date(2026, 9, 30)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_a_flag_stops_matching_at_midnight_utc_of_its_expiry_date() -> None:
    assert expiry_instant(date(2025, 2, 28)) == datetime(2025, 2, 28, tzinfo=UTC)
    assert today(datetime(2025, 2, 27, 23, 59, 59, tzinfo=UTC)) == date(2025, 2, 27)

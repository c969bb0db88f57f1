"""A rate limit as settings write it (`120/minute`): a value type with no database, so
the settings (gateway/config.py) and the command line's start-up need not import the
limiter (gateway/domain/identity/rate_limits.py), which uses it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_PATTERN = re.compile(r"^\s*(\d+)\s*/\s*(\d+)?\s*(second|minute|hour|day)s?\s*$")


@dataclass(frozen=True)
class RateLimit:
    count: int
    period: timedelta

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """`120/minute`, `5/second`, `20/10minutes`, `1000/day`."""
        found = _PATTERN.match(text.lower())
        if not found:
            raise ValueError("a rate limit reads like 120/minute (second, minute, hour, day)")
        count, multiple, unit = int(found[1]), int(found[2] or 1), found[3]
        if count < 1 or multiple < 1:
            raise ValueError("a rate limit allows at least one event per period")
        return cls(count, timedelta(seconds=multiple * _UNITS[unit]))

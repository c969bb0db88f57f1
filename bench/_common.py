"""Helpers shared by the benchmark scripts (not product code, not tests)."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from collections.abc import Sequence
from typing import Any


def emit(record: dict[str, Any]) -> None:
    """One JSON object per line on stdout; everything human-readable goes to stderr."""
    print(json.dumps(record, sort_keys=False), flush=True)


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def r(value: float, digits: int = 3) -> float:
    return round(value, digits)

"""Stop the clock of the nodes running in this process.

The rate limiter counts in fixed windows aligned to the clock (a minute's window begins
on the minute: gateway/domain/identity/rate_limits.py). A test that makes a limit's
allowance plus one request expects them all in one window; on a real clock they straddle
a window's end now and then, and the last one is counted in a fresh window. Pinned, every
request is counted at the same instant.

Every module of the gateway takes 'now' from `gateway.domain.clock.utcnow`, imported by
name; the pin replaces each module's binding, so the nodes serving in threads of this
process (tests/support/nodes.py) see it too. Processes started by a test do not.
"""

from __future__ import annotations

import sys

import pytest

from gateway.domain import clock


def pin_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every loaded gateway module's `utcnow` answers this instant until the test ends."""
    real = clock.utcnow
    instant = real()
    for name, module in list(sys.modules.items()):
        if name.startswith("gateway") and getattr(module, "utcnow", None) is real:
            monkeypatch.setattr(module, "utcnow", lambda: instant)

"""The application API (`/api/v1`, DESIGN section 4): thin JSON handlers over the domain.

Every route declares what it needs with `@requires`; the guard in gateway/web/guard.py
enforces it (and closes any route that declares nothing). Errors are RFC 9457 problem
documents (gateway/web/errors.py).
"""

from __future__ import annotations

from gateway.web.api import (  # the view modules register their routes on `api`
    areas,
    audit,
    casework,
    documents,
    flags,
    messages,
    oauth,
    retention,
    transfers,
)
from gateway.web.api import openapi as openapi
from gateway.web.api.common import api

__all__ = [
    "api",
    "areas",
    "audit",
    "casework",
    "documents",
    "flags",
    "messages",
    "oauth",
    "openapi",
    "retention",
    "transfers",
]

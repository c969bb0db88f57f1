"""The application API (`/api/v1`, DESIGN section 4): thin JSON handlers over the domain.

Every route declares what it needs with `@requires`; the guard in gateway/security.py
enforces it (and closes any route that declares nothing). Errors are RFC 9457 problem
documents (gateway/web/errors.py).
"""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("api", __name__, url_prefix="/api/v1")

from gateway.web.api import (  # noqa: E402 - routes register on `api`
    areas,
    audit,
    casework,
    documents,
    flags,
    messages,
    oauth,
    transfers,
)
from gateway.web.api import openapi as openapi  # noqa: E402

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
    "transfers",
]

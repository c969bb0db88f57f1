"""Persistence: typed models, engine/session factory and migrations."""

from adapters.db.migrate import current_revisions, head_revisions, upgrade
from adapters.db.session import is_outage, make_engine, make_session_factory

__all__ = [
    "current_revisions",
    "head_revisions",
    "is_outage",
    "make_engine",
    "make_session_factory",
    "upgrade",
]

"""Persistence: typed models, engine/session factory and migrations."""

from adapters.db.migrate import upgrade
from adapters.db.session import make_engine, make_session_factory

__all__ = ["make_engine", "make_session_factory", "upgrade"]

"""Persistence: typed models, engine/session factory and migrations."""

from adapters.db.migrate import upgrade
from adapters.db.session import is_postgresql, make_engine, make_session_factory, transaction

__all__ = ["is_postgresql", "make_engine", "make_session_factory", "transaction", "upgrade"]

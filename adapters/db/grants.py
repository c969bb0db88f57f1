"""PostgreSQL privileges for running the node as a role that owns nothing.

Migrations (`marac-gateway db upgrade`) run as the owner of the tables; `serve`, `worker`
and the other verbs run as an application role granted only what they use: rows, never
the schema. The app role then cannot drop the audit tables' append-only triggers (only an
owner can alter a table), and on the audit tables it is not even granted UPDATE or DELETE.

What it loses: VACUUM, which only an owner may run before PostgreSQL 17 (17 adds the
MAINTAIN privilege, granted here on the tables the retention purge vacuums). Before 17
`retention purge` as the app role deletes the content but cannot vacuum: `reclaim` (in
session.py) says so and names the statement the owner must run.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, text

# The tables `retention purge` vacuums after deleting case content.
PURGED_TABLES = (
    "envelopes",
    "audit_salts",
    "flags",
    "flag_tokens",
    "flag_verifications",
    "index_tokens",
)
APPEND_ONLY_TABLES = ("audit_events", "audit_checkpoints", "audit_cosignatures")
MAINTAIN_FROM = 170000  # server_version_num of PostgreSQL 17
_ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def grant_statements(role: str, server_version: int) -> list[str]:
    """The statements, idempotent, to run as the owner after every `db upgrade`."""
    if not _ROLE.fullmatch(role):
        raise ValueError("a role name is lower-case letters, digits and _ (at most 63)")
    rows = "SELECT, INSERT, UPDATE, DELETE"
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT {rows} ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        # Append-only by privilege as well as by trigger; the schema version is read only.
        f"REVOKE UPDATE, DELETE ON {', '.join(APPEND_ONLY_TABLES)} FROM {role}",
        f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {role}",
        # Tables a later migration adds are the app's too (the owner runs this).
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {rows} ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
    ]
    if server_version >= MAINTAIN_FROM:
        statements.append(f"GRANT MAINTAIN ON {', '.join(PURGED_TABLES)} TO {role}")
    return statements


def server_version(engine: Engine) -> int:
    if engine.dialect.name != "postgresql":
        raise ValueError("roles and grants are PostgreSQL's; SQLite has none")
    with engine.connect() as connection:
        return int(connection.execute(text("SHOW server_version_num")).scalar_one())


def grant(engine: Engine, role: str) -> list[str]:
    """Run the statements as the engine's user (the owner); returns them."""
    statements = grant_statements(role, server_version(engine))
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    return statements

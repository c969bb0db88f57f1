"""The key generation: one number raised with every change to trusted keys and URLs.

Each process keeps the pinned peer keys, peer URLs and bundles, and its own areas' keys
(unsealed) in memory. Correctness does not rest on a time limit: every transaction that
uses those entries first reads `key_generation.value`, and entries read under another
value are dropped. Triggers raise it in the same transaction as every write to the
rows those entries come from (an import, a rotation, a revocation, a URL change, by the
gateway or by hand), so a change made by another gunicorn worker or a CLI process is
seen by the next transaction everywhere.

Revision ID: 0024_key_generation
Revises: 0023_worklist_indexes
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "0024_key_generation"
down_revision = "0023_worklist_indexes"
branch_labels = None
depends_on = None

RAISE = "UPDATE key_generation SET value = value + 1 WHERE id = 1"
# The tables whose rows the cache holds, and for an update the columns it reads ("" for
# any column). A peer's bundle carries the versions and exchanges it accepts.
WATCHED = {
    "peers": "url, bundle, fingerprint",
    "peer_keys": "",
    "areas": "url",
    "area_keys": "",
}


def upgrade() -> None:
    table = op.create_table(
        "key_generation",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_generation")),
    )
    op.bulk_insert(table, [{"id": 1, "value": 0}])
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(
            "CREATE FUNCTION raise_key_generation() RETURNS trigger AS $$ BEGIN "
            f"{RAISE}; RETURN NULL; "
            "END $$ LANGUAGE plpgsql"
        )
    for table_name, columns in WATCHED.items():
        for verb in ("INSERT", "DELETE", "UPDATE"):
            event = f"UPDATE OF {columns}" if verb == "UPDATE" and columns else verb
            name = f"key_generation_{table_name}_{verb.lower()}"
            if postgresql:
                op.execute(
                    f"CREATE TRIGGER {name} AFTER {event} ON {table_name} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION raise_key_generation()"
                )
            else:
                op.execute(
                    f"CREATE TRIGGER {name} AFTER {event} ON {table_name} BEGIN " + RAISE + "; END"
                )


def downgrade() -> None:
    for table_name in WATCHED:
        for verb in ("insert", "delete", "update"):
            op.execute(
                f"DROP TRIGGER IF EXISTS key_generation_{table_name}_{verb}"
                + (f" ON {table_name}" if op.get_bind().dialect.name == "postgresql" else "")
            )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS raise_key_generation()")
    op.drop_table("key_generation")

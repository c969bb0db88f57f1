"""The disclosure audit: Merkle log, heads, salts, checkpoints, peer checkpoints,
co-signatures; retention columns. Audit tables are append-only, enforced by triggers.

Revision ID: 0003_audit
Revises: 0002_identity
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa

revision = "0003_audit"
down_revision = "0002_identity"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
APPEND_ONLY = ("audit_events", "audit_checkpoints", "audit_cosignatures")

PG_FUNCTION = """
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit tables are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.add_column("areas", sa.Column("retention_months", sa.Integer(), nullable=True))
    op.add_column("envelopes", sa.Column("purged_at", TS, nullable=True))
    op.add_column("transfers", sa.Column("purged_at", TS, nullable=True))
    op.create_table(
        "audit_heads",
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name="fk_audit_heads_area_code_areas"
        ),
        sa.PrimaryKeyConstraint("area_code", name="pk_audit_heads"),
    )
    op.create_table(
        "audit_events",
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("subtrees", sa.LargeBinary(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name="fk_audit_events_area_code_areas"
        ),
        sa.PrimaryKeyConstraint("area_code", "seq", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_area_at", "audit_events", ["area_code", "at"])
    op.create_table(
        "audit_salts",
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("envelope_id", sa.String(36), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name="fk_audit_salts_area_code_areas"
        ),
        sa.PrimaryKeyConstraint("area_code", "seq", name="pk_audit_salts"),
    )
    op.create_index("ix_audit_salts_envelope_id", "audit_salts", ["envelope_id"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name="fk_audit_checkpoints_area_code_areas"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_audit_checkpoints"),
    )
    op.create_index("ix_audit_checkpoints_area_size", "audit_checkpoints", ["area_code", "size"])
    op.create_table(
        "peer_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("peer_area", sa.String(63), nullable=False),
        sa.Column("local_area", sa.String(63), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("verified_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["local_area"], ["areas.code"], name="fk_peer_checkpoints_local_area_areas"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_peer_checkpoints"),
        sa.UniqueConstraint("peer_area", "size", "root", name="uq_peer_checkpoints_statement"),
    )
    op.create_index("ix_peer_checkpoints_peer_size", "peer_checkpoints", ["peer_area", "size"])
    op.create_table(
        "audit_cosignatures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("witness_area", sa.String(63), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name="fk_audit_cosignatures_area_code_areas"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_audit_cosignatures"),
        sa.UniqueConstraint("area_code", "witness_area", "size", name="uq_audit_cosignatures_wit"),
    )
    # Every existing area starts an empty log.
    op.execute(
        "INSERT INTO audit_heads (area_code, size, frontier, updated_at) "
        "SELECT code, 0, X'', created_at FROM areas"
        if op.get_bind().dialect.name == "sqlite"
        else "INSERT INTO audit_heads (area_code, size, frontier, updated_at) "
        "SELECT code, 0, ''::bytea, created_at FROM areas"
    )
    _protect()


def _protect() -> None:
    """Refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL) for every role, the app's included.
    An owner could drop the triggers; that is why `audit verify` and the peers' checkpoints
    exist, and why production runs the app as a role that does not own the tables."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
            )
        return
    for table in APPEND_ONLY:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'audit tables are append-only: {verb} refused'); END"
            )


def downgrade() -> None:
    for table in (
        "audit_cosignatures",
        "peer_checkpoints",
        "audit_checkpoints",
        "audit_salts",
        "audit_events",
        "audit_heads",
    ):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_append_only()")
    op.drop_column("transfers", "purged_at")
    op.drop_column("envelopes", "purged_at")
    op.drop_column("areas", "retention_months")

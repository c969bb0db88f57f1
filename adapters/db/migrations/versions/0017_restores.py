"""Backup and restore: signed declarations that an area's audit log was restored from a
backup (our own, to send with evidence; our peers', so that the checkpoints their restore
lost are not taken for a fork). Append-only, like the rest of the audit.

Revision ID: 0017_restores
Revises: 0016_marac_rules
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "0017_restores"
down_revision = "0016_marac_rules"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
TABLE = "audit_restores"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_restores"),
        sa.UniqueConstraint("area_code", "issued_at", name="uq_audit_restores_area_code"),
    )
    # The function audit_append_only() exists since 0003_audit (PostgreSQL).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, 'audit tables are append-only: {verb} refused'); END"
        )


def downgrade() -> None:
    op.drop_table(TABLE)

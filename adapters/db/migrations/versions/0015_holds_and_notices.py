"""Retention by decision and more notifications.

A legal hold on a case (one area's copy of a transfer) stops its purge until lifted: the
transfer keeps the hold's reason code and since when. Every hold, lift and early purge is
a decision row (seed 004 ISP 8.4-8.6, 9.7-9.8) whose note is sealed under the master key.
A notification may be marked urgent (the one word an urgent transfer's email may add).

Revision ID: 0015_holds_and_notices
Revises: 0014_adminpages
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "0015_holds_and_notices"
down_revision = "0014_adminpages"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain nullable ADD COLUMN: no table rebuild on SQLite, no rewrite on PostgreSQL.
    op.add_column("transfers", sa.Column("legal_hold_reason", sa.String(40), nullable=True))
    op.add_column("transfers", sa.Column("legal_hold_since", TS, nullable=True))
    op.add_column("notifications", sa.Column("urgent", sa.Boolean(), nullable=True))
    op.create_table(
        "retention_decisions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("transfer_id", sa.String(36), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("note_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name="fk_retention_decisions_area_code_areas"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_retention_decisions"),
    )
    op.create_index(
        "ix_retention_decisions_transfer", "retention_decisions", ["transfer_id", "area_code"]
    )


def downgrade() -> None:
    op.drop_index("ix_retention_decisions_transfer", table_name="retention_decisions")
    op.drop_table("retention_decisions")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("urgent")
    with op.batch_alter_table("transfers") as batch:
        batch.drop_column("legal_hold_since")
        batch.drop_column("legal_hold_reason")

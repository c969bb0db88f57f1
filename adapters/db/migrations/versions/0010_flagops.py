"""Flag retention: a purged flag keeps a content-free row (id, status, dates, where the
case sat) and loses its case references, so `case_ref` may now be empty.

Revision ID: 0010_flagops
Revises: 0009_flags
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa

revision = "0010_flagops"
down_revision = "0009_flags"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # SQLite rebuilds the table for the nullability change (batch mode); PostgreSQL only
    # drops the NOT NULL. NULL case references never collide in uq_flags_area_case_ref.
    with op.batch_alter_table("flags") as batch:
        batch.add_column(sa.Column("purged_at", TS, nullable=True))
        batch.alter_column("case_ref", existing_type=sa.String(100), nullable=True)


def downgrade() -> None:
    # A purged flag has no case reference to restore: it goes, with whatever still names it.
    for table in ("flag_tokens", "flag_verifications"):
        op.execute(
            sa.text(
                f"DELETE FROM {table} WHERE flag_id IN "  # noqa: S608 - our table names
                "(SELECT id FROM flags WHERE case_ref IS NULL)"
            )
        )
    op.execute("DELETE FROM flags WHERE case_ref IS NULL")
    with op.batch_alter_table("flags") as batch:
        batch.alter_column("case_ref", existing_type=sa.String(100), nullable=False)
        batch.drop_column("purged_at")

"""Meeting dates and the acknowledgement limit per area; queued notifications (new
transfers and acknowledgement reminders) for the areas' coordinator mailboxes.

Revision ID: 0008_reminders
Revises: 0005_conversation
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa

revision = "0008_reminders"
down_revision = "0007_casework"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain nullable ADD COLUMN: no table rebuild on SQLite, no rewrite on PostgreSQL.
    op.add_column("areas", sa.Column("ack_working_days", sa.Integer(), nullable=True))
    op.create_table(
        "area_meetings",
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("meeting_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name="fk_area_meetings_area_code_areas"
        ),
        sa.PrimaryKeyConstraint("area_code", "meeting_date", name="pk_area_meetings"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("transfer_id", sa.String(36), nullable=True),
        sa.Column("dedup", sa.String(100), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name="fk_notifications_area_code_areas"
        ),
        sa.UniqueConstraint("area_code", "dedup", name="uq_notifications_area_dedup"),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
    )
    op.create_index("ix_notifications_due", "notifications", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_due", table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("area_meetings")
    with op.batch_alter_table("areas") as batch:
        batch.drop_column("ack_working_days")

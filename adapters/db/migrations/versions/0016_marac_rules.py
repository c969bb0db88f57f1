"""MARAC rules: an area's referral deadline in working days before each meeting (seeds 001
4.3, 003), the one it suggests a received case be listed for; when a redirected transfer's
content was dropped (seed 004 ISP 3.7); whether this node's chair restricted its copy
(seed 001 4.5.3).

Revision ID: 0016_marac_rules
Revises: 0015_holds_and_notices
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "0016_marac_rules"
down_revision = "0015_holds_and_notices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("areas") as batch:
        batch.add_column(sa.Column("referral_deadline_working_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("transfers") as batch:
        batch.add_column(sa.Column("content_dropped_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("restricted_here", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transfers") as batch:
        batch.drop_column("content_dropped_at")
        batch.drop_column("restricted_here")
    with op.batch_alter_table("areas") as batch:
        batch.drop_column("referral_deadline_working_days")

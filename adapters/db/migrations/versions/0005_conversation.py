"""The conversation after a transfer: a content-free timeline per transfer and area.

Revision ID: 0005_conversation
Revises: 0004_workflow
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa

revision = "0005_conversation"
down_revision = "0004_workflow"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "transfer_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("transfer_id", sa.String(36), nullable=False),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("envelope_id", sa.String(36), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name="fk_transfer_events_area_code_areas"
        ),
    )
    op.create_index("ix_transfer_events_transfer", "transfer_events", ["transfer_id", "area_code"])


def downgrade() -> None:
    op.drop_index("ix_transfer_events_transfer", table_name="transfer_events")
    op.drop_table("transfer_events")

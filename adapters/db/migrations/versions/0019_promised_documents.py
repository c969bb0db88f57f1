"""Documents promised with a transfer.

An outbound transfer's `documents.to_follow` (transfer_request version 2) as kind codes
and dates, so the worker can remind the sending area once a date passes without a
document of that kind having been sent (seed 000 4.24.2). Nothing personal.

Revision ID: 0019_promised_documents
Revises: 0018_verification_answers
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "0019_promised_documents"
down_revision = "0018_verification_answers"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "promised_documents",
        sa.Column("transfer_id", sa.String(36), nullable=False),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("reminded_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name="fk_promised_documents_area_code_areas"
        ),
        sa.PrimaryKeyConstraint(
            "transfer_id", "area_code", "position", name="pk_promised_documents"
        ),
    )
    op.create_index("ix_promised_documents_due", "promised_documents", ["reminded_at", "due"])


def downgrade() -> None:
    op.drop_index("ix_promised_documents_due", table_name="promised_documents")
    op.drop_table("promised_documents")

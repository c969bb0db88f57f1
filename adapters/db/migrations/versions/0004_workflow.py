"""The MARAC-to-MARAC workflow: who created a transfer (four eyes on chair approval) and
the meeting the receiving area listed it for.

Revision ID: 0004_workflow
Revises: 0003_audit
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa

revision = "0004_workflow"
down_revision = "0003_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (nullable): no table rebuild on SQLite, no rewrite on PostgreSQL.
    op.add_column("transfers", sa.Column("created_by", sa.String(100), nullable=True))
    op.add_column("transfers", sa.Column("listed_for", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transfers") as batch:
        batch.drop_column("listed_for")
        batch.drop_column("created_by")

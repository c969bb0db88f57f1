"""Operating: the outbox row keeps the id of the request that queued it, so the worker's
delivery log lines carry the same request id as the API call (never personal data: an
opaque id the caller or this node chose).

Revision ID: 0013_production
Revises: 0012_linkage_rules
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "0013_production"
down_revision = "0012_linkage_rules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("request_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("request_id")

"""Linkage token spaces: which rule sets a flag's tokens were derived under ("2,1"); empty
for flags set before there was more than one (space v1), which the worker re-derives
from the sealed subjects and re-publishes (DESIGN section 6).

Revision ID: 0012_linkage_rules
Revises: 0011_transfer_listing
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "0012_linkage_rules"
down_revision = "0011_transfer_listing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flags") as batch:
        batch.add_column(sa.Column("token_spaces", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flags") as batch:
        batch.drop_column("token_spaces")

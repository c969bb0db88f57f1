"""The cache generation counter.

Processes keep token keys, API clients, pinned peer keys and area keys in memory; any
change to them bumps this counter in the same transaction, and a process reading a value
other than the one its cache was filled under drops the cache. Nothing personal.

Revision ID: 0020_speed_hotpath_cache_gen
Revises: 0019_promised_documents
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "0020_speed_hotpath_cache_gen"
down_revision = "0019_promised_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "cache_generations",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_cache_generations"),
    )
    op.bulk_insert(table, [{"name": "node", "value": 0}])


def downgrade() -> None:
    op.drop_table("cache_generations")

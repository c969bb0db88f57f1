"""The transfers list (API and pages) reads an area's transfers newest first, a page at a
time (keyset on created_at, id): an index in that order, so a page costs what it shows
and not a sort of the whole area.

Revision ID: 0011_transfer_listing
Revises: 0010_flagops
Create Date: 2026-12-03
"""

from alembic import op

revision = "0011_transfer_listing"
down_revision = "0010_flagops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_transfers_area_created", "transfers", ["area_code", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_transfers_area_created", table_name="transfers")

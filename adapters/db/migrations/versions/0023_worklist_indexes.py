"""Indexes for "Your work" at 100,000 transfers: each (direction, status) count names its
newest few transfers straight from the index, and the repeat-incident and forward-request
counts start from the area's own rows instead of walking every transfer of the area.

Revision ID: 0023_worklist_indexes
Revises: 0022_peer_hold
Create Date: 2026-12-03
"""

from alembic import op

revision = "0023_worklist_indexes"
down_revision = "0022_peer_hold"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_transfers_area_direction_status", table_name="transfers")
    op.create_index(
        "ix_transfers_area_direction_status",
        "transfers",
        ["area_code", "direction", "status", "created_at", "id"],
    )
    op.create_index(
        "ix_transfer_events_area_kind_at", "transfer_events", ["area_code", "kind", "at"]
    )
    op.create_index(
        "ix_forward_permissions_area_status", "forward_permissions", ["area_code", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_forward_permissions_area_status", table_name="forward_permissions")
    op.drop_index("ix_transfer_events_area_kind_at", table_name="transfer_events")
    op.drop_index("ix_transfers_area_direction_status", table_name="transfers")
    op.create_index(
        "ix_transfers_area_direction_status", "transfers", ["area_code", "direction", "status"]
    )

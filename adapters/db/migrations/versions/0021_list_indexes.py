"""Indexes that serve each list's filter and order, so a page, first or deep, reads what it
shows: transfers filtered by direction or by status (newest first), flags without a status
filter (soonest expiry first, with the id for the keyset), audit events by action.

Revision ID: 0021_list_indexes
Revises: 0020_keys_rotation_revocation
Create Date: 2026-12-03
"""

from alembic import op

revision = "0021_list_indexes"
down_revision = "0020_keys_rotation_revocation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_transfers_area_direction_created",
        "transfers",
        ["area_code", "direction", "created_at", "id"],
    )
    op.create_index(
        "ix_transfers_area_status_created", "transfers", ["area_code", "status", "created_at", "id"]
    )
    op.create_index("ix_flags_area_expires", "flags", ["area_code", "expires_at", "id"])
    op.drop_index("ix_flags_area_status_expires", table_name="flags")
    op.create_index(
        "ix_flags_area_status_expires", "flags", ["area_code", "status", "expires_at", "id"]
    )
    op.create_index(
        "ix_audit_events_area_action_seq", "audit_events", ["area_code", "action", "seq"]
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_area_action_seq", table_name="audit_events")
    op.drop_index("ix_flags_area_status_expires", table_name="flags")
    op.create_index("ix_flags_area_status_expires", "flags", ["area_code", "status", "expires_at"])
    op.drop_index("ix_flags_area_expires", table_name="flags")
    op.drop_index("ix_transfers_area_status_created", table_name="transfers")
    op.drop_index("ix_transfers_area_direction_created", table_name="transfers")

"""The outbox's due index carries the claim's whole order (next attempt, then id), so a
worker's claim reads its batch straight from the index and stops at the limit.

Before, PostgreSQL had to fetch every due row, join its envelope and sort them all to
find the first few: with a queue of thousands that was most of the cost of a claim, and
more so before the table's statistics caught up with a sudden burst. (SQLite ends every
index with the rowid, which is `outbox.id`, so it had the order already.)

Revision ID: 0026_outbox_claim_order
Revises: 0025_envelope_evidence_seq
Create Date: 2026-12-04
"""

from alembic import op

revision = "0026_outbox_claim_order"
down_revision = "0025_envelope_evidence_seq"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])

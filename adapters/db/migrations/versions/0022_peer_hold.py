"""A peer that is down holds new envelopes behind its probe (DESIGN section 4, outbox).

`peers.held_until`: set when a delivery finds the peer down (the time its backlog waits
until, a lease past its probe's next attempt), cleared when a delivery to it succeeds. An
envelope queued meanwhile is due then, not at once, so an outage is probed by one
delivery at a time rather than once more for every transfer created during it.

Revision ID: 0022_peer_hold
Revises: 0021_list_indexes
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "0022_peer_hold"
down_revision = "0021_list_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("peers") as batch:
        batch.add_column(sa.Column("held_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("peers") as batch:
        batch.drop_column("held_until")

"""Key rotation that reaches peers, and revocation (docs/contract.md "Key rotation and
revocation").

`area_keys.revoked_at`: an own key revoked by an admin (its revocation statement goes in
the bundle). `peer_keys.revoked_at`/`revoked_by`: a peer's pinned key this node no longer
trusts, by the peer's own statement or by an admin here. `peers.pending_*`: a fetched
bundle the pinned key did not endorse, waiting for its fingerprint by phone;
`peers.checked_at`/`rotated_at`: the last fetch and the last automatic acceptance.

Revision ID: 0020_keys_rotation_revocation
Revises: 0019_promised_documents
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "0020_keys_rotation_revocation"
down_revision = "0019_promised_documents"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("area_keys") as batch:
        batch.add_column(sa.Column("revoked_at", TS, nullable=True))
    with op.batch_alter_table("peer_keys") as batch:
        batch.add_column(sa.Column("revoked_at", TS, nullable=True))
        batch.add_column(sa.Column("revoked_by", sa.String(20), nullable=True))
    with op.batch_alter_table("peers") as batch:
        batch.add_column(sa.Column("pending_bundle", sa.Text(), nullable=True))
        batch.add_column(sa.Column("pending_fingerprint", sa.String(80), nullable=True))
        batch.add_column(sa.Column("pending_since", TS, nullable=True))
        batch.add_column(sa.Column("checked_at", TS, nullable=True))
        batch.add_column(sa.Column("rotated_at", TS, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("peers") as batch:
        for name in ("rotated_at", "checked_at", "pending_since", "pending_fingerprint"):
            batch.drop_column(name)
        batch.drop_column("pending_bundle")
    with op.batch_alter_table("peer_keys") as batch:
        batch.drop_column("revoked_by")
        batch.drop_column("revoked_at")
    with op.batch_alter_table("area_keys") as batch:
        batch.drop_column("revoked_at")

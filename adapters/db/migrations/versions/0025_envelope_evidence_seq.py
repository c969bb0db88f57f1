"""The evidence of an outbound disclosure is attached when it is delivered (DESIGN section 7).

`envelopes.evidence_seq`: the sequence number of the sender's audit leaf for this
disclosure while the envelope waits for its evidence (inclusion proof and a signed
checkpoint); the worker attaches the evidence to the stored body before the first POST and
clears it. NULL for inbound and kept envelopes, and for envelopes written with their
evidence already attached (before this revision).

Revision ID: 0025_envelope_evidence_seq
Revises: 0024_key_generation
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "0025_envelope_evidence_seq"
down_revision = "0024_key_generation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("envelopes") as batch:
        batch.add_column(sa.Column("evidence_seq", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("envelopes") as batch:
        batch.drop_column("evidence_seq")

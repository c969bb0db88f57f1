"""The holder's answer to a flag verification request (DESIGN section 6, docs/contract.md
"Verification answers"): the answer kept by the holder, the requests an area sent with
their one-time reply keys and answers, and the index's record of who asked whom.

Revision ID: 0018_verification_answers
Revises: 0017_restores
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "0018_verification_answers"
down_revision = "0017_restores"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("flag_verifications") as batch:
        batch.add_column(sa.Column("answer", sa.String(16), nullable=True))
        batch.add_column(sa.Column("answered_at", TS, nullable=True))
    op.create_table(
        "flag_verifications_sent",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("reply_secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("sent_at", TS, nullable=False),
        sa.Column("answer", sa.String(16), nullable=True),
        sa.Column("answer_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("answered_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_flag_verifications_sent"),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name="fk_flag_verifications_sent_area_code_areas"
        ),
    )
    op.create_index(
        "ix_flag_verifications_sent_area", "flag_verifications_sent", ["area_code", "sent_at"]
    )
    op.create_table(
        "index_relays",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("asker", sa.String(63), nullable=False),
        sa.Column("holder", sa.String(63), nullable=False),
        sa.Column("via", sa.String(63), nullable=False),
        sa.Column("relayed_at", TS, nullable=False),
        sa.Column("answered_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_index_relays"),
    )


def downgrade() -> None:
    op.drop_table("index_relays")
    op.drop_index("ix_flag_verifications_sent_area", table_name="flag_verifications_sent")
    op.drop_table("flag_verifications_sent")
    with op.batch_alter_table("flag_verifications") as batch:
        batch.drop_column("answered_at")
        batch.drop_column("answer")

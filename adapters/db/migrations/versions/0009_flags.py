"""Shared flags: local flags and their tokens, the flag index and linkage authority roles,
and each area's flag-sharing policy.

Revision ID: 0009_flags
Revises: 0005_conversation
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa

revision = "0009_flags"
down_revision = "0008_reminders"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("areas") as batch:
        batch.add_column(sa.Column("flags_share_perpetrators", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("flags_share_children", sa.Boolean(), nullable=True))
    op.create_table(
        "flags",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("case_ref", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reviewed_at", sa.Date(), nullable=False),
        sa.Column("expires_at", sa.Date(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("transfer_id", sa.String(36), nullable=True),
        sa.Column("origin_area", sa.String(63), nullable=True),
        sa.Column("origin_case_ref", sa.String(100), nullable=True),
        sa.Column("held_by", sa.String(63), nullable=True),
        sa.Column("index_ref", sa.String(43), nullable=False),
        sa.Column("verify_secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("subject_roles", sa.String(200), nullable=False),
        sa.Column("subjects_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("index_dirty", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["area_code"], ["areas.code"], name="fk_flags_area_code_areas"),
        sa.UniqueConstraint("area_code", "case_ref", name="uq_flags_area_case_ref"),
        sa.UniqueConstraint("index_ref", name="uq_flags_index_ref"),
    )
    op.create_index("ix_flags_area_status_expires", "flags", ["area_code", "status", "expires_at"])
    op.create_index("ix_flags_transfer_id", "flags", ["transfer_id"])
    op.create_table(
        "flag_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("flag_id", sa.String(36), nullable=False),
        sa.Column("token", sa.LargeBinary(32), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["flag_id"], ["flags.id"], name="fk_flag_tokens_flag_id_flags"),
    )
    op.create_index("ix_flag_tokens_flag_id", "flag_tokens", ["flag_id"])
    op.create_index("ix_flag_tokens_token", "flag_tokens", ["token"])
    op.create_table(
        "flag_verifications",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("flag_id", sa.String(36), nullable=False),
        sa.Column("from_area", sa.String(63), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name="fk_flag_verifications_area_code_areas"
        ),
        sa.ForeignKeyConstraint(
            ["flag_id"], ["flags.id"], name="fk_flag_verifications_flag_id_flags"
        ),
    )
    op.create_index(
        "ix_flag_verifications_area", "flag_verifications", ["area_code", "received_at"]
    )
    op.create_table(
        "index_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token", sa.LargeBinary(32), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("area", sa.String(63), nullable=False),
        sa.Column("ref", sa.String(43), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_index("ix_index_tokens_token", "index_tokens", ["token"])
    op.create_index("ix_index_tokens_expires_at", "index_tokens", ["expires_at"])
    op.create_index("ix_index_tokens_area_ref", "index_tokens", ["area", "ref"])
    op.create_table(
        "linkage_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("linkage_keys")
    op.drop_index("ix_flag_verifications_area", table_name="flag_verifications")
    op.drop_table("flag_verifications")
    op.drop_index("ix_index_tokens_area_ref", table_name="index_tokens")
    op.drop_index("ix_index_tokens_expires_at", table_name="index_tokens")
    op.drop_index("ix_index_tokens_token", table_name="index_tokens")
    op.drop_table("index_tokens")
    op.drop_index("ix_flag_tokens_token", table_name="flag_tokens")
    op.drop_index("ix_flag_tokens_flag_id", table_name="flag_tokens")
    op.drop_table("flag_tokens")
    op.drop_index("ix_flags_transfer_id", table_name="flags")
    op.drop_index("ix_flags_area_status_expires", table_name="flags")
    op.drop_table("flags")
    with op.batch_alter_table("areas") as batch:
        batch.drop_column("flags_share_children")
        batch.drop_column("flags_share_perpetrators")

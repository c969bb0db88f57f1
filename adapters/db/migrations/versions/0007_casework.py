"""Casework after a transfer: withdrawal (when the receiving area first opened it),
forwarding with the originating area's permission, restricted cases and the users named
to open them.

Revision ID: 0007_casework
Revises: 0005_conversation
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa

revision = "0007_casework"
down_revision = "0006_documents"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMN (nullable): no table rebuild on SQLite, no rewrite on PostgreSQL.
    op.add_column("transfers", sa.Column("restricted_reason", sa.String(32), nullable=True))
    op.add_column("transfers", sa.Column("opened_at", TS, nullable=True))
    op.add_column("transfers", sa.Column("forwarded_from", sa.String(36), nullable=True))
    op.create_table(
        "forward_permissions",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("transfer_id", sa.String(36), nullable=False),
        sa.Column("forward_to", sa.String(63), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("answer_id", sa.String(36), nullable=True),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("used_by", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("request_id", "area_code", name="pk_forward_permissions"),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name="fk_forward_permissions_area_code_areas"
        ),
    )
    op.create_index(
        "ix_forward_permissions_transfer", "forward_permissions", ["transfer_id", "area_code"]
    )
    op.create_table(
        "transfer_access",
        sa.Column("transfer_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("named_by", sa.String(100), nullable=False),
        sa.Column("named_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("transfer_id", "user_id", name="pk_transfer_access"),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["transfers.id"], name="fk_transfer_access_transfer_id_transfers"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_transfer_access_user_id_users"),
    )


def downgrade() -> None:
    op.drop_table("transfer_access")
    op.drop_index("ix_forward_permissions_transfer", table_name="forward_permissions")
    op.drop_table("forward_permissions")
    with op.batch_alter_table("transfers") as batch:
        batch.drop_column("forwarded_from")
        batch.drop_column("opened_at")
        batch.drop_column("restricted_reason")

"""Documents and information requests in reply to a transfer: metadata only (the bytes
and the request's note stay inside the sealed envelopes).

Revision ID: 0006_documents
Revises: 0005_conversation
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa

revision = "0006_documents"
down_revision = "0005_conversation"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("transfer_id", sa.String(36), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("answers", sa.String(36), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("document_id", "area_code", name="pk_documents"),
        sa.ForeignKeyConstraint(["area_code"], ["areas.code"], name="fk_documents_area_code_areas"),
    )
    op.create_index("ix_documents_transfer", "documents", ["transfer_id", "area_code"])
    op.create_table(
        "information_requests",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("transfer_id", sa.String(36), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("what", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("answered_by", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("request_id", "area_code", name="pk_information_requests"),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name="fk_information_requests_area_code_areas"
        ),
    )
    op.create_index(
        "ix_information_requests_transfer", "information_requests", ["transfer_id", "area_code"]
    )


def downgrade() -> None:
    op.drop_index("ix_information_requests_transfer", table_name="information_requests")
    op.drop_table("information_requests")
    op.drop_index("ix_documents_transfer", table_name="documents")
    op.drop_table("documents")

"""Node administration pages: single-use invitation links (a new person sets their
password and enrols their second factor; an admin's reset of a lost second factor), kept
as keyed digests only, and the name an admin gives a person.

Revision ID: 0014_adminpages
Revises: 0013_production
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "0014_adminpages"
down_revision = "0013_production"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("name", sa.String(200), nullable=True))
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_invitations"),
        sa.UniqueConstraint("token_digest", name="uq_invitations_token_digest"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_invitations_user_id_users"),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name="fk_invitations_area_code_areas"
        ),
    )
    op.create_index("ix_invitations_user_id", "invitations", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_invitations_user_id", table_name="invitations")
    op.drop_table("invitations")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("name")

"""Areas, keys, peers, envelopes, transfers, outbox, used request tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "areas",
        sa.Column("code", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("mailbox", sa.String(320), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_areas"),
    )
    op.create_table(
        "area_keys",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("signing_public", sa.LargeBinary(32), nullable=False),
        sa.Column("encryption_public", sa.LargeBinary(32), nullable=False),
        sa.Column("signing_secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("encryption_secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("valid_from", TS, nullable=False),
        sa.Column("valid_until", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["area_code"], ["areas.code"], name="fk_area_keys_area_code_areas"),
        sa.PrimaryKeyConstraint("key_id", name="pk_area_keys"),
    )
    op.create_index("ix_area_keys_area_code", "area_keys", ["area_code"])
    op.create_table(
        "peers",
        sa.Column("code", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("mailbox", sa.String(320), nullable=False),
        sa.Column("fingerprint", sa.String(80), nullable=False),
        sa.Column("bundle", sa.Text(), nullable=False),
        sa.Column("imported_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_peers"),
    )
    op.create_table(
        "peer_keys",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("peer_code", sa.String(63), nullable=False),
        sa.Column("signing_public", sa.LargeBinary(32), nullable=False),
        sa.Column("encryption_public", sa.LargeBinary(32), nullable=False),
        sa.Column("valid_from", TS, nullable=False),
        sa.Column("valid_until", TS, nullable=True),
        sa.ForeignKeyConstraint(["peer_code"], ["peers.code"], name="fk_peer_keys_peer_code_peers"),
        sa.PrimaryKeyConstraint("key_id", name="pk_peer_keys"),
    )
    op.create_index("ix_peer_keys_peer_code", "peer_keys", ["peer_code"])
    op.create_table(
        "envelopes",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("envelope_id", sa.String(36), nullable=False),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("peer_area", sa.String(63), nullable=False),
        sa.Column("in_reply_to", sa.String(36), nullable=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("self_sealed_key", sa.LargeBinary(), nullable=True),
        sa.Column("receipt", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["area_code"], ["areas.code"], name="fk_envelopes_area_code_areas"),
        sa.PrimaryKeyConstraint("pk", name="pk_envelopes"),
        sa.UniqueConstraint("envelope_id", "area_code", name="uq_envelopes_id_area"),
    )
    op.create_table(
        "transfers",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("envelope_id", sa.String(36), nullable=False),
        sa.Column("area_code", sa.String(63), nullable=False),
        sa.Column("peer_area", sa.String(63), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("failure_reason", sa.String(500), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("delivered_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["area_code"], ["areas.code"], name="fk_transfers_area_code_areas"),
        sa.PrimaryKeyConstraint("id", name="pk_transfers"),
        sa.UniqueConstraint("envelope_id", "area_code", name="uq_transfers_envelope_area"),
    )
    op.create_index(
        "ix_transfers_area_direction_status", "transfers", ["area_code", "direction", "status"]
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("envelope_pk", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("claimed_until", TS, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["envelope_pk"], ["envelopes.pk"], name="fk_outbox_envelope_pk_envelopes"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("envelope_pk", name="uq_outbox_envelope_pk"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "used_tokens",
        sa.Column("jti", sa.String(128), nullable=False),
        sa.Column("issuer", sa.String(63), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("jti", name="pk_used_tokens"),
    )
    op.create_index("ix_used_tokens_expires_at", "used_tokens", ["expires_at"])


def downgrade() -> None:
    for table in (
        "used_tokens",
        "outbox",
        "transfers",
        "envelopes",
        "peer_keys",
        "peers",
        "area_keys",
        "areas",
    ):
        op.drop_table(table)

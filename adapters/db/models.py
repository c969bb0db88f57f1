"""SQLAlchemy 2 typed models.

Rule of the house: no column holds case data in plaintext (staff emails, needed to find
an account at login, are the one exception: normalised, never logged). Case content exists at
rest only inside `envelopes.body` (sealed to the recipient, or to the sender's own key
through `self_sealed_key`). Transfer rows are metadata: ids, areas, states, times.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out. SQLite keeps no zone, so without this a
    value read back would be naive and compare wrongly with the aware times we write."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


class Area(Base):
    """An area hosted on this node (a county node may host several)."""

    __tablename__ = "areas"

    code: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500))
    mailbox: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime]
    # Months to keep case content after the case's last activity; None: the node default.
    retention_months: Mapped[int | None] = mapped_column(Integer)
    # Working days the area allows itself to acknowledge a received transfer (and expects
    # of its peers); None: the default of 2.
    ack_working_days: Mapped[int | None] = mapped_column(Integer, default=None)
    # Working days before each meeting by which a referral must reach the area to be
    # listed for it (seeds 001 4.3, 003); None: no deadline, the next meeting.
    referral_deadline_working_days: Mapped[int | None] = mapped_column(Integer, default=None)

    # Flag-sharing policy (seed 004 2.5): None means the default (perpetrators off,
    # children on).
    flags_share_perpetrators: Mapped[bool | None] = mapped_column(Boolean, default=None)
    flags_share_children: Mapped[bool | None] = mapped_column(Boolean, default=None)


class AreaMeeting(Base):
    """A date on which the area's MARAC meets: what an accepted transfer is listed for."""

    __tablename__ = "area_meetings"

    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), primary_key=True)
    meeting_date: Mapped[date] = mapped_column(Date, primary_key=True)


class AreaKey(Base):
    """A local key pair; the private halves sealed under the node master key."""

    __tablename__ = "area_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), index=True)
    signing_public: Mapped[bytes] = mapped_column(LargeBinary(32))
    encryption_public: Mapped[bytes] = mapped_column(LargeBinary(32))
    signing_secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    encryption_secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # Revoked by an admin as compromised: it no longer signs, endorses nor verifies, and
    # the bundle carries its revocation statement (docs/contract.md).
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Peer(Base):
    """A remote area whose bundle was imported with a confirmed fingerprint."""

    __tablename__ = "peers"

    code: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500))
    mailbox: Mapped[str] = mapped_column(String(320))
    fingerprint: Mapped[str] = mapped_column(String(80))
    bundle: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime]
    # A fetched bundle no pinned key endorsed: it waits for its fingerprint by phone.
    pending_bundle: Mapped[str | None] = mapped_column(Text, default=None)
    pending_fingerprint: Mapped[str | None] = mapped_column(String(80), default=None)
    pending_since: Mapped[datetime | None] = mapped_column(default=None)
    # The last fetch of the published bundle, and the last rotation accepted without a call.
    checked_at: Mapped[datetime | None] = mapped_column(default=None)
    rotated_at: Mapped[datetime | None] = mapped_column(default=None)
    # While the peer is down: new envelopes to it wait until then, behind its probe.
    held_until: Mapped[datetime | None] = mapped_column(default=None)


class PeerKey(Base):
    __tablename__ = "peer_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    peer_code: Mapped[str] = mapped_column(ForeignKey("peers.code"), index=True)
    signing_public: Mapped[bytes] = mapped_column(LargeBinary(32))
    encryption_public: Mapped[bytes] = mapped_column(LargeBinary(32))
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    # No longer trusted at all, even for envelopes already in flight: "peer" (the area's
    # own revocation statement) or "admin" (revoked here).
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_by: Mapped[str | None] = mapped_column(String(20), default=None)


class KeyGeneration(Base):
    """One row: a number raised in the same transaction as every change to the keys and
    URLs this node trusts (peers, their pinned keys, its own areas' keys and URLs). Each
    process caches those lookups for as long as the number it reads is the one they were
    read under, so another process's rotation, import or revocation is seen at once."""

    __tablename__ = "key_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger)


class Envelope(Base):
    """A sealed envelope as sent or received, byte for byte, with its receipt.

    Keyed by (envelope id, local area) because two areas on one node may be the sender
    and the recipient of the same envelope.
    """

    __tablename__ = "envelopes"
    __table_args__ = (UniqueConstraint("envelope_id", "area_code", name="uq_envelopes_id_area"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    envelope_id: Mapped[str] = mapped_column(String(36))
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"))
    direction: Mapped[str] = mapped_column(String(8))  # inbound | outbound
    type: Mapped[str] = mapped_column(String(32))
    peer_area: Mapped[str] = mapped_column(String(63))
    in_reply_to: Mapped[str | None] = mapped_column(String(36))
    digest: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # the wire JSON, still sealed
    self_sealed_key: Mapped[bytes | None] = mapped_column(LargeBinary)  # outbound only
    receipt: Mapped[str | None] = mapped_column(Text)  # exact bytes, issued or received
    created_at: Mapped[datetime]
    # Set by retention: the body is then only the content-free header, the keys are gone.
    purged_at: Mapped[datetime | None]
    # Outbound, sent: the seq of our audit leaf for it while its evidence (inclusion proof
    # and signed checkpoint) waits to be attached before the first POST; then None.
    evidence_seq: Mapped[int | None] = mapped_column(BigInteger, default=None)


class Transfer(Base):
    """Metadata of one MARAC-to-MARAC transfer as seen by one local area."""

    __tablename__ = "transfers"
    __table_args__ = (
        UniqueConstraint("envelope_id", "area_code", name="uq_transfers_envelope_area"),
        # "Your work" counts each (direction, status) and names its newest few (0023).
        Index(
            "ix_transfers_area_direction_status",
            "area_code",
            "direction",
            "status",
            "created_at",
            "id",
        ),
        # The list, newest first a page at a time (migration 0011), read backwards: a row
        # value keyset (created_at, id) < (...) is a range on it, so a page deep in the
        # list costs what the first one does. The filtered lists have their own (0020).
        Index("ix_transfers_area_created", "area_code", "created_at", "id"),
        Index("ix_transfers_area_direction_created", "area_code", "direction", "created_at", "id"),
        Index("ix_transfers_area_status_created", "area_code", "status", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    envelope_id: Mapped[str] = mapped_column(String(36))
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"))
    peer_area: Mapped[str] = mapped_column(String(63))
    direction: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]
    # Who created an outbound transfer (an actor id, never personal data): the person who
    # made it may not approve it. None for inbound transfers.
    created_by: Mapped[str | None] = mapped_column(String(100), default=None)
    # The meeting the receiving area listed the case for: a date, not personal data.
    listed_for: Mapped[date | None] = mapped_column(Date, default=None)
    # Restricted case (honour-based violence, position of trust): the reason code only.
    # On an inbound transfer only the users named in `transfer_access` may open it.
    restricted_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    # This node's chair restricted its copy (a received case after arrival, or the
    # sender's own copy): binding here whatever the direction. None: not (older rows).
    restricted_here: Mapped[bool | None] = mapped_column(Boolean, default=False)
    # When the receiving area first opened the content: a withdrawal before this moment
    # takes the content away for good; after it, the area keeps what it already read.
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    # An outbound transfer that forwards an inbound one (with the originating area's
    # permission): the inbound transfer's id on this node.
    forwarded_from: Mapped[str | None] = mapped_column(String(36), default=None)
    # A legal hold (seed 004 ISP 9.7-9.8): retention leaves the case alone until it is
    # lifted. The reason code only; the decision and its sealed note are a
    # `retention_decisions` row.
    legal_hold_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    legal_hold_since: Mapped[datetime | None] = mapped_column(default=None)
    # When a redirected inbound transfer's content was dropped, once the redirect reached
    # the sender (seed 004 ISP 3.7): its metadata, timeline and audit stay.
    content_dropped_at: Mapped[datetime | None] = mapped_column(default=None)


class RetentionDecision(Base):
    """A person's decision about keeping one area's copy of a case: a legal hold, its
    lifting, or an early purge (seed 004 ISP 8.4-8.6, 9.7-9.8). The reason is a code; the
    note may name people, so it is sealed under the master key, bound to the decision."""

    __tablename__ = "retention_decisions"
    __table_args__ = (Index("ix_retention_decisions_transfer", "transfer_id", "area_code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"))
    transfer_id: Mapped[str] = mapped_column(String(36))
    decision: Mapped[str] = mapped_column(String(16))  # hold | lift | purge
    reason: Mapped[str] = mapped_column(String(40))
    note_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    decided_by: Mapped[str] = mapped_column(String(100))  # an actor id, never a name
    decided_at: Mapped[datetime]


class TransferEvent(Base):
    """One step on a transfer's timeline as one local area saw it: content-free (a kind,
    an actor id and role, an envelope id, a few codes), readable by auditors too."""

    __tablename__ = "transfer_events"
    __table_args__ = (
        Index("ix_transfer_events_transfer", "transfer_id", "area_code"),
        # "Your work": the area's recent steps of a kind (repeat incidents), 0023.
        Index("ix_transfer_events_area_kind_at", "area_code", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transfer_id: Mapped[str] = mapped_column(String(36))
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(48))
    actor: Mapped[str | None] = mapped_column(Text)  # JSON {kind, id, role}
    envelope_id: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[str | None] = mapped_column(Text)  # JSON of codes, never content


class TransferDocument(Base):
    """A document sent or received in reply to a transfer, as one area holds it: metadata
    only. Its bytes live only inside the sealed envelope, whose id is the document's id."""

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_transfer", "transfer_id", "area_code"),)

    document_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), primary_key=True)
    transfer_id: Mapped[str] = mapped_column(String(36))
    direction: Mapped[str] = mapped_column(String(8))  # inbound | outbound
    kind: Mapped[str] = mapped_column(String(32))
    media_type: Mapped[str] = mapped_column(String(100))  # as detected from the bytes
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    answers: Mapped[str | None] = mapped_column(String(36))  # an information request id
    created_at: Mapped[datetime]


class PromisedDocument(Base):
    """A document an outbound transfer said would follow, and by when (transfer_request
    version 2 `documents.to_follow`, seed 000 4.24.2), as the sending area holds it: a
    document kind code and a date, nothing personal. `reminded_at` records the one
    reminder the worker sends once the date has passed without a document of that kind."""

    __tablename__ = "promised_documents"
    __table_args__ = (Index("ix_promised_documents_due", "reminded_at", "due"),)

    transfer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    due: Mapped[date] = mapped_column(Date)
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)


class InformationRequest(Base):
    """The receiving area asked the sending area for documents, as one area holds it.
    Content-free: what was asked for are document kinds; the note stays sealed."""

    __tablename__ = "information_requests"
    __table_args__ = (Index("ix_information_requests_transfer", "transfer_id", "area_code"),)

    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # its envelope id
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), primary_key=True)
    transfer_id: Mapped[str] = mapped_column(String(36))
    direction: Mapped[str] = mapped_column(String(8))  # outbound: we asked; inbound: asked of us
    what: Mapped[str] = mapped_column(String(200))  # document kinds, comma-separated
    status: Mapped[str] = mapped_column(String(16))  # open | answered
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(36))  # the first answering document


class ForwardPermission(Base):
    """The originating area's permission to pass a received case on to a third area, as
    each side recorded it (DESIGN section 2: what was shared stays the originator's).
    Keyed by the request envelope's id and the local area; content-free (the reason and
    the names stay sealed in the envelopes)."""

    __tablename__ = "forward_permissions"
    __table_args__ = (
        Index("ix_forward_permissions_transfer", "transfer_id", "area_code"),
        # "Your work": the area's requests still waiting for an answer, 0023.
        Index("ix_forward_permissions_area_status", "area_code", "status"),
    )

    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), primary_key=True)
    transfer_id: Mapped[str] = mapped_column(String(36))
    forward_to: Mapped[str] = mapped_column(String(63))
    status: Mapped[str] = mapped_column(String(16))  # requested | granted | refused
    requested_at: Mapped[datetime]
    answer_id: Mapped[str | None] = mapped_column(String(36))
    answered_at: Mapped[datetime | None]
    # The outbound transfer that used this grant: one grant, one forward.
    used_by: Mapped[str | None] = mapped_column(String(36))


class TransferAccess(Base):
    """A user the receiving area named as allowed to open a restricted transfer."""

    __tablename__ = "transfer_access"

    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfers.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    named_by: Mapped[str] = mapped_column(String(100))  # an actor id, never a name
    named_at: Mapped[datetime]


class Notification(Base):
    """An email to a local area's coordinator mailbox (or its chairs, by kind), queued in
    the transaction of the event it announces and sent by the worker, so a mail-server
    outage loses nothing. Holds no text and no address: the wording is fixed per `kind`
    and carries no personal data; `dedup` makes a reminder at most once per transfer and
    day, even across restarts and workers."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("area_code", "dedup", name="uq_notifications_area_dedup"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"))
    kind: Mapped[str] = mapped_column(String(32))
    transfer_id: Mapped[str | None] = mapped_column(String(36))
    dedup: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | not_sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # The event concerns an urgent transfer: the email may say "urgent", nothing more.
    urgent: Mapped[bool | None] = mapped_column(Boolean, default=None)


class OutboxItem(Base):
    """A sealed envelope waiting to be delivered. Written in the same transaction as the
    transfer row, so a crash can never leave one without the other."""

    __tablename__ = "outbox"
    # The claim's whole order (next attempt, then id): a claim stops at its limit.
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    envelope_pk: Mapped[int] = mapped_column(ForeignKey("envelopes.pk"), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # The request that queued it (X-Request-ID), for the worker's log lines.
    request_id: Mapped[str | None] = mapped_column(String(128))


class UsedToken(Base):
    """Request-token ids already accepted, kept until the token would have expired."""

    __tablename__ = "used_tokens"

    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(63))
    expires_at: Mapped[datetime] = mapped_column(index=True)


# --- The disclosure audit (DESIGN section 7) ------------------------------------------------
# Append-only: triggers refuse UPDATE and DELETE on audit_events, audit_checkpoints and
# audit_cosignatures on both backends (migration 0003), and the session refuses to flush a
# change to them (adapters.db.session). Nothing here holds personal data.


class AuditHead(Base):
    """Where each area's log stands: its size and the frontier (the roots of its perfect
    subtrees), so an append reads one row. Derived data: `audit verify` recomputes it."""

    __tablename__ = "audit_heads"

    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    frontier: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime]


class AuditEvent(Base):
    """One leaf of an area's RFC 9162 Merkle log. `leaf` is the canonical JSON that was
    hashed; `subtrees` holds the hashes of the perfect subtrees this leaf completed (levels
    1..k), so roots and proofs never need the whole tree. `action` and `at` repeat the leaf
    for indexed queries; verification checks they agree with it."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_area_at", "area_code", "at"),
        # The audit list filtered by action, oldest first (migration 0020).
        Index("ix_audit_events_area_action_seq", "area_code", "action", "seq"),
    )

    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    subtrees: Mapped[bytes] = mapped_column(LargeBinary)
    action: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class AuditSalt(Base):
    """The salt of a leaf's commitment to personal data, sealed under the master key.
    Deleting it at retention crypto-shreds the commitment: the leaf stays and verifies,
    but can no longer be linked to anyone."""

    __tablename__ = "audit_salts"

    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    envelope_id: Mapped[str | None] = mapped_column(String(36), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class AuditCheckpoint(Base):
    """A signed statement by an area of its log's size and root at a moment."""

    __tablename__ = "audit_checkpoints"
    __table_args__ = (Index("ix_audit_checkpoints_area_size", "area_code", "size"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"))
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    key_id: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(Text)  # the signed JSON, byte for byte
    issued_at: Mapped[datetime]


class PeerCheckpoint(Base):
    """A checkpoint a peer area signed and we verified and kept: the reference point from
    which later consistency proofs expose any rewrite or truncation of the peer's log."""

    __tablename__ = "peer_checkpoints"
    __table_args__ = (
        UniqueConstraint("peer_area", "size", "root", name="uq_peer_checkpoints_statement"),
        Index("ix_peer_checkpoints_peer_size", "peer_area", "size"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    peer_area: Mapped[str] = mapped_column(String(63))
    local_area: Mapped[str] = mapped_column(ForeignKey("areas.code"))
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    document: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime]
    received_at: Mapped[datetime]
    # When a consistency proof from this checkpoint to a later one last verified.
    verified_at: Mapped[datetime | None]


class AuditRestore(Base):
    """A signed declaration that an area's log was restored from a backup at `size`: every
    checkpoint of a larger size that the area signed at or before `issued_at` described entries
    the restore lost. Kept for our own areas (sent with evidence) and for peers (so their
    lost checkpoints are not taken for a fork). Append-only like the log."""

    __tablename__ = "audit_restores"
    __table_args__ = (
        UniqueConstraint("area_code", "issued_at", name="uq_audit_restores_area_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    area_code: Mapped[str] = mapped_column(String(63))  # a local area or a peer
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    document: Mapped[str] = mapped_column(Text)  # the signed JSON, byte for byte
    issued_at: Mapped[datetime]
    received_at: Mapped[datetime]


class AuditCosignature(Base):
    """A peer's co-signature (witness statement) over one of our areas' checkpoints."""

    __tablename__ = "audit_cosignatures"
    __table_args__ = (
        UniqueConstraint("area_code", "witness_area", "size", name="uq_audit_cosignatures_wit"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"))
    witness_area: Mapped[str] = mapped_column(String(63))
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    document: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]


# --- identity and access --------------------------------------------------------


class User(Base):
    """A person who signs in. The id is opaque and is what logs and audit events name; the
    email is staff contact data, stored lowercased for lookup and never logged."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Deferred: loading a user for a login step never reads (or debug-logs) the email.
    email: Mapped[str] = mapped_column(String(320), unique=True, deferred=True)
    # The name an admin gave when adding the person (staff contact data, like the email):
    # shown on the admin's pages only, never logged; deferred for the same reason.
    name: Mapped[str | None] = mapped_column(String(200), deferred=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    totp_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_confirmed_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]


class UserRole(Base):
    """One role in one area; a user on a shared node may hold several."""

    __tablename__ = "user_roles"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[datetime]


class Invitation(Base):
    """A single-use link with which a person sets their password and enrols their second
    factor: at first sign-in, or after an admin reset a lost second factor. Only the
    token's keyed digest is stored; the link is shown once to the admin (and mailed)."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"))
    purpose: Mapped[str] = mapped_column(String(16))  # welcome | reset
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class RecoveryCode(Base):
    """A single-use second-factor code, kept only as a keyed digest."""

    __tablename__ = "recovery_codes"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    used_at: Mapped[datetime | None]


class WebSession(Base):
    """A server-side browser session. The cookie holds a random id; only its keyed digest
    is stored, so a copy of this table cannot be replayed as cookies."""

    __tablename__ = "web_sessions"

    id_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))  # anonymous | password | enrol | full
    data: Mapped[str] = mapped_column(Text)  # JSON: CSRF secret, OIDC state; no personal data
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)  # the absolute limit


class ApiClient(Base):
    """A machine client (a case-management system) of one area, with its granted scopes."""

    __tablename__ = "api_clients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), index=True)
    scopes: Mapped[str] = mapped_column(String(500))
    secret_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class TokenKey(Base):
    """The node's access-token signing key; the private half sealed under the master key."""

    __tablename__ = "token_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    public: Mapped[bytes] = mapped_column(LargeBinary(32))
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class RateCounter(Base):
    """A fixed-window counter per opaque key (a digest; never an address or an email)."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer)


# --- shared flags (DESIGN section 6) ---------------------------------------------------------


class Flag(Base):
    """A case flagged by one area for 12 calendar months after its last review. The
    subjects are sealed under the master key (bound to the area and flag id); the row
    itself is a case reference, dates and codes."""

    __tablename__ = "flags"
    __table_args__ = (
        UniqueConstraint("area_code", "case_ref", name="uq_flags_area_case_ref"),
        # The flags list, soonest expiry first, keyset (expires_at, id), with and without
        # a status filter (migration 0020).
        Index("ix_flags_area_expires", "area_code", "expires_at", "id"),
        Index("ix_flags_area_status_expires", "area_code", "status", "expires_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"))
    # None once purged (retention): the area's case reference ties the row to a person.
    case_ref: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))  # active | expired | cleared
    reviewed_at: Mapped[date] = mapped_column(Date)
    expires_at: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16))  # local | transfer
    transfer_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # Where the case came from (source transfer) and that area's case reference.
    origin_area: Mapped[str | None] = mapped_column(String(63))
    origin_case_ref: Mapped[str | None] = mapped_column(String(100))
    # Where the case now sits, when it moved to another area (learnt from flag notices).
    held_by: Mapped[str | None] = mapped_column(String(63))
    # What the flag index knows this flag by: the public half of a key pair made for
    # this flag alone (random, never derived from anything), to which a querier with a
    # possible match seals its verification request. The secret half is sealed here.
    index_ref: Mapped[str] = mapped_column(String(43), unique=True)
    verify_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    subject_roles: Mapped[str] = mapped_column(String(200))  # e.g. "victim,child"
    subjects_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The index has not yet heard the flag's current state (the worker retries).
    index_dirty: Mapped[bool] = mapped_column(Boolean, default=True)
    # The linkage token spaces its tokens were derived under, e.g. "2,1"; None: "1" (set
    # before token spaces were recorded). The worker re-derives flags whose spaces differ
    # from this release's.
    token_spaces: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Retention purged the subjects, references, tokens and verification requests.
    purged_at: Mapped[datetime | None]


class FlagToken(Base):
    """A flag's linkage tokens, kept by the flagging area for its own lookups."""

    __tablename__ = "flag_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flag_id: Mapped[str] = mapped_column(ForeignKey("flags.id"), index=True)
    token: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # strong | weak
    shared: Mapped[bool] = mapped_column(Boolean)  # published to the index (area policy)


class FlagVerification(Base):
    """A verification request another area sent about one of our flags (relayed by the
    index): who asked and when; the request itself sealed under the master key."""

    __tablename__ = "flag_verifications"
    __table_args__ = (Index("ix_flag_verifications_area", "area_code", "received_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"))
    flag_id: Mapped[str] = mapped_column(ForeignKey("flags.id"))
    from_area: Mapped[str] = mapped_column(String(63))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime]
    # The holder's answer (`confirmed` or `not_a_match`), once, sealed to the asker's reply key.
    answer: Mapped[str | None] = mapped_column(String(16), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(nullable=True)


class FlagVerificationSent(Base):
    """A verification request this area sent: the one-time reply key's secret half (sealed
    under the master key) and, once it came back through the index, the holder's answer
    (the answer itself sealed under the master key: on `confirmed` it names the holder)."""

    __tablename__ = "flag_verifications_sent"
    __table_args__ = (Index("ix_flag_verifications_sent_area", "area_code", "sent_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"))
    reply_secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    sent_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(String(16), nullable=True)
    answer_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(nullable=True)


class IndexRelay(Base):
    """The flag index role: which area asked and which holds, per relayed request, so that
    the holder's sealed answer can go back by the request's id (and only once)."""

    __tablename__ = "index_relays"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    asker: Mapped[str] = mapped_column(String(63))
    holder: Mapped[str] = mapped_column(String(63))
    via: Mapped[str] = mapped_column(String(63))  # the index's own area the asker addressed
    relayed_at: Mapped[datetime]
    answered_at: Mapped[datetime | None] = mapped_column(nullable=True)


class IndexToken(Base):
    """The flag index role: an active token, the area holding it, the area's opaque
    reference for the flag and the expiry. Never an identity."""

    __tablename__ = "index_tokens"
    __table_args__ = (Index("ix_index_tokens_area_ref", "area", "ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    area: Mapped[str] = mapped_column(String(63))
    ref: Mapped[str] = mapped_column(String(43))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LinkageKey(Base):
    """The linkage authority role: its OPRF key, sealed under the master key."""

    __tablename__ = "linkage_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]

"""One gateway node: its settings and the adapters its services are handed (DESIGN section
3: only the app factory wires adapters to services; the CLI and the worker build a node the
same way)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from adapters.db import make_engine, make_session_factory
from adapters.mail import Mailer, MailSettings
from adapters.peer_client import PeerClient
from gateway.config import Settings
from gateway.domain.federation.delivery import DeliveryPolicy
from gateway.domain.flags.roles import RoleAt, Roles
from gateway.domain.identity.rate_limits import RateLimit
from keys import MasterKey
from schemas.wire import payload_versions

# Request body limits. The floor for any body; an envelope may carry a sealed document and
# so needs more, and the upload route takes one document plus its multipart framing.
MAX_BODY_BYTES = 32 * 1024 * 1024
# Multipart boundaries, part headers and the small form fields beside the file.
MULTIPART_ROOM = 64 * 1024
# Header, evidence and the payload's own fields around the document's bytes.
ENVELOPE_ROOM = 256 * 1024


def upload_limit(document_max_bytes: int) -> int:
    return document_max_bytes + MULTIPART_ROOM


def envelope_limit(document_max_bytes: int) -> int:
    """The largest envelope a peer may send us: the bytes base64url'd into the payload,
    sealed (16 bytes of tag), and the ciphertext base64url'd again."""
    payload = -(-document_max_bytes // 3) * 4 + ENVELOPE_ROOM
    return -(-(payload + 16) // 3) * 4 + ENVELOPE_ROOM


def body_limit(document_max_bytes: int) -> int:
    """The largest body any route takes: the floor, or an envelope carrying a document."""
    return max(MAX_BODY_BYTES, envelope_limit(document_max_bytes))


@dataclass
class Node:
    """One gateway node: settings plus the adapters its services are handed."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    _master: MasterKey | None = None
    _client: PeerClient | None = None
    _mailer: Mailer | None = None

    @property
    def master(self) -> MasterKey:
        if self._master is None:
            self._master = MasterKey.load_file(self.settings.master_key_file)
        return self._master

    @property
    def client(self) -> PeerClient:
        if self._client is None:
            verify: bool | str = self.settings.peer_ca_bundle or True
            self._client = PeerClient(timeout=self.settings.peer_timeout, verify=verify)
        return self._client

    @property
    def mailer(self) -> Mailer | None:
        """The SMTP adapter, or None when no GATEWAY_SMTP_HOST is set."""
        s = self.settings
        if self._mailer is None and s.smtp_host:
            self._mailer = Mailer(
                MailSettings(
                    host=s.smtp_host,
                    port=s.smtp_port,
                    sender=s.smtp_from,
                    starttls=s.smtp_starttls,
                    user=s.smtp_user,
                    password=s.smtp_password,
                )
            )
        return self._mailer

    @property
    def delivery_policy(self) -> DeliveryPolicy:
        s = self.settings
        return DeliveryPolicy(
            s.delivery_backoff_base, s.delivery_backoff_cap, s.delivery_max_age, s.delivery_lease
        )

    @property
    def flag_roles(self) -> Roles:
        s = self.settings
        return Roles(
            authority=RoleAt.parse(s.linkage_authority) if s.linkage_authority else None,
            index=RoleAt.parse(s.flag_index) if s.flag_index else None,
            sessions=self.sessions,
            master=self.master,
            client=self.client,
            role_limit=RateLimit.parse(s.linkage_rate_limit),
        )

    @property
    def lookup_limit(self) -> RateLimit:
        return RateLimit.parse(self.settings.lookup_rate_limit)

    @property
    def accepts(self) -> payload_versions.Accepts:
        """The payload versions this node accepts and lists in its areas' bundles."""
        return payload_versions.accepted(self.settings.payload_version_caps)

    @property
    def key_grace(self) -> timedelta:
        return timedelta(days=self.settings.key_grace_days)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self.engine.dispose()


def build_node(settings: Settings) -> Node:
    # Owner-only: the folder holds the database file and, by default, the master key.
    settings.instance_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    return Node(settings=settings, engine=engine, sessions=make_session_factory(engine))

"""The application factory and the one place where adapters are wired to services."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from adapters.db import make_engine, make_session_factory
from adapters.mail import Mailer, MailSettings
from adapters.peer_client import PeerClient
from gateway.config import ConfigError, Settings
from gateway.domain.federation.delivery import DeliveryPolicy
from gateway.domain.flags.roles import RoleAt, Roles
from gateway.domain.identity.rate_limits import RateLimit
from keys import MasterKey

# The floor for any request body; federation bodies carry sealed documents and may need
# more (gateway.web.uploads.envelope_limit of the document limit).
MAX_BODY_BYTES = 32 * 1024 * 1024


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
    def key_grace(self) -> timedelta:
        return timedelta(days=self.settings.key_grace_days)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self.engine.dispose()


def build_node(settings: Settings) -> Node:
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    return Node(settings=settings, engine=engine, sessions=make_session_factory(engine))


def create_app(settings: Settings, node: Node | None = None) -> Flask:
    settings.check_web()
    node = node or build_node(settings)
    from gateway.web.uploads import (
        UPLOAD_LIMIT_KEY,
        GatewayRequest,
        envelope_limit,
        upload_limit,
    )

    app = Flask(__name__, instance_path=str(settings.instance_dir))
    app.request_class = GatewayRequest
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=max(MAX_BODY_BYTES, envelope_limit(settings.document_max_bytes)),
        **{UPLOAD_LIMIT_KEY: upload_limit(settings.document_max_bytes)},
        SESSION_COOKIE_NAME="__Host-gw-session",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.extensions["gateway.node"] = node

    from adapters.oidc import OidcConfigError, load_config_file, register_providers
    from gateway.cli import register_cli
    from gateway.security import install_guard
    from gateway.web.api import api
    from gateway.web.errors import install_error_handlers
    from gateway.web.federation import federation
    from gateway.web.health import health
    from gateway.web.sessions import DatabaseSessionInterface
    from gateway.web.ui import ui

    try:
        providers = load_config_file(settings.oidc_config_file) if settings.oidc_config_file else {}
    except OidcConfigError as exc:
        raise ConfigError(f"GATEWAY_OIDC_CONFIG: {exc}") from exc
    app.extensions["gateway.oidc"] = register_providers(app, providers)
    app.session_interface = DatabaseSessionInterface(node)
    install_error_handlers(app)
    install_guard(app)
    app.register_blueprint(health)
    app.register_blueprint(federation)
    app.register_blueprint(api)
    app.register_blueprint(ui)
    register_cli(app)
    logging.getLogger("gateway").setLevel(logging.INFO)
    return app

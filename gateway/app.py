"""The application factory: builds the Flask app for one node (DESIGN section 3)."""

from __future__ import annotations

import logging

from flask import Flask

from adapters.oidc import OidcConfigError, load_config_file, register_providers
from gateway.cli import register_cli
from gateway.config import ConfigError, Settings
from gateway.node import Node, body_limit, build_node, upload_limit
from gateway.web.api import api
from gateway.web.errors import install_error_handlers
from gateway.web.federation import federation
from gateway.web.guard import install_guard
from gateway.web.health import health
from gateway.web.limits import install_limits
from gateway.web.outage import install_outage_handler
from gateway.web.problems import problems
from gateway.web.request_ids import install_request_ids
from gateway.web.sessions import DatabaseSessionInterface
from gateway.web.ui import ui
from gateway.web.ui.about import about
from gateway.web.ui.admin import admin
from gateway.web.ui.auditing import auditing
from gateway.web.ui.cases import cases
from gateway.web.ui.chair import chair
from gateway.web.ui.flags import flags
from gateway.web.ui.layout import install_layout
from gateway.web.ui.outbound import outbound
from gateway.web.ui.pages import install_page_helpers
from gateway.web.ui.people import people_pages
from gateway.web.ui.send import send
from gateway.web.ui.welcome import welcome
from gateway.web.ui.work import work
from gateway.web.uploads import UPLOAD_LIMIT_KEY, GatewayRequest


def create_app(settings: Settings, node: Node | None = None) -> Flask:
    settings.check_web()
    node = node or build_node(settings)
    app = Flask(__name__, instance_path=str(settings.instance_dir), static_folder="web/static")
    app.request_class = GatewayRequest
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=body_limit(settings.document_max_bytes),
        **{UPLOAD_LIMIT_KEY: upload_limit(settings.document_max_bytes)},
        SESSION_COOKIE_NAME="__Host-gw-session",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.extensions["gateway.node"] = node
    try:
        providers = load_config_file(settings.oidc_config_file) if settings.oidc_config_file else {}
    except OidcConfigError as exc:
        raise ConfigError(f"GATEWAY_OIDC_CONFIG: {exc}") from exc
    app.extensions["gateway.oidc"] = register_providers(app, providers)
    app.session_interface = DatabaseSessionInterface(node)
    install_layout(app)
    install_page_helpers(app)
    install_error_handlers(app)
    install_limits(app)
    install_outage_handler(app)
    install_request_ids(app)
    install_guard(app)
    app.register_blueprint(health)
    app.register_blueprint(federation)
    app.register_blueprint(api)
    app.register_blueprint(ui)
    app.register_blueprint(send)
    app.register_blueprint(cases)
    app.register_blueprint(work)
    app.register_blueprint(chair)
    app.register_blueprint(flags)
    app.register_blueprint(outbound)
    app.register_blueprint(admin)
    app.register_blueprint(people_pages)
    app.register_blueprint(welcome)
    app.register_blueprint(problems)
    app.register_blueprint(auditing)
    app.register_blueprint(about)
    # The CLI is handed the factory (for `serve`) rather than importing it back.
    register_cli(app, create_app)
    logging.getLogger("gateway").setLevel(logging.INFO)
    return app

"""Settings from the environment (DESIGN section 4). One node, one set of settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.domain.identity.rate_spec import RateLimit


class ConfigError(Exception):
    """A setting is missing or unsafe; the message says which and why."""


MIN_SECRET_LENGTH = 32

# Every variable the node reads. Anything else named GATEWAY_* is refused at start-up (a
# typo would otherwise leave a setting at its default unnoticed), except the prefixes the
# test suite and the benchmarks use for their own database URLs.
KNOWN_VARIABLES = frozenset(
    {
        "GATEWAY_ENV",
        "GATEWAY_INSTANCE_DIR",
        "GATEWAY_DATABASE_URL",
        "GATEWAY_MASTER_KEY_FILE",
        "GATEWAY_SECRET_KEY",
        "GATEWAY_BASE_URL",
        "GATEWAY_LINKAGE_AUTHORITY",
        "GATEWAY_FLAG_INDEX",
        "GATEWAY_LOOKUP_RATE_LIMIT",
        "GATEWAY_LINKAGE_RATE_LIMIT",
        "GATEWAY_DELIVERY_BACKOFF",
        "GATEWAY_DELIVERY_BACKOFF_CAP",
        "GATEWAY_DELIVERY_MAX_AGE",
        "GATEWAY_DELIVERY_LEASE",
        "GATEWAY_WORKER_POLL",
        "GATEWAY_PEER_TIMEOUT",
        "GATEWAY_PEER_CA_BUNDLE",
        "GATEWAY_KEY_GRACE_DAYS",
        "GATEWAY_BUNDLE_REFRESH",
        "GATEWAY_RETENTION_MONTHS",
        "GATEWAY_SESSION_IDLE_TIMEOUT",
        "GATEWAY_SESSION_ABSOLUTE_TIMEOUT",
        "GATEWAY_LOGIN_MAX_FAILURES",
        "GATEWAY_LOGIN_LOCKOUT",
        "GATEWAY_LOGIN_RATE_LIMIT",
        "GATEWAY_ACCESS_TOKEN_LIFETIME",
        "GATEWAY_OIDC_CONFIG",
        "GATEWAY_DOCUMENT_MAX_BYTES",
        "GATEWAY_SMTP_HOST",
        "GATEWAY_SMTP_PORT",
        "GATEWAY_SMTP_FROM",
        "GATEWAY_SMTP_STARTTLS",
        "GATEWAY_SMTP_USER",
        "GATEWAY_SMTP_PASSWORD",
        "GATEWAY_LOG_FORMAT",
        "GATEWAY_PROBLEM_BASE_URI",
        "GATEWAY_PAYLOAD_VERSIONS",
        "GATEWAY_TRUSTED_PROXIES",
        "GATEWAY_METRICS_TOKEN",
        "GATEWAY_GUNICORN_CONFIG",
    }
)
# Secrets may instead be read from a file named by <NAME>_FILE, as container platforms
# mount them (the file's content, without a trailing newline).
SECRET_VARIABLES = (
    "GATEWAY_SECRET_KEY",
    "GATEWAY_DATABASE_URL",
    "GATEWAY_SMTP_PASSWORD",
    "GATEWAY_METRICS_TOKEN",
)
RESERVED_PREFIXES = ("GATEWAY_TEST_", "GATEWAY_BENCH_")


def unknown_variables(env: Mapping[str, str]) -> list[str]:
    allowed = KNOWN_VARIABLES | {name + "_FILE" for name in SECRET_VARIABLES}
    return sorted(
        name
        for name in env
        if name.startswith("GATEWAY_")
        and name not in allowed
        and not name.startswith(RESERVED_PREFIXES)
    )


def with_secret_files(env: Mapping[str, str]) -> dict[str, str]:
    """The environment with each `<NAME>_FILE` read into `<NAME>`; both set is an error."""
    merged = dict(env)
    for name in SECRET_VARIABLES:
        path = env.get(name + "_FILE")
        if not path:
            continue
        if env.get(name):
            raise ConfigError(f"set {name} or {name}_FILE, not both")
        try:
            merged[name] = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"{name}_FILE: cannot read {path} ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{name}_FILE: {path} is not UTF-8 text") from None
    return merged


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be positive")
    return value


def _rate(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name) or default
    try:
        RateLimit.parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from exc
    return raw


def _role(env: Mapping[str, str], name: str) -> str | None:
    """`<area>@<base URL>` of the node playing a flag role; unset: this node plays it."""
    from gateway.domain.flags.roles import RoleAt

    raw = env.get(name) or None
    if raw is None:
        return None
    try:
        RoleAt.parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from exc
    return raw


@dataclass(frozen=True)
class Settings:
    instance_dir: Path
    database_url: str
    master_key_file: Path
    secret_key: str | None
    base_url: str
    environment: str = "production"
    linkage_authority: str | None = None
    flag_index: str | None = None
    lookup_rate_limit: str = "120/minute"
    # Per calling area, at the linkage authority (evaluations) and the flag index (matches).
    linkage_rate_limit: str = "600/minute"
    # Delivery: exponential backoff with jitter, then give up loudly after max age.
    delivery_backoff_base: float = 5.0
    delivery_backoff_cap: float = 900.0
    delivery_max_age: float = 24 * 3600.0
    delivery_lease: float = 120.0
    worker_poll_interval: float = 2.0
    peer_timeout: float = 15.0
    peer_ca_bundle: str | None = None
    key_grace_days: float = 30.0
    # Seconds between the worker's fetches of each peer's published bundle, which pick up
    # a rotation its pinned key endorsed (docs/contract.md).
    bundle_refresh: float = 4 * 3600.0
    # Case content is purged this many months after the case's last activity, unless the
    # area sets its own period.
    retention_months: int = 12
    # Identity and access.
    session_idle_timeout: float = 30 * 60.0
    session_absolute_timeout: float = 12 * 3600.0
    login_max_failures: int = 5
    login_lockout: float = 15 * 60.0
    login_rate_limit: str = "20/10minutes"
    access_token_lifetime: float = 600.0
    oidc_config_file: Path | None = None
    # "json": one JSON object per log line; "text": the classic human-readable line.
    log_format: str = "json"
    # Documents: the largest file this node sends or accepts.
    document_max_bytes: int = 20 * 1024 * 1024
    # Notifications: no host means they are recorded as not sent.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "marac-gateway@localhost"
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    # Where problem `type` URIs point; none: this node's own /problems/ pages.
    problem_base_uri: str | None = None
    # Payload type -> the newest version this node accepts and advertises, below the
    # newest this release understands (a staged roll-out; docs/contract.md). Empty: all.
    payload_version_caps: Mapping[str, int] = field(default_factory=dict)
    # How many reverse proxies in front of the node set X-Forwarded-For/-Proto; 0: none,
    # the socket's address is the client's (a forwarded header is then ignored, since
    # anyone could send one).
    trusted_proxies: int = 0
    # The bearer token a scraper shows for /metrics; none: /metrics is refused.
    metrics_token: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = with_secret_files(os.environ if env is None else env)
        instance = Path(env.get("GATEWAY_INSTANCE_DIR", "instance")).resolve()
        return cls(
            instance_dir=instance,
            database_url=env.get("GATEWAY_DATABASE_URL") or f"sqlite:///{instance / 'gateway.db'}",
            master_key_file=Path(env.get("GATEWAY_MASTER_KEY_FILE") or instance / "master.key"),
            secret_key=env.get("GATEWAY_SECRET_KEY") or None,
            base_url=(env.get("GATEWAY_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
            environment=env.get("GATEWAY_ENV", "production"),
            linkage_authority=_role(env, "GATEWAY_LINKAGE_AUTHORITY"),
            flag_index=_role(env, "GATEWAY_FLAG_INDEX"),
            lookup_rate_limit=_rate(env, "GATEWAY_LOOKUP_RATE_LIMIT", "120/minute"),
            linkage_rate_limit=_rate(env, "GATEWAY_LINKAGE_RATE_LIMIT", "600/minute"),
            delivery_backoff_base=_float(env, "GATEWAY_DELIVERY_BACKOFF", 5.0),
            delivery_backoff_cap=_float(env, "GATEWAY_DELIVERY_BACKOFF_CAP", 900.0),
            delivery_max_age=_float(env, "GATEWAY_DELIVERY_MAX_AGE", 24 * 3600.0),
            delivery_lease=_float(env, "GATEWAY_DELIVERY_LEASE", 120.0),
            worker_poll_interval=_float(env, "GATEWAY_WORKER_POLL", 2.0),
            peer_timeout=_float(env, "GATEWAY_PEER_TIMEOUT", 15.0),
            peer_ca_bundle=env.get("GATEWAY_PEER_CA_BUNDLE") or None,
            key_grace_days=_float(env, "GATEWAY_KEY_GRACE_DAYS", 30.0),
            bundle_refresh=_float(env, "GATEWAY_BUNDLE_REFRESH", 4 * 3600.0),
            retention_months=_months(env, "GATEWAY_RETENTION_MONTHS", 12),
            session_idle_timeout=_float(env, "GATEWAY_SESSION_IDLE_TIMEOUT", 30 * 60.0),
            session_absolute_timeout=_float(env, "GATEWAY_SESSION_ABSOLUTE_TIMEOUT", 12 * 3600.0),
            login_max_failures=int(_float(env, "GATEWAY_LOGIN_MAX_FAILURES", 5)),
            login_lockout=_float(env, "GATEWAY_LOGIN_LOCKOUT", 15 * 60.0),
            login_rate_limit=_rate(env, "GATEWAY_LOGIN_RATE_LIMIT", "20/10minutes"),
            access_token_lifetime=_float(env, "GATEWAY_ACCESS_TOKEN_LIFETIME", 600.0),
            oidc_config_file=Path(env["GATEWAY_OIDC_CONFIG"])
            if env.get("GATEWAY_OIDC_CONFIG")
            else None,
            document_max_bytes=int(
                _float(env, "GATEWAY_DOCUMENT_MAX_BYTES", float(20 * 1024 * 1024))
            ),
            log_format=_log_format(env),
            **_smtp(env),
            problem_base_uri=_problem_base(env),
            payload_version_caps=_version_caps(env.get("GATEWAY_PAYLOAD_VERSIONS") or ""),
            trusted_proxies=_hops(env, "GATEWAY_TRUSTED_PROXIES"),
            metrics_token=env.get("GATEWAY_METRICS_TOKEN") or None,
        )

    @property
    def development(self) -> bool:
        return self.environment == "development"

    def check_web(self) -> None:
        """The web app refuses to start with a missing or weak secret outside development."""
        if self.development:
            return
        secret = self.secret_key or ""
        if len(secret) < MIN_SECRET_LENGTH or len(set(secret)) < 10:
            raise ConfigError(
                "GATEWAY_SECRET_KEY is missing or weak: use at least 32 random characters "
                "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.metrics_token is not None and len(self.metrics_token) < MIN_SECRET_LENGTH:
            raise ConfigError("GATEWAY_METRICS_TOKEN must be at least 32 random characters")
        if not 60 <= self.access_token_lifetime <= 3600:
            raise ConfigError("GATEWAY_ACCESS_TOKEN_LIFETIME must be 60-3600 seconds")
        if self.session_idle_timeout > self.session_absolute_timeout:
            raise ConfigError("the session idle timeout must not exceed the absolute timeout")
        if self.delivery_lease <= self.peer_timeout:
            raise ConfigError("GATEWAY_DELIVERY_LEASE must exceed GATEWAY_PEER_TIMEOUT")


def _version_caps(raw: str) -> dict[str, int]:
    """`transfer_request=1,acknowledgement=1`: the newest version accepted per type."""
    # Here, not at the top: the settings are read before `--help` answers, and the payload
    # schemas (marshmallow) are not needed to start the command line.
    from schemas.wire import payload_versions

    caps: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        kind, _, number = item.partition("=")
        versions = payload_versions.REGISTRY.get(kind.strip())
        if versions is None or not number.strip().isdigit():
            raise ConfigError(
                "GATEWAY_PAYLOAD_VERSIONS must read like transfer_request=1 (known payload "
                f"types, comma separated); {item!r} is not"
            )
        if not 1 <= int(number) <= versions.newest:
            raise ConfigError(
                f"GATEWAY_PAYLOAD_VERSIONS: {kind.strip()} has versions 1 to {versions.newest}"
            )
        caps[kind.strip()] = int(number)
    return caps


def _log_format(env: Mapping[str, str]) -> str:
    value = (env.get("GATEWAY_LOG_FORMAT") or "json").lower()
    if value not in ("json", "text"):
        raise ConfigError("GATEWAY_LOG_FORMAT must be json or text")
    return value


def _hops(env: Mapping[str, str], name: str) -> int:
    raw = (env.get(name) or "0").strip()
    if not raw.isdigit() or int(raw) > 10:
        raise ConfigError(f"{name} must be a whole number of proxies, 0-10")
    return int(raw)


def _months(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of months") from None
    if not 1 <= value <= 1200:
        raise ConfigError(f"{name} must be between 1 and 1200 months")
    return value


def _problem_base(env: Mapping[str, str]) -> str | None:
    raw = (env.get("GATEWAY_PROBLEM_BASE_URI") or "").strip()
    if not raw:
        return None
    if not raw.startswith(("https://", "http://")):
        raise ConfigError("GATEWAY_PROBLEM_BASE_URI must be an http(s) URI")
    return raw if raw.endswith("/") else raw + "/"


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _smtp(env: Mapping[str, str]) -> dict[str, Any]:
    host = env.get("GATEWAY_SMTP_HOST") or None
    raw_port = env.get("GATEWAY_SMTP_PORT") or "25"
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        raise ConfigError("GATEWAY_SMTP_PORT must be a port number")
    starttls = (env.get("GATEWAY_SMTP_STARTTLS") or "").lower() in {"1", "true", "yes", "on"}
    user = env.get("GATEWAY_SMTP_USER") or None
    if user and host and not starttls and host not in LOOPBACK_HOSTS:
        raise ConfigError(
            "GATEWAY_SMTP_USER needs GATEWAY_SMTP_STARTTLS=1: the password would cross the "
            "network in clear"
        )
    sender = env.get("GATEWAY_SMTP_FROM") or "marac-gateway@localhost"
    if "@" not in sender or any(c in sender for c in "\r\n"):
        raise ConfigError("GATEWAY_SMTP_FROM must be an email address")
    return {
        "smtp_host": host,
        "smtp_port": int(raw_port),
        "smtp_from": sender,
        "smtp_starttls": starttls,
        "smtp_user": user,
        "smtp_password": env.get("GATEWAY_SMTP_PASSWORD") or None,
    }

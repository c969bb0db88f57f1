"""Areas' OpenID Connect identity providers, through Authlib's Flask client.

Each configured area becomes one Authlib client named `oidc-<area>`, discovering the
provider from `<issuer>/.well-known/openid-configuration`. Authlib checks `state` against
the (server-side) session, sends and checks the `nonce`, exchanges the code, and verifies
the ID token's signature against the provider's JWKS and its `iss`, `aud`, `exp` and
`nonce`. On top of that, `provider_client` refuses a discovery document whose issuer is
not the configured one and keeps only asymmetric signature algorithms.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask
from marshmallow import ValidationError

from schemas.oidc import OidcProvider, load_oidc_config

# Asymmetric algorithms only: an HMAC-signed ID token would be keyed with the client
# secret, which the provider and every copy of our settings share.
ID_TOKEN_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
)
TIMEOUT = 10


class OidcConfigError(ValueError):
    """The GATEWAY_OIDC_CONFIG file is unreadable or invalid; says where, not the values."""


class ProviderMisconfigured(Exception):
    """The provider's discovery document does not match what this node was told."""


def load_config_file(path: Path) -> dict[str, OidcProvider]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise OidcConfigError(f"{path}: no such file") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise OidcConfigError(f"{path}: not valid UTF-8 JSON") from exc
    try:
        return load_oidc_config(document)
    except ValidationError as exc:
        raise OidcConfigError(f"{path}: {json.dumps(exc.messages, sort_keys=True)}") from exc


@dataclass
class OidcProviders:
    oauth: OAuth | None = None
    providers: dict[str, OidcProvider] = field(default_factory=dict)

    def areas(self) -> list[str]:
        return sorted(self.providers)

    def provider_client(self, area: str) -> tuple[Any, OidcProvider] | None:
        provider = self.providers.get(area)
        if provider is None or self.oauth is None:
            return None
        client = self.oauth.create_client(_name(area))
        metadata = client.load_server_metadata()
        if metadata.get("issuer") != provider.issuer:
            raise ProviderMisconfigured("discovery issuer differs from the configured issuer")
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        metadata["id_token_signing_alg_values_supported"] = [
            alg for alg in offered if alg in ID_TOKEN_ALGORITHMS
        ]
        return client, provider


def _name(area: str) -> str:
    return f"oidc-{area}"


def register_providers(app: Flask, providers: dict[str, OidcProvider]) -> OidcProviders:
    if not providers:
        return OidcProviders()
    oauth = OAuth(app)
    for area, provider in providers.items():
        oauth.register(
            name=_name(area),
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            server_metadata_url=provider.issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={"scope": provider.scope, "timeout": TIMEOUT},
        )
    return OidcProviders(oauth, dict(providers))

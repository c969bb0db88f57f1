"""GATEWAY_OIDC_CONFIG: each area's identity provider, a JSON object keyed by area code.

    {"northshire": {"issuer": "https://login.northshire.example",
                    "client_id": "marac-gateway", "client_secret": "...",
                    "allowed_domains": ["northshire.example"],
                    "role_claim": "groups",
                    "role_mapping": {"marac-coordinators": "coordinator"},
                    "scope": "openid email profile"}}

`role_claim`/`role_mapping` are optional; when set, a session gets only the roles that
both this node and the provider's claim grant (see gateway/domain/users.py sso_login).
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from marshmallow import ValidationError, fields, post_load, validate

from schemas.api.access import ROLES
from schemas.common import AREA_CODE, MEDIUM, SHORT, StrictSchema, text

_DOMAIN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$"


@dataclass(frozen=True)
class OidcProvider:
    issuer: str
    client_id: str
    client_secret: str
    allowed_domains: tuple[str, ...]
    role_claim: str | None = None
    role_mapping: Mapping[str, str] = field(default_factory=dict)
    scope: str = "openid email profile"


def _issuer(value: str) -> None:
    """https, or plain http only on a loopback address (tests and demos)."""
    parts = urlsplit(value)
    if parts.query or parts.fragment or not parts.hostname:
        raise ValidationError("Give the issuer URL exactly as the provider publishes it.")
    if parts.scheme == "https":
        return
    loopback = parts.hostname == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(parts.hostname).is_loopback
    if parts.scheme != "http" or not loopback:
        raise ValidationError("The issuer must use https.")


class OidcProviderSchema(StrictSchema):
    issuer = fields.String(required=True, validate=[validate.Length(max=MEDIUM), _issuer])
    client_id = text(required=True)
    client_secret = text(MEDIUM, required=True)
    allowed_domains = fields.List(
        fields.String(validate=validate.Regexp(_DOMAIN, error="Not a lowercase domain.")),
        required=True,
        validate=validate.Length(min=1, max=50),
    )
    role_claim = text(allow_none=True, load_default=None)
    role_mapping = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=SHORT)),
        values=fields.String(validate=validate.OneOf(ROLES)),
        load_default=dict,
    )
    scope = fields.String(
        load_default="openid email profile",
        validate=validate.Regexp(r"^openid( [a-z_:]+)*$", error="Must start with openid."),
    )

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> OidcProvider:
        data["allowed_domains"] = tuple(data["allowed_domains"])
        if data["role_mapping"] and not data["role_claim"]:
            raise ValidationError("A role mapping needs a role_claim.", "role_claim")
        return OidcProvider(**data)


def load_oidc_config(document: Any) -> dict[str, OidcProvider]:
    """Validate the whole file; errors name the area and the field, never a value."""
    if not isinstance(document, dict):
        raise ValidationError({"_schema": ["Expected an object keyed by area code."]})
    problems: dict[str, Any] = {}
    loaded: dict[str, OidcProvider] = {}
    for area, body in document.items():
        if not isinstance(area, str) or not AREA_CODE.match(area):
            problems[str(area)[:63]] = ["Not a valid area code."]
            continue
        try:
            loaded[area] = OidcProviderSchema().load(body)
        except ValidationError as exc:
            problems[area] = exc.messages
    if problems:
        raise ValidationError(problems)
    return loaded

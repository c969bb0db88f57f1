"""An area's public bundle: what a peer pins after checking its fingerprint out of band."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import fields, post_load, validate

from schemas.common import B64Url, StrictSchema, UTCTimestamp, area_code, text
from schemas.wire.envelope import KEY_ID

BUNDLE_KIND = "peer_bundle"
_KEY = validate.Length(equal=43, error="Not a 32-byte key.")


@dataclass(frozen=True)
class BundleKey:
    key_id: str
    signing_key: str
    encryption_key: str
    valid_from: str
    valid_until: str | None = None


@dataclass(frozen=True)
class BundleBody:
    kind: str
    v: int
    area: str
    name: str
    url: str
    mailbox: str
    key_id: str
    signing_key: str
    encryption_key: str
    valid_from: str
    previous_keys: list[BundleKey] = field(default_factory=list)


@dataclass(frozen=True)
class Bundle:
    body: BundleBody
    sig: str


class BundleKeySchema(StrictSchema):
    key_id = fields.String(required=True, validate=KEY_ID)
    signing_key = B64Url(required=True, validate=_KEY)
    encryption_key = B64Url(required=True, validate=_KEY)
    valid_from = UTCTimestamp(required=True)
    valid_until = UTCTimestamp(required=True, allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> BundleKey:
        return BundleKey(**data)


class BundleBodySchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.Equal(BUNDLE_KIND))
    v = fields.Integer(required=True, strict=True, validate=validate.Equal(1))
    area = area_code(required=True)
    name = text(required=True)
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False)
    mailbox = fields.Email(required=True)
    key_id = fields.String(required=True, validate=KEY_ID)
    signing_key = B64Url(required=True, validate=_KEY)
    encryption_key = B64Url(required=True, validate=_KEY)
    valid_from = UTCTimestamp(required=True)
    # Keys retired by rotation that still verify until their `valid_until`.
    previous_keys = fields.List(
        fields.Nested(BundleKeySchema), load_default=list, validate=validate.Length(max=20)
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> BundleBody:
        return BundleBody(**data)


class BundleSchema(StrictSchema):
    body = fields.Nested(BundleBodySchema, required=True)
    sig = B64Url(required=True, validate=validate.Length(max=128))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Bundle:
        return Bundle(**data)

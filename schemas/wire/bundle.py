"""An area's public bundle: what a peer pins after checking its fingerprint out of band."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import EXCLUDE, ValidationError, fields, post_load, validate

from schemas.common import B64Url, StrictSchema, UTCTimestamp, area_code, text
from schemas.wire.envelope import KEY_ID
from schemas.wire.payload_versions import MAX_VERSION

BUNDLE_KIND = "peer_bundle"
# Statements a bundle carries beside its keys (docs/contract.md "Key rotation and
# revocation"): each a signed document of its own, made by the key it speaks for.
ROTATION_KIND = "key_rotation"
REVOCATION_KIND = "key_revocation"
MAX_STATEMENTS = 20
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
    # Payload type -> the versions the area's node accepts (docs/contract.md, "Payload
    # versions"); None: a node that predates the member, version 1 of everything.
    accepts: dict[str, list[int]] | None = None
    # Signed statements, kept as the documents they are (their signatures cover the
    # canonical body): the outgoing key endorsing its successor, a key revoking itself.
    rotations: list[dict[str, Any]] = field(default_factory=list)
    revocations: list[dict[str, Any]] = field(default_factory=list)
    # Exchange -> the versions of it the node serves (docs/contract.md, "Envelope
    # batches"); None: only DESIGN section 4's one envelope per POST.
    exchanges: dict[str, list[int]] | None = None


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


class RotationBodySchema(StrictSchema):
    """The outgoing key `from_key` names `to_key` (both its public halves) as its
    successor for `area`; signed by `from_key`."""

    kind = fields.String(required=True, validate=validate.Equal(ROTATION_KIND))
    area = area_code(required=True)
    from_key = fields.String(required=True, validate=KEY_ID)
    to_key = fields.String(required=True, validate=KEY_ID)
    signing_key = B64Url(required=True, validate=_KEY)
    encryption_key = B64Url(required=True, validate=_KEY)


class RevocationBodySchema(StrictSchema):
    """`key_id` of `area` is revoked from `revoked_at`; signed by that key itself."""

    kind = fields.String(required=True, validate=validate.Equal(REVOCATION_KIND))
    area = area_code(required=True)
    key_id = fields.String(required=True, validate=KEY_ID)
    revoked_at = UTCTimestamp(required=True)


class _Statement(StrictSchema):
    sig = B64Url(required=True, validate=validate.Length(equal=86))


class RotationSchema(_Statement):
    body = fields.Nested(RotationBodySchema, required=True)


class RevocationSchema(_Statement):
    body = fields.Nested(RevocationBodySchema, required=True)


def _versions(values: list[int]) -> None:
    # A node accepts every version it accepted before, so version 1 is always among them.
    if 1 not in values or len(set(values)) != len(values):
        raise ValidationError("Must list distinct versions including 1.")


class BundleBodySchema(StrictSchema):
    """Members this release does not know are ignored, not refused (they are signed and
    fingerprinted all the same): a later release can add one without locking this one out,
    as `accepts` had to be kept from nodes that predate it (docs/contract.md)."""

    class Meta:
        unknown = EXCLUDE

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
    accepts = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[a-z][a-z_]{0,62}$")),
        values=fields.List(
            fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_VERSION)),
            validate=[validate.Length(min=1, max=MAX_VERSION), _versions],
        ),
        load_default=None,
        validate=validate.Length(max=64),
    )
    # Checked for shape here; the domain keeps the raw documents to verify signatures.
    rotations = fields.List(
        fields.Nested(RotationSchema),
        load_default=list,
        validate=validate.Length(max=MAX_STATEMENTS),
    )
    revocations = fields.List(
        fields.Nested(RevocationSchema),
        load_default=list,
        validate=validate.Length(max=MAX_STATEMENTS),
    )

    exchanges = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[a-z][a-z_]{0,62}$")),
        values=fields.List(
            fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_VERSION)),
            validate=[validate.Length(min=1, max=MAX_VERSION), _versions],
        ),
        load_default=None,
        validate=validate.Length(max=64),
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

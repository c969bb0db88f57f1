"""The signed delivery receipt a receiving node returns for every accepted envelope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import fields, post_load, validate

from schemas.common import B64Url, StrictSchema, UTCTimestamp, UUIDString, area_code
from schemas.wire.audit_evidence import AuditRefSchema
from schemas.wire.envelope import KEY_ID

RECEIPT_KIND = "receipt"


@dataclass(frozen=True)
class ReceiptBody:
    kind: str
    v: int
    envelope_id: str
    envelope_digest: str
    from_area: str
    to_area: str
    key: str
    received_at: str
    status: str
    audit: dict[str, Any] | None = None


@dataclass(frozen=True)
class Receipt:
    body: ReceiptBody
    sig: str


class ReceiptBodySchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.Equal(RECEIPT_KIND))
    v = fields.Integer(required=True, strict=True, validate=validate.Equal(1))
    envelope_id = UUIDString(required=True)
    envelope_digest = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    from_area = area_code(required=True)  # the receiving area, which signs
    to_area = area_code(required=True)  # the sending area
    key = fields.String(required=True, validate=KEY_ID)
    received_at = UTCTimestamp(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["received"]))
    # The receiver's own audit leaf for this envelope (DESIGN section 7).
    audit = fields.Nested(AuditRefSchema, load_default=None)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ReceiptBody:
        return ReceiptBody(**data)


class ReceiptSchema(StrictSchema):
    body = fields.Nested(ReceiptBodySchema, required=True)
    sig = B64Url(required=True, validate=validate.Length(max=128))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Receipt:
        return Receipt(**data)

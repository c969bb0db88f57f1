"""Bodies of the application API (`/api/v1`): query strings, responses, problems, tokens.

Requests load into dataclasses; responses are described here so the OpenAPI document is
generated from the same schemas the code uses. Unknown fields are refused everywhere.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from schemas.common import AREA_CODE, StrictSchema, UUIDString, area_code
from schemas.transfer_request import TransferRequestSchema

DIRECTIONS = ("inbound", "outbound")
STATUSES = (
    "draft",
    "awaiting_approval",
    "queued",
    "delivered",
    "failed",
    "information_requested",
    "received",
    "acknowledged",
    "redirected",
    "withdrawn",
)
PAGE_DEFAULT, PAGE_MAX = 50, 200


class Cursor(fields.String):
    """Opaque to clients: base64url of [created_at, id] of the last item seen."""

    # A String on the wire (so the OpenAPI document says string), a tuple once loaded.
    def _deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[datetime, str]:
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            decoded = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            created, ident = decoded
            moment = datetime.fromisoformat(created)
            UUIDString()._deserialize(ident, None, None)
        except (ValueError, TypeError, binascii.Error, ValidationError) as exc:
            raise ValidationError("Not a cursor from this API.") from exc
        if moment.tzinfo is None:
            raise ValidationError("Not a cursor from this API.")
        return moment.astimezone(UTC), ident


def encode_cursor(created: datetime, ident: str) -> str:
    raw = json.dumps([created.astimezone(UTC).isoformat(), ident]).encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class TransferQuery:
    area: str | None
    direction: str | None
    status: str | None
    cursor: tuple[datetime, str] | None
    limit: int


class TransferQuerySchema(StrictSchema):
    area = area_code(
        load_default=None, metadata={"description": "Needed when you act in several areas."}
    )
    direction = fields.String(validate=validate.OneOf(DIRECTIONS), load_default=None)
    status = fields.String(validate=validate.OneOf(STATUSES), load_default=None)
    cursor = Cursor(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(
        load_default=PAGE_DEFAULT, validate=validate.Range(min=1, max=PAGE_MAX), strict=True
    )

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> TransferQuery:
        return TransferQuery(**data)


def load_transfer_query(args: dict[str, Any]) -> TransferQuery:
    # Query strings arrive as text: convert the one integer before the strict schema.
    values = dict(args)
    if isinstance(values.get("limit"), str):
        limit = values["limit"]
        values["limit"] = int(limit) if limit.isascii() and limit.isdigit() else limit
    result: TransferQuery = TransferQuerySchema().load(values)
    return result


class CreateQuerySchema(StrictSchema):
    draft = fields.Boolean(
        load_default=False,
        truthy={"true"},
        falsy={"false"},
        metadata={"description": "true: save a draft (sealed to the area's own key, not sent)."},
    )


def load_create_query(args: dict[str, Any]) -> bool:
    """Whether `POST /transfers` saves a draft."""
    loaded = CreateQuerySchema().load(args)
    return bool(loaded["draft"])


class TransferItemSchema(Schema):
    id = fields.String(required=True)
    envelope_id = fields.String(required=True)
    direction = fields.String(required=True, validate=validate.OneOf(DIRECTIONS))
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    from_area = fields.String(required=True)
    to_area = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    delivered_at = fields.DateTime(allow_none=True)
    failure_reason = fields.String(allow_none=True)
    listed_for = fields.Date(
        allow_none=True,
        metadata={"description": "The meeting the receiving area listed it for, once accepted."},
    )
    restricted = fields.Boolean(
        required=True,
        metadata={
            "description": "A restricted case: only named users of the receiving area open it."
        },
    )


class TransferPageSchema(Schema):
    items = fields.List(fields.Nested(TransferItemSchema), required=True)
    next = fields.String(allow_none=True, required=True)


class ActorSchema(Schema):
    kind = fields.String(required=True)
    id = fields.String(required=True)
    role = fields.String()


class TimelineStepSchema(Schema):
    """One step of a transfer as this area saw it; never content."""

    at = fields.DateTime(required=True)
    kind = fields.String(required=True, metadata={"description": "A state or event name."})
    actor = fields.Nested(ActorSchema, allow_none=True)
    envelope_id = fields.String(allow_none=True)
    detail = fields.Dict(keys=fields.String(), required=True)


class TimelineSchema(Schema):
    transfer = fields.Nested(TransferItemSchema, required=True)
    timeline = fields.List(fields.Nested(TimelineStepSchema), required=True)


class TransferDetailSchema(Schema):
    transfer = fields.Nested(TransferItemSchema, required=True)
    content = fields.Nested(TransferRequestSchema, required=True)


class ProblemSchema(Schema):
    """RFC 9457 problem details; `errors` names the fields at fault, never their values."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict()
    error = fields.String(metadata={"description": "RFC 6749 error code (token endpoint)."})


class TokenRequestSchema(StrictSchema):
    grant_type = fields.String(required=True, validate=validate.OneOf(["client_credentials"]))
    scope = fields.String(metadata={"description": "Space-separated; default: all granted."})
    client_id = fields.String(metadata={"description": "With client_secret_post only."})
    client_secret = fields.String(metadata={"description": "With client_secret_post only."})


class TokenResponseSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    scope = fields.String(required=True)


def is_area_code(value: str) -> bool:
    return bool(AREA_CODE.match(value))

"""Bodies of `/api/v1/transfers`: the list query, the create query, transfer items, pages,
timelines. Requests load into dataclasses; responses are described here so the OpenAPI
document is generated from the same schemas the code uses. Unknown fields are refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import Schema, fields, post_load, validate

from schemas.api.pages import PAGE_DEFAULT, PAGE_MAX, ActorSchema, Cursor
from schemas.common import StrictSchema, area_code
from schemas.wire.transfer_request import TransferRequestSchema

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

"""API bodies for the envelopes in reply to a transfer: a metadata listing (never content)
and one reply opened (its payload as it travelled; never a document's bytes)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.api.transfers import DIRECTIONS, TransferItemSchema

# pending: waiting in the outbox; delivered: the peer's signed receipt is held; failed:
# the outbox gave up (resend it); cancelled: stopped by a withdrawal. Inbound: null.
DELIVERY = ("pending", "delivered", "failed", "cancelled")


class MessageItemSchema(Schema):
    """One envelope of the transfer's thread as this area holds it: metadata only."""

    envelope_id = fields.String(required=True)
    transfer_id = fields.String(required=True)
    type = fields.String(
        required=True,
        metadata={"description": "The payload type (acknowledgement, withdrawal, ...)."},
    )
    direction = fields.String(
        required=True,
        validate=validate.OneOf(DIRECTIONS),
        metadata={"description": "outbound: this area sent it; inbound: it received it."},
    )
    created_at = fields.DateTime(required=True)
    in_reply_to = fields.String(required=True)
    delivery = fields.String(
        allow_none=True,
        required=True,
        validate=validate.OneOf(DELIVERY),
        metadata={"description": "Outbound only: where delivery stands."},
    )
    purged = fields.Boolean(
        required=True, metadata={"description": "Its content is no longer held here."}
    )


class MessageListSchema(Schema):
    transfer = fields.Nested(TransferItemSchema, required=True)
    items = fields.List(fields.Nested(MessageItemSchema), required=True)


class MessageDetailSchema(Schema):
    transfer = fields.Nested(TransferItemSchema, required=True)
    message = fields.Nested(MessageItemSchema, required=True)
    content = fields.Dict(
        keys=fields.String(),
        required=True,
        metadata={"description": "The payload as it travelled, validated by its type's schema."},
    )

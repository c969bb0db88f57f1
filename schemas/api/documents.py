"""API bodies for documents and information requests:
listings (metadata only) and the request bodies the OpenAPI document describes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.api.transfers import DIRECTIONS, TransferItemSchema
from schemas.common import StrictSchema, UUIDString
from schemas.wire.document import KINDS, MEDIA_TYPES
from schemas.wire.minutes import MinutesV2Schema

REQUEST_STATUSES = ("open", "answered")


class DocumentItemSchema(Schema):
    """A document's metadata: never its bytes, never a filename."""

    id = fields.String(required=True)
    transfer_id = fields.String(required=True)
    direction = fields.String(
        required=True,
        validate=validate.OneOf(DIRECTIONS),
        metadata={"description": "outbound: this area sent it; inbound: it received it."},
    )
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    media_type = fields.String(required=True, validate=validate.OneOf(MEDIA_TYPES))
    size = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    answers = fields.String(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)


class DocumentListSchema(Schema):
    transfer = fields.Nested(TransferItemSchema, required=True)
    items = fields.List(fields.Nested(DocumentItemSchema), required=True)


class UploadFormSchema(Schema):
    """multipart/form-data: the file part's name is ignored, never stored or used."""

    file = fields.Raw(
        required=True,
        metadata={"type": "string", "format": "binary", "description": "The document."},
    )
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    answers = UUIDString(metadata={"description": "The information request it answers."})


class PostedMinutesSchema(MinutesV2Schema):
    """Minutes as posted: format version 2 with `schema_version` implied (docs/contract.md)."""

    class Meta:
        exclude = ("schema_version",)


class MinutesUploadSchema(StrictSchema):
    """Structured minutes (seed 002 appendix 3), format version 2, sent as a document of
    kind minutes with media type application/vnd.marac.minutes+json: in a `document`
    payload of version 2 to a node that accepts it, rewritten as format version 1 in a
    version 1 payload to one that does not (docs/contract.md)."""

    kind = fields.String(required=True, validate=validate.Equal("minutes"))
    minutes = fields.Nested(PostedMinutesSchema, required=True)
    answers = UUIDString(load_default=None, allow_none=True)


class InformationRequestItemSchema(Schema):
    id = fields.String(required=True)
    transfer_id = fields.String(required=True)
    direction = fields.String(
        required=True,
        validate=validate.OneOf(DIRECTIONS),
        metadata={"description": "outbound: this area asked; inbound: it was asked."},
    )
    what = fields.List(fields.String(validate=validate.OneOf(KINDS)), required=True)
    status = fields.String(required=True, validate=validate.OneOf(REQUEST_STATUSES))
    created_at = fields.DateTime(required=True)
    answered_at = fields.DateTime(allow_none=True, required=True)
    answered_by = fields.String(
        allow_none=True, required=True, metadata={"description": "The first answering document."}
    )


class InformationRequestListSchema(Schema):
    transfer = fields.Nested(TransferItemSchema, required=True)
    items = fields.List(fields.Nested(InformationRequestItemSchema), required=True)

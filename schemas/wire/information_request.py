"""Payload `information_request`, schema_version 1 (DESIGN section 4): the receiving area
asks the sending area for more before it answers a transfer: the minutes, the original
referral, the referral form, the DASH checklist or anything else.

`InformationRequestBodySchema` is what a coordinator posts to
`/api/v1/transfers/<id>/information-requests`; `InformationRequestSchema` is the payload
that travels, the same body plus the addressing the node fills in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from schemas.common import MEDIUM, StrictSchema, area_code, optional_text
from schemas.wire.document import KINDS
from schemas.wire.transfer_request import DecisionMaker, DecisionMakerSchema, StrictInteger

PAYLOAD_TYPE = "information_request"
SCHEMA_VERSION = 1


def _no_duplicates(values: list[str]) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Duplicate entries are not allowed.")


@dataclass(frozen=True)
class InformationRequestBody:
    what: tuple[str, ...]
    note: str | None
    requested_by: DecisionMaker


@dataclass(frozen=True)
class InformationRequest(InformationRequestBody):
    schema_version: int
    from_area: str
    to_area: str


class InformationRequestBodySchema(StrictSchema):
    what = fields.List(
        fields.String(validate=validate.OneOf(KINDS)),
        required=True,
        validate=[validate.Length(min=1, max=len(KINDS)), _no_duplicates],
        metadata={"description": "What is asked for: one or more document kinds."},
    )
    note = optional_text(MEDIUM)
    requested_by = fields.Nested(DecisionMakerSchema, required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> InformationRequestBody:
        return InformationRequestBody(**{**data, "what": tuple(data["what"])})


class InformationRequestSchema(InformationRequestBodySchema):
    schema_version = StrictInteger(required=True, validate=validate.Equal(SCHEMA_VERSION))
    from_area = area_code(required=True)
    to_area = area_code(required=True)

    @validates_schema
    def check_areas(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("from_area") == data.get("to_area"):
            raise ValidationError({"to_area": ["Must differ from from_area."]})

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> InformationRequest:
        return InformationRequest(**{**data, "what": tuple(data["what"])})


def load_information_request_body(data: Mapping[str, Any]) -> InformationRequestBody:
    result = _BODY.load(data)
    if not isinstance(result, InformationRequestBody):  # pragma: no cover - post_load
        raise TypeError("InformationRequestBodySchema did not produce a body.")
    return result


def load_information_request(data: Mapping[str, Any]) -> InformationRequest:
    """Validate a decrypted `information_request` payload; raises ValidationError."""
    result = _SCHEMA.load(data)
    if not isinstance(result, InformationRequest):  # pragma: no cover - post_load
        raise TypeError("InformationRequestSchema did not produce an InformationRequest.")
    return result


def dump_information_request(request: InformationRequest) -> dict[str, Any]:
    result: dict[str, Any] = _SCHEMA.dump(request)
    return result


_BODY = InformationRequestBodySchema()
_SCHEMA = InformationRequestSchema()

__all__ = [
    "PAYLOAD_TYPE",
    "SCHEMA_VERSION",
    "InformationRequest",
    "InformationRequestBody",
    "InformationRequestBodySchema",
    "InformationRequestSchema",
    "dump_information_request",
    "load_information_request",
    "load_information_request_body",
]

"""Payload `acknowledgement`, schema_version 1 (binding, DESIGN section 4): the receiving
MARAC's coordinator answers a transfer: `accepted` and listed for a meeting, or
`redirected` to the area the case belongs to.

Two schemas: `AcknowledgementBodySchema` is what a coordinator posts to
`/api/v1/transfers/<id>/acknowledgement`; `AcknowledgementSchema` is the payload that
travels, the same body plus the addressing the node fills in. Unknown fields are refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from schemas.common import MEDIUM, StrictSchema, area_code, optional_text

# Who acknowledged: a name and a role, as the transfer's consent decision records them.
from schemas.wire.transfer_request import (
    DecisionMaker,
    DecisionMakerSchema,
    StrictBoolean,
    StrictInteger,
)

PAYLOAD_TYPE = "acknowledgement"
SCHEMA_VERSION = 1
ACCEPTED, REDIRECTED = "accepted", "redirected"
OUTCOMES = (ACCEPTED, REDIRECTED)


@dataclass(frozen=True)
class AcknowledgementBody:
    status: str
    listed_for: dt.date | None
    idva_referred: bool
    receiving_case_ref: str | None
    redirect_to: str | None
    note: str | None
    acknowledged_by: DecisionMaker


@dataclass(frozen=True)
class Acknowledgement(AcknowledgementBody):
    schema_version: int
    from_area: str
    to_area: str


class AcknowledgementBodySchema(StrictSchema):
    status = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    listed_for = fields.Date(
        load_default=None,
        allow_none=True,
        metadata={"description": "The meeting the case is listed for; required with accepted."},
    )
    idva_referred = StrictBoolean(required=True)
    receiving_case_ref = optional_text()
    redirect_to = area_code(
        load_default=None,
        allow_none=True,
        metadata={"description": "The area the case belongs to; required with redirected."},
    )
    note = optional_text(MEDIUM)
    acknowledged_by = fields.Nested(DecisionMakerSchema, required=True)

    @validates_schema
    def check_outcome(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        accepted = data.get("status") == ACCEPTED
        if accepted and data.get("listed_for") is None:
            errors["listed_for"] = ["Required when the status is accepted."]
        if accepted and data.get("redirect_to") is not None:
            errors["redirect_to"] = ["Must be absent or null when the status is accepted."]
        if data.get("status") == REDIRECTED:
            if data.get("redirect_to") is None:
                errors["redirect_to"] = ["Required when the status is redirected."]
            if data.get("listed_for") is not None:
                errors["listed_for"] = ["Must be absent or null when the status is redirected."]
        if errors:
            raise ValidationError(errors)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> AcknowledgementBody:
        return AcknowledgementBody(**data)


class AcknowledgementSchema(AcknowledgementBodySchema):
    schema_version = StrictInteger(required=True, validate=validate.Equal(SCHEMA_VERSION))
    from_area = area_code(required=True)
    to_area = area_code(required=True)

    @validates_schema
    def check_areas(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("from_area") == data.get("to_area"):
            raise ValidationError({"to_area": ["Must differ from from_area."]})
        if data.get("redirect_to") is not None and data["redirect_to"] == data.get("from_area"):
            raise ValidationError({"redirect_to": ["Must name another area than from_area."]})

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Acknowledgement:
        return Acknowledgement(**data)


def load_acknowledgement_body(data: Mapping[str, Any]) -> AcknowledgementBody:
    """Validate what a coordinator posted; raises marshmallow.ValidationError."""
    result = _BODY.load(data)
    if not isinstance(result, AcknowledgementBody):  # pragma: no cover - post_load
        raise TypeError("AcknowledgementBodySchema did not produce an AcknowledgementBody.")
    return result


def load_acknowledgement(data: Mapping[str, Any]) -> Acknowledgement:
    """Validate a decrypted `acknowledgement` payload; raises marshmallow.ValidationError."""
    result = _SCHEMA.load(data)
    if not isinstance(result, Acknowledgement):  # pragma: no cover - post_load
        raise TypeError("AcknowledgementSchema did not produce an Acknowledgement.")
    return result


def dump_acknowledgement(ack: Acknowledgement) -> dict[str, Any]:
    """The canonical JSON-able payload (dates ISO 8601, absent optional values null)."""
    result: dict[str, Any] = _SCHEMA.dump(ack)
    return result


_BODY = AcknowledgementBodySchema()
_SCHEMA = AcknowledgementSchema()

__all__ = [
    "ACCEPTED",
    "OUTCOMES",
    "PAYLOAD_TYPE",
    "REDIRECTED",
    "SCHEMA_VERSION",
    "Acknowledgement",
    "AcknowledgementBody",
    "AcknowledgementBodySchema",
    "AcknowledgementSchema",
    "dump_acknowledgement",
    "load_acknowledgement",
    "load_acknowledgement_body",
]

"""Payload `acknowledgement`, schema_version 1 (binding, DESIGN section 4) and 2
(docs/contract.md): the receiving MARAC's coordinator answers a transfer: `accepted` and
listed for a meeting, or `redirected` to the area the case belongs to. Version 2 adds
`redirect_reason` (seed 004 ISP 3.7: a redirect says why), required with `redirected`,
`other` with a note; a version 1 payload has no such member and loads as reason `None`.
`to_version_1` writes a version 2 payload for a node that accepts only version 1: the
reason goes into the note, in words, so the fact still travels.

Two schemas: `AcknowledgementBodySchema` is what a coordinator posts to
`/api/v1/transfers/<id>/acknowledgement`; `AcknowledgementSchema` is the payload that
travels, the same body plus the addressing the node fills in. Unknown fields are refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError, fields, post_load, pre_load, validate, validates_schema

from schemas.common import MEDIUM, StrictSchema, area_code, optional_text

# Who acknowledged: a name and a role, as the transfer's consent decision records them.
from schemas.wire.transfer_request import (
    DecisionMaker,
    DecisionMakerSchema,
    StrictBoolean,
    StrictInteger,
)

PAYLOAD_TYPE = "acknowledgement"
SCHEMA_VERSION = 2
VERSIONS = (1, 2)
ACCEPTED, REDIRECTED = "accepted", "redirected"
OUTCOMES = (ACCEPTED, REDIRECTED)
WRONG_AREA, VICTIM_NOT_RESIDENT, OTHER = "wrong_area", "victim_not_resident", "other"
REDIRECT_REASONS = (WRONG_AREA, VICTIM_NOT_RESIDENT, OTHER)
# The words a version 1 note carries for each reason (and the page shows).
REDIRECT_REASON_WORDS = {
    WRONG_AREA: "The case belongs to another area",
    VICTIM_NOT_RESIDENT: "The victim does not live in this area",
    OTHER: "Another reason (see the note)",
}


class DoesNotFitVersion1(ValueError):
    """The payload cannot be written as version 1 without losing a fact."""


@dataclass(frozen=True)
class AcknowledgementBody:
    status: str
    listed_for: dt.date | None
    idva_referred: bool
    receiving_case_ref: str | None
    redirect_to: str | None
    note: str | None
    acknowledged_by: DecisionMaker
    redirect_reason: str | None


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
    redirect_reason = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(REDIRECT_REASONS),
        metadata={"description": "Why the case is redirected; required with redirected."},
    )

    def reason_required(self, data: dict[str, Any]) -> bool:
        """Whether a redirect must say why: always when posted; in a payload, from
        version 2 on."""
        return True

    @validates_schema
    def check_reason(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        reason = data.get("redirect_reason")
        redirected = data.get("status") == REDIRECTED
        if redirected and reason is None and self.reason_required(data):
            errors["redirect_reason"] = ["Required when the status is redirected."]
        if not redirected and reason is not None:
            errors["redirect_reason"] = ["Must be absent or null unless the status is redirected."]
        if reason == OTHER and not data.get("note"):
            errors["note"] = ["Required when the redirect reason is other."]
        if errors:
            raise ValidationError(errors)

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
    schema_version = StrictInteger(required=True, validate=validate.OneOf(VERSIONS))
    from_area = area_code(required=True)
    to_area = area_code(required=True)

    def reason_required(self, data: dict[str, Any]) -> bool:
        return data.get("schema_version") != 1

    @pre_load
    def check_version(self, data: Any, **_: Any) -> Any:
        # Version 1 has no place for a reason: its note carries it (to_version_1).
        versioned = isinstance(data, Mapping) and data.get("schema_version") == 1
        if versioned and "redirect_reason" in data:
            raise ValidationError({"redirect_reason": ["Unknown field."]})
        return data

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
    """The canonical JSON-able payload (dates ISO 8601, absent optional values null; a
    version 1 payload without `redirect_reason`)."""
    result: dict[str, Any] = _SCHEMA.dump(ack)
    if ack.schema_version == 1:
        result.pop("redirect_reason", None)
    return result


def to_version_1(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A version 2 payload written as version 1: the reason for a redirect moves into the
    note, in words. Raises DoesNotFitVersion1 when the note would grow past its limit."""
    result = {k: v for k, v in payload.items() if k != "redirect_reason"}
    result["schema_version"] = 1
    reason = payload.get("redirect_reason")
    if reason is not None:
        words = f"Reason for redirecting: {REDIRECT_REASON_WORDS[reason]}."
        note = payload.get("note")
        result["note"] = f"{words}\n\n{note}" if note else words
        if len(result["note"]) > MEDIUM:
            raise DoesNotFitVersion1("redirect_reason")
    return result


_BODY = AcknowledgementBodySchema()
_SCHEMA = AcknowledgementSchema()

__all__ = [
    "ACCEPTED",
    "OUTCOMES",
    "PAYLOAD_TYPE",
    "REDIRECTED",
    "REDIRECT_REASONS",
    "REDIRECT_REASON_WORDS",
    "SCHEMA_VERSION",
    "VERSIONS",
    "Acknowledgement",
    "AcknowledgementBody",
    "AcknowledgementBodySchema",
    "AcknowledgementSchema",
    "DoesNotFitVersion1",
    "dump_acknowledgement",
    "load_acknowledgement",
    "load_acknowledgement_body",
    "to_version_1",
]

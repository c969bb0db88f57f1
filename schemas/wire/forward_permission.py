"""Payload `forward_permission`, schema_version 1 (DESIGN section 2: a received transfer
is not passed to a third area without the originating area's recorded permission).

Three kinds travel, all `in_reply_to` the transfer's own envelope:
- `request`: the receiving area asks the originating area whether it may forward the case
  to `forward_to` (the third area), with a reason code and an optional note;
- `grant` / `refusal`: the originating area's answer to the request named by `request_id`,
  for exactly that `forward_to`.
`to_area` is the envelope's addressee (as in every payload), so the third area is named
`forward_to`. Bodies posted to the API are the same without the addressing and the kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from schemas.common import MEDIUM, StrictSchema, UUIDString, area_code, optional_text
from schemas.wire.addressed import addressed, one_of
from schemas.wire.transfer_request import REASONS as TRANSFER_REASONS
from schemas.wire.transfer_request import (
    ConsentSchema,
    ConsentV2Schema,
    DecisionMaker,
    DecisionMakerSchema,
    SenderSchema,
)

PAYLOAD_TYPE = "forward_permission"
SCHEMA_VERSION = 1
REQUEST, GRANT, REFUSAL = "request", "grant", "refusal"
KINDS = (REQUEST, GRANT, REFUSAL)
# Why the case should go on: the transfer reasons, or something else (said in the note).
REASONS = (*TRANSFER_REASONS, "other")
GRANTED, REFUSED = "granted", "refused"
DECISIONS = (GRANTED, REFUSED)


@dataclass(frozen=True)
class ForwardRequestBody:
    forward_to: str
    reason: str
    note: str | None
    requested_by: DecisionMaker


@dataclass(frozen=True)
class ForwardDecisionBody:
    request_id: str
    decision: str
    note: str | None
    decided_by: DecisionMaker


@dataclass(frozen=True)
class ForwardPermission:
    schema_version: int
    from_area: str
    to_area: str
    kind: str
    forward_to: str
    # request only
    reason: str | None
    requested_by: DecisionMaker | None
    # grant and refusal only
    request_id: str | None
    decided_by: DecisionMaker | None
    note: str | None


class ForwardRequestBodySchema(StrictSchema):
    forward_to = area_code(
        required=True, metadata={"description": "The third area the case would go to."}
    )
    reason = fields.String(required=True, validate=validate.OneOf(REASONS))
    note = optional_text(MEDIUM)
    requested_by = fields.Nested(DecisionMakerSchema, required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ForwardRequestBody:
        return ForwardRequestBody(**data)


class ForwardDecisionBodySchema(StrictSchema):
    request_id = UUIDString(
        required=True, metadata={"description": "The request's envelope id (timeline)."}
    )
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    note = optional_text(MEDIUM)
    decided_by = fields.Nested(DecisionMakerSchema, required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ForwardDecisionBody:
        return ForwardDecisionBody(**data)


class ForwardPermissionSchema(addressed(SCHEMA_VERSION)):  # type: ignore[misc]
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    forward_to = area_code(required=True)
    reason = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(REASONS))
    requested_by = fields.Nested(DecisionMakerSchema, load_default=None, allow_none=True)
    request_id = UUIDString(load_default=None, allow_none=True)
    decided_by = fields.Nested(DecisionMakerSchema, load_default=None, allow_none=True)
    note = optional_text(MEDIUM)

    @validates_schema
    def check_kind(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        request = data.get("kind") == REQUEST
        mine = ("reason", "requested_by") if request else ("request_id", "decided_by")
        theirs = ("request_id", "decided_by") if request else ("reason", "requested_by")
        for name in mine:
            if data.get(name) is None:
                errors[name] = [f"Required with kind {data.get('kind')}."]
        for name in theirs:
            if data.get(name) is not None:
                errors[name] = [f"Must be absent or null with kind {data.get('kind')}."]
        if data.get("forward_to") in (data.get("from_area"), data.get("to_area")):
            errors["forward_to"] = ["Must name a third area."]
        if errors:
            raise ValidationError(errors)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ForwardPermission:
        return ForwardPermission(**data)


@dataclass(frozen=True)
class ForwardBody:
    to_area: str
    # Forwarding is a new disclosure (seed 004 ISP 3.4, 3.5): the forwarding area's own
    # sender details and consent decision, canonical JSON, in place of the originator's.
    sender: dict[str, Any]
    consent: dict[str, Any]


class ForwardBodySchema(StrictSchema):
    to_area = area_code(
        required=True,
        metadata={"description": "The third area; a grant for exactly it must be recorded."},
    )
    sender = fields.Nested(
        SenderSchema,
        required=True,
        metadata={"description": "Who forwards: the forwarding area's own contact."},
    )
    # In the shape of the forwarded case's own transfer_request version (version 2's
    # consent keeps its reasons for not seeking consent apart from the lawful basis; see
    # docs/contract.md); the forward checks it against the case as a whole.
    consent = fields.Dict(
        required=True,
        metadata={
            "description": "The forwarding area's own consent decision and lawful basis, as"
            " the forwarded case's transfer_request version writes it."
        },
    )

    # Checked even when other fields failed, so the page names every question at once.
    @validates_schema(skip_on_field_errors=False)
    def _consent_of_a_version(self, data: dict[str, Any], **_: Any) -> None:
        consent = data.get("consent")
        if consent is None:
            return
        newest = ConsentV2Schema().validate(consent)
        if newest and ConsentSchema().validate(consent):
            raise ValidationError({"consent": newest})

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ForwardBody:
        consent = data["consent"]
        schema = ConsentV2Schema() if not ConsentV2Schema().validate(consent) else ConsentSchema()
        return ForwardBody(
            to_area=data["to_area"],
            sender=SenderSchema().dump(data["sender"]),
            consent=schema.dump(schema.load(consent)),
        )


class PermissionViewSchema(StrictSchema):
    """A request to forward and its answer, as one side recorded it; metadata only."""

    request_id = fields.String(required=True)
    transfer_id = fields.String(required=True)
    forward_to = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("requested", GRANTED, REFUSED)))
    requested_at = fields.DateTime(required=True)
    answered_at = fields.DateTime(allow_none=True)
    used_by = fields.String(
        allow_none=True, metadata={"description": "The forwarded transfer, once used."}
    )


class PermissionListSchema(StrictSchema):
    items = fields.List(fields.Nested(PermissionViewSchema), required=True)


def load_forward_body(data: Mapping[str, Any]) -> ForwardBody:
    loaded: ForwardBody = one_of(_FORWARD_BODY, data, ForwardBody)
    return loaded


def load_forward_request_body(data: Mapping[str, Any]) -> ForwardRequestBody:
    loaded: ForwardRequestBody = one_of(_REQUEST_BODY, data, ForwardRequestBody)
    return loaded


def load_forward_decision_body(data: Mapping[str, Any]) -> ForwardDecisionBody:
    loaded: ForwardDecisionBody = one_of(_DECISION_BODY, data, ForwardDecisionBody)
    return loaded


def load_forward_permission(data: Mapping[str, Any]) -> ForwardPermission:
    """Validate a decrypted `forward_permission` payload; raises ValidationError."""
    loaded: ForwardPermission = one_of(_SCHEMA, data, ForwardPermission)
    return loaded


def dump_forward_permission(permission: ForwardPermission) -> dict[str, Any]:
    result: dict[str, Any] = _SCHEMA.dump(permission)
    return result


_FORWARD_BODY = ForwardBodySchema()
_REQUEST_BODY = ForwardRequestBodySchema()
_DECISION_BODY = ForwardDecisionBodySchema()
_SCHEMA = ForwardPermissionSchema()

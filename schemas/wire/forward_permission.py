"""Payload `forward_permission`, schema_version 1 and 2 (DESIGN section 2: a received
transfer is not passed to a third area without the originating area's recorded permission).

Three kinds travel, all `in_reply_to` the transfer's own envelope:
- `request`: the receiving area asks the originating area whether it may forward the case
  to `forward_to` (the third area), with a reason code and an optional note;
- `grant` / `refusal`: the originating area's answer to the request named by `request_id`,
  for exactly that `forward_to`.
`to_area` is the envelope's addressee (as in every payload), so the third area is named
`forward_to`. Bodies posted to the API are the same without the addressing and the kind.

Version 2 lets a grant carry the terms of the permission (seed 004 ISP 3.4: a disclosure
states the restrictions placed on its recipients; 3.5: the data is shared on only with the
disclosing partner's permission): the originating area's restrictions on the third area,
in transfer_request's own words (`restrictions` as `consent.restrictions`, `restricted` and
`restricted_reason` as the case's), and the documents already exchanged on the case that
the forward may include (`documents`: ids and kinds). A grant without terms, and every
request and refusal, fits version 1 (`to_version_1`); docs/contract.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError, fields, post_load, pre_load, validate, validates_schema

from schemas.common import (
    MEDIUM,
    DoesNotFit,
    StrictSchema,
    UUIDString,
    area_code,
    optional_text,
    text,
)
from schemas.wire.addressed import one_of
from schemas.wire.document import KINDS as DOCUMENT_KINDS
from schemas.wire.transfer_request import REASONS as TRANSFER_REASONS
from schemas.wire.transfer_request import (
    RESTRICTED_REASONS_V2,
    ConsentSchema,
    ConsentV2Schema,
    DecisionMaker,
    DecisionMakerSchema,
    SenderSchema,
    StrictBoolean,
    StrictInteger,
)

PAYLOAD_TYPE = "forward_permission"
SCHEMA_VERSION = 2
VERSIONS = (1, 2)
# What version 2 adds, all of it a grant's terms (version 1 has no place for any).
TERMS = ("restrictions", "restricted", "restricted_reason", "documents")
MAX_DOCUMENTS = 200
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
class CoveredDocument:
    """A document already exchanged on the case that the grant lets the forward include."""

    id: str
    kind: str


@dataclass(frozen=True)
class ForwardDecisionBody:
    request_id: str
    decision: str
    note: str | None
    decided_by: DecisionMaker
    # A grant's terms (version 2): restrictions on the third area, and the documents (ids
    # from the case's document list) the forward may include.
    restrictions: str | None = None
    restricted: bool = False
    restricted_reason: str | None = None
    documents: tuple[str, ...] = ()


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
    # grant only, version 2
    restrictions: str | None = None
    restricted: bool = False
    restricted_reason: str | None = None
    documents: tuple[CoveredDocument, ...] = ()

    @property
    def has_terms(self) -> bool:
        return bool(self.restrictions or self.restricted or self.documents)


class _TermsSchema(StrictSchema):
    """A grant's restrictions on the third area, in transfer_request's own words."""

    restrictions = text(
        MEDIUM,
        load_default=None,
        allow_none=True,
        metadata={
            "description": "The originating area's restrictions on the third area's use of"
            " the case (as a transfer's consent.restrictions); they travel with the forward."
        },
    )
    restricted = StrictBoolean(
        load_default=False,
        metadata={"description": "The third area must treat the case as restricted."},
    )
    restricted_reason = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(RESTRICTED_REASONS_V2)
    )


def _check_restricted(data: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    restricted, reason = data.get("restricted", False), data.get("restricted_reason")
    if restricted and reason is None:
        errors["restricted_reason"] = ["Required when restricted is true."]
    elif not restricted and reason is not None:
        errors["restricted_reason"] = ["Must be absent or null when restricted is false."]


class CoveredDocumentSchema(StrictSchema):
    id = UUIDString(required=True, metadata={"description": "The document's id (its envelope)."})
    kind = fields.String(required=True, validate=validate.OneOf(DOCUMENT_KINDS))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> CoveredDocument:
        return CoveredDocument(**data)


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


class ForwardDecisionBodySchema(_TermsSchema):
    request_id = UUIDString(
        required=True, metadata={"description": "The request's envelope id (timeline)."}
    )
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    note = optional_text(MEDIUM)
    decided_by = fields.Nested(DecisionMakerSchema, required=True)
    documents = fields.List(
        UUIDString(),
        load_default=list,
        validate=validate.Length(max=MAX_DOCUMENTS),
        metadata={
            "description": "Ids of documents already exchanged on the case (its document "
            "list) that the forward may include; with a grant only."
        },
    )

    @validates_schema
    def check_terms(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        _check_restricted(data, errors)
        if data.get("decision") != GRANTED:
            for name in TERMS:
                if data.get(name):
                    errors[name] = ["Only a grant carries restrictions and documents."]
        documents = data.get("documents") or []
        if len(set(documents)) != len(documents):
            errors["documents"] = ["Each document once."]
        if errors:
            raise ValidationError(errors)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ForwardDecisionBody:
        return ForwardDecisionBody(**{**data, "documents": tuple(data.get("documents") or ())})


class ForwardPermissionSchema(_TermsSchema):
    schema_version = StrictInteger(required=True, validate=validate.OneOf(VERSIONS))
    from_area = area_code(required=True)
    to_area = area_code(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    forward_to = area_code(required=True)
    reason = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(REASONS))
    requested_by = fields.Nested(DecisionMakerSchema, load_default=None, allow_none=True)
    request_id = UUIDString(load_default=None, allow_none=True)
    decided_by = fields.Nested(DecisionMakerSchema, load_default=None, allow_none=True)
    note = optional_text(MEDIUM)
    documents = fields.List(
        fields.Nested(CoveredDocumentSchema),
        load_default=list,
        validate=validate.Length(max=MAX_DOCUMENTS),
        metadata={"description": "The documents the grant lets the forward include."},
    )

    @pre_load
    def check_version(self, data: Any, **_: Any) -> Any:
        # Version 1 has no place for a grant's terms (to_version_1 refuses them instead).
        if isinstance(data, Mapping) and data.get("schema_version") == 1:
            unknown = {name: ["Unknown field."] for name in TERMS if name in data}
            if unknown:
                raise ValidationError(unknown)
        return data

    @validates_schema
    def check_kind(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        if data.get("from_area") == data.get("to_area"):
            errors["to_area"] = ["Must differ from from_area."]
        _check_restricted(data, errors)
        if data.get("kind") != GRANT:
            for name in TERMS:
                if data.get(name):
                    errors[name] = ["Only a grant carries restrictions and documents."]
        ids = [d.id for d in data.get("documents") or ()]
        if len(set(ids)) != len(ids):
            errors["documents"] = ["Each document once."]
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
        return ForwardPermission(**{**data, "documents": tuple(data.get("documents") or ())})


@dataclass(frozen=True)
class ForwardBody:
    to_area: str
    # Forwarding is a new disclosure (seed 004 ISP 3.4, 3.5): the forwarding area's own
    # sender details and consent decision, canonical JSON, in place of the originator's.
    sender: dict[str, Any]
    consent: dict[str, Any]
    # Documents the grant covers that go with the forward (ids from the case's list).
    documents: tuple[str, ...] = ()


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
    documents = fields.List(
        UUIDString(),
        load_default=list,
        validate=validate.Length(max=MAX_DOCUMENTS),
        metadata={
            "description": "Documents to include (ids from the case's document list); each"
            " must be covered by the grant."
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
            documents=tuple(dict.fromkeys(data.get("documents") or ())),
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
    """The canonical payload; a version 1 payload without version 2's members."""
    result: dict[str, Any] = _SCHEMA.dump(permission)
    if permission.schema_version == 1:
        for name in TERMS:
            result.pop(name, None)
    return result


def to_version_1(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A version 2 payload written for a node that accepts only version 1. A grant's terms
    have no version 1 place, and dropping them would let the third area use the case with
    none of the originator's restrictions (seed 004 ISP 3.4, 3.5): a payload carrying any
    raises DoesNotFit naming them; anything else goes unchanged but for its version."""
    carried = tuple(name for name in TERMS if payload.get(name))
    if carried:
        raise DoesNotFit(carried)
    result = {k: v for k, v in payload.items() if k not in TERMS}
    result["schema_version"] = 1
    return result


_FORWARD_BODY = ForwardBodySchema()
_REQUEST_BODY = ForwardRequestBodySchema()
_DECISION_BODY = ForwardDecisionBodySchema()
_SCHEMA = ForwardPermissionSchema()

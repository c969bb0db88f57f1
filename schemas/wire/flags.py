"""Shared flags (DESIGN sections 4 and 6): the API bodies of `/api/v1/flags`, the bodies
of the linkage authority and flag index federation paths, and the `flag_notice` payload.

Every schema refuses unknown fields and loads into a frozen dataclass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_dump,
    post_load,
    validate,
    validates_schema,
)

from schemas.api.pages import PAGE_DEFAULT, PAGE_MAX, Cursor
from schemas.common import (
    MEDIUM,
    B64Url,
    PastDate,
    StrictSchema,
    UUIDString,
    area_code,
    required_text,
    text,
)
from schemas.wire.transfer_request import StrictInteger

PAYLOAD_TYPE = "flag_notice"
SCHEMA_VERSION = 1
VICTIM, CHILD, PERPETRATOR = "victim", "child", "perpetrator"
ROLES = (VICTIM, CHILD, PERPETRATOR)
ACTIVE, EXPIRED, CLEARED = "active", "expired", "cleared"
STATUSES = (ACTIVE, EXPIRED, CLEARED)
STRONG, WEAK = "strong", "weak"
TOKEN_KINDS = (STRONG, WEAK)
CASE_REF = 100
MAX_SUBJECTS = 20
MAX_NAMES = 10
# One evaluation or match carries the tokens of one person (or one flag): a few dozen at
# most; the cap keeps a single request from becoming a bulk oracle.
MAX_ELEMENTS = 256
TOKEN_B64_LENGTH = 43  # 32 bytes, unpadded base64url
REF_LIMIT = 600
SEALED_LIMIT = 24_000

T = TypeVar("T")


def _names() -> fields.List[Any]:
    return fields.List(required_text(), load_default=list, validate=validate.Length(max=MAX_NAMES))


# --- API bodies ------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    given_names: str
    family_name: str
    date_of_birth: dt.date | None
    aliases: tuple[str, ...]
    previous_family_names: tuple[str, ...]


@dataclass(frozen=True)
class FlagSubject(Person):
    role: str


class PersonSchema(StrictSchema):
    given_names = required_text()
    family_name = required_text()
    date_of_birth = PastDate(required=True, allow_none=True)
    aliases = _names()
    previous_family_names = _names()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Person:
        return Person(**_tupled(data))


class FlagSubjectSchema(PersonSchema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> FlagSubject:
        return FlagSubject(**_tupled(data))


def _tupled(data: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}


class SourceField(fields.Field[Any]):
    """`"local"` or `{"transfer": "<id>"}`: None for local, else the transfer id."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if value == "local":
            return None
        if isinstance(value, dict) and set(value) == {"transfer"}:
            return str(UUIDString().deserialize(value["transfer"]))
        raise ValidationError('Must be "local" or {"transfer": "<transfer id>"}.')

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return "local" if value is None else {"transfer": value}


@dataclass(frozen=True)
class NewFlag:
    case_ref: str
    reviewed_at: dt.date
    source: str | None  # None: a local meeting; else the transfer id
    subjects: tuple[FlagSubject, ...]


class NewFlagSchema(StrictSchema):
    case_ref = required_text(CASE_REF)
    reviewed_at = PastDate(required=True)
    source = SourceField(required=True)
    subjects = fields.List(
        fields.Nested(FlagSubjectSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_SUBJECTS),
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> NewFlag:
        return NewFlag(**_tupled(data))


EXTEND, CLEAR = "extend", "clear"


@dataclass(frozen=True)
class Review:
    reviewed_at: dt.date
    outcome: str


class ReviewSchema(StrictSchema):
    reviewed_at = PastDate(required=True)
    outcome = fields.String(load_default=EXTEND, validate=validate.OneOf((EXTEND, CLEAR)))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Review:
        return Review(**data)


@dataclass(frozen=True)
class FlagQuery:
    status: str | None
    expiring_within: int | None
    lapsed_since: dt.date | None
    area: str | None
    # Paged like GET /transfers; the opaque cursor holds (expiry, id) of the last item.
    cursor: tuple[dt.datetime, str] | None = None
    limit: int = PAGE_DEFAULT


class FlagQuerySchema(StrictSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    expiring_within = fields.Integer(load_default=None, validate=validate.Range(0, 366))
    lapsed_since = fields.Date(
        load_default=None,
        metadata={"description": "Flags that lapsed on or after this date (the agenda list)."},
    )
    area = area_code(load_default=None)
    cursor = Cursor(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=PAGE_DEFAULT, validate=validate.Range(1, PAGE_MAX))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> FlagQuery:
        return FlagQuery(**data)


class FlagItemSchema(Schema):
    """A flag as `GET /flags` lists it: metadata, never a subject's details."""

    id = fields.String()
    area = fields.String(attribute="area_code")
    case_ref = fields.String()
    status = fields.String()
    reviewed_at = fields.Date()
    expires_at = fields.Date()
    source = SourceField(attribute="transfer_id")
    origin_area = fields.String(allow_none=True)
    sits_with = fields.String(metadata={"description": "The area where the case now sits."})
    subject_roles = fields.List(fields.String())
    shared = fields.Boolean(metadata={"description": "Whether tokens reach the flag index."})


class MatchSchema(Schema):
    kind = fields.String(validate=validate.OneOf(("local", "remote", "possible")))
    area = fields.String(allow_none=True)
    mailbox = fields.String(allow_none=True)
    case_ref = fields.String(allow_none=True)
    strength = fields.String()
    expires_at = fields.Date(allow_none=True)
    repeat = fields.Boolean()
    ref = fields.String()
    basis = fields.String(
        allow_none=True,
        metadata={
            "description": "The strength in words: which parts of the identity agreed "
            "(never their values); null when the flag index does not say."
        },
    )


# --- federation bodies (linkage authority, flag index) ---------------------------------


def _token_list(**kwargs: Any) -> fields.List[Any]:
    return fields.List(
        B64Url(validate=validate.Length(equal=TOKEN_B64_LENGTH)),
        validate=validate.Length(min=1, max=MAX_ELEMENTS),
        **kwargs,
    )


@dataclass(frozen=True)
class EvaluateRequest:
    to: str
    elements: tuple[str, ...]


class EvaluateRequestSchema(StrictSchema):
    to = area_code(required=True)
    elements = _token_list(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> EvaluateRequest:
        return EvaluateRequest(**_tupled(data))


@dataclass(frozen=True)
class EvaluateAnswer:
    evaluated: tuple[str, ...]


class EvaluateAnswerSchema(StrictSchema):
    evaluated = _token_list(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> EvaluateAnswer:
        return EvaluateAnswer(**_tupled(data))


@dataclass(frozen=True)
class WireToken:
    kind: str
    token: str


class WireTokenSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(TOKEN_KINDS))
    token = B64Url(required=True, validate=validate.Length(equal=TOKEN_B64_LENGTH))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> WireToken:
        return WireToken(**data)


SET, EXTEND_ACTION, CLEAR_ACTION = "set", "extend", "clear"


@dataclass(frozen=True)
class Publication:
    to: str
    action: str
    ref: str
    expires_at: dt.date | None
    tokens: tuple[WireToken, ...]


class PublicationSchema(StrictSchema):
    to = area_code(required=True)
    action = fields.String(required=True, validate=validate.OneOf((SET, EXTEND_ACTION, CLEAR)))
    ref = B64Url(required=True, validate=validate.Length(equal=TOKEN_B64_LENGTH))
    expires_at = fields.Date(load_default=None, allow_none=True)
    tokens = fields.List(
        fields.Nested(WireTokenSchema), load_default=list, validate=validate.Length(max=2048)
    )

    @validates_schema
    def check_action(self, data: dict[str, Any], **_: Any) -> None:
        action = data.get("action")
        if action in (SET, EXTEND_ACTION) and data.get("expires_at") is None:
            raise ValidationError({"expires_at": ["Required to set or extend."]})
        if action != SET and data.get("tokens"):
            raise ValidationError({"tokens": ["Only a set carries tokens."]})
        if action == SET and not data.get("tokens"):
            raise ValidationError({"tokens": ["A set carries at least one token."]})

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Publication:
        return Publication(**_tupled(data))


@dataclass(frozen=True)
class MatchRequest:
    to: str
    tokens: tuple[WireToken, ...]


class MatchRequestSchema(StrictSchema):
    to = area_code(required=True)
    tokens = fields.List(
        fields.Nested(WireTokenSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_ELEMENTS),
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> MatchRequest:
        return MatchRequest(**_tupled(data))


@dataclass(frozen=True)
class IndexMatch:
    strength: str
    area: str | None
    mailbox: str | None
    expires_at: dt.date | None
    ref: str
    # The flag's own public key, to seal a verification request to (never an area's).
    seal_to: str
    # Which of the request's tokens met this flag (0-based positions, ascending); None
    # from an index that predates scored matches (docs/contract.md).
    met: tuple[int, ...] | None = None


# A querier that scores matches asks for `met` with this media type; an index answers
# with it only when asked, so callers that predate it get the answer they parse.
SCORED_MATCH_MEDIA_TYPE = "application/vnd.marac.flag-match.v2+json"


class IndexMatchSchema(StrictSchema):
    strength = fields.String(required=True, validate=validate.OneOf(TOKEN_KINDS))
    area = area_code(required=True, allow_none=True)
    mailbox = text(320, required=True, allow_none=True)
    expires_at = fields.Date(required=True, allow_none=True)
    ref = B64Url(required=True, validate=validate.Length(max=REF_LIMIT))
    seal_to = B64Url(required=True, validate=validate.Length(equal=TOKEN_B64_LENGTH))
    met = fields.List(
        StrictInteger(validate=validate.Range(0, MAX_ELEMENTS - 1)),
        load_default=None,
        validate=validate.Length(min=1, max=MAX_ELEMENTS),
    )

    @validates_schema
    def check_weak(self, data: dict[str, Any], **_: Any) -> None:
        # A weak-only match never names its area, whatever an index sends.
        if data.get("strength") == WEAK and (data.get("area") or data.get("mailbox")):
            raise ValidationError({"area": ["A weak-only match names no area."]})

    @post_dump
    def drop_unknown_met(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("met") is None:
            data.pop("met", None)
        return data

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> IndexMatch:
        return IndexMatch(**_tupled(data))


class MatchAnswerSchema(StrictSchema):
    matches = fields.List(fields.Nested(IndexMatchSchema), required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> tuple[IndexMatch, ...]:
        return tuple(data["matches"])


# --- payload flag_notice ---------------------------------------------------------------

NOTICE_EVENTS = ("set", "reviewed", "expired", "cleared")


@dataclass(frozen=True)
class FlagNotice:
    schema_version: int
    from_area: str
    to_area: str
    event: str
    case_ref: str
    originating_case_ref: str | None
    status: str
    reviewed_at: dt.date
    expires_at: dt.date


class FlagNoticeSchema(StrictSchema):
    """What the receiving area tells the originating area about a transferred case's flag:
    references, dates and a status, never a subject."""

    schema_version = StrictInteger(required=True, validate=validate.Equal(SCHEMA_VERSION))
    from_area = area_code(required=True)
    to_area = area_code(required=True)
    event = fields.String(required=True, validate=validate.OneOf(NOTICE_EVENTS))
    case_ref = required_text(CASE_REF)
    originating_case_ref = text(CASE_REF, required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    reviewed_at = fields.Date(required=True)
    expires_at = fields.Date(required=True)

    @validates_schema
    def check_areas(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("from_area") == data.get("to_area"):
            raise ValidationError({"to_area": ["Must differ from from_area."]})

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> FlagNotice:
        return FlagNotice(**data)


def dump_flag_notice(notice: FlagNotice) -> dict[str, Any]:
    result: dict[str, Any] = FlagNoticeSchema().dump(notice)
    return result


def load(schema: Schema, data: Mapping[str, Any], kind: type[T]) -> T:
    """Validate `data` with `schema` into `kind`; raises marshmallow.ValidationError."""
    result = schema.load(data)
    if not isinstance(result, kind):  # pragma: no cover - post_load
        raise TypeError(f"{type(schema).__name__} did not produce a {kind.__name__}.")
    return result


def load_flag_notice(data: Mapping[str, Any]) -> FlagNotice:
    return load(FlagNoticeSchema(), data, FlagNotice)


# --- response documents (OpenAPI) --------------------------------------------------------


class FlagPageSchema(Schema):
    items = fields.List(fields.Nested(FlagItemSchema), required=True)
    next = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Pass as `cursor` for the next page; null on the last."},
    )


class LookupAnswerSchema(Schema):
    matches = fields.List(fields.Nested(MatchSchema))


# --- verification requests -----------------------------------------------------------------


@dataclass(frozen=True)
class VerificationBody:
    ref: str
    person: Person
    note: str | None


class VerificationBodySchema(StrictSchema):
    """What a coordinator sends about a possible (or remote) match: the person as they
    know them, sealed so that only the area holding the flag can read it."""

    ref = B64Url(required=True, validate=validate.Length(min=1, max=REF_LIMIT))
    person = fields.Nested(PersonSchema, required=True)
    note = text(MEDIUM, load_default=None, allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> VerificationBody:
        return VerificationBody(**data)


@dataclass(frozen=True)
class RelayRequest:
    to: str
    id: str
    ref: str
    sealed: str


class RelayRequestSchema(StrictSchema):
    """Querier to flag index: relay this sealed request to whoever holds `ref`."""

    to = area_code(required=True)
    id = UUIDString(required=True)
    ref = B64Url(required=True, validate=validate.Length(min=1, max=REF_LIMIT))
    sealed = B64Url(required=True, validate=validate.Length(min=1, max=SEALED_LIMIT))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RelayRequest:
        return RelayRequest(**data)


@dataclass(frozen=True)
class Delivery:
    to: str
    id: str
    flag_ref: str
    from_area: str
    sealed: str


class DeliverySchema(StrictSchema):
    """Flag index to holder: a sealed request from `from_area` about the flag `flag_ref`."""

    to = area_code(required=True)
    id = UUIDString(required=True)
    flag_ref = B64Url(required=True, validate=validate.Length(equal=TOKEN_B64_LENGTH))
    from_area = area_code(required=True)
    sealed = B64Url(required=True, validate=validate.Length(min=1, max=SEALED_LIMIT))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Delivery:
        return Delivery(**data)


# The holder's answer to a verification request (docs/contract.md "Verification answers").
CONFIRMED, NOT_A_MATCH = "confirmed", "not_a_match"
ANSWERS = (CONFIRMED, NOT_A_MATCH)


@dataclass(frozen=True)
class AnswerBody:
    answer: str


class AnswerBodySchema(StrictSchema):
    """The holder's coordinator: "this is our case, contact us" or "not a match"."""

    answer = fields.String(required=True, validate=validate.OneOf(ANSWERS))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> AnswerBody:
        return AnswerBody(**data)


@dataclass(frozen=True)
class AnswerRelay:
    to: str
    id: str
    sealed: str


class AnswerRelaySchema(StrictSchema):
    """Holder to flag index: relay this answer, sealed to the asker's reply key, back to
    the area that sent request `id`."""

    to = area_code(required=True)
    id = UUIDString(required=True)
    sealed = B64Url(required=True, validate=validate.Length(min=1, max=SEALED_LIMIT))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> AnswerRelay:
        return AnswerRelay(**data)


@dataclass(frozen=True)
class AnswerDelivery:
    to: str
    in_reply_to: str
    sealed: str


class AnswerDeliverySchema(StrictSchema):
    """Flag index to asker: the sealed answer to the request `in_reply_to` (never who
    answered: only a `confirmed` answer, opened, names the holder)."""

    to = area_code(required=True)
    in_reply_to = UUIDString(required=True)
    sealed = B64Url(required=True, validate=validate.Length(min=1, max=SEALED_LIMIT))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> AnswerDelivery:
        return AnswerDelivery(**data)


class VerificationItemSchema(Schema):
    id = fields.String()
    flag_id = fields.String()
    case_ref = fields.String()
    from_area = fields.String()
    mailbox = fields.String(allow_none=True)
    received_at = fields.DateTime()
    person = fields.Dict()
    note = fields.String(allow_none=True)
    answer = fields.String(
        allow_none=True,
        metadata={"description": "confirmed, not_a_match, or null while unanswered."},
    )
    answerable = fields.Boolean(
        metadata={"description": "False when the asking gateway sent no reply key."}
    )


class SentItemSchema(Schema):
    """A request this area sent, with the holder's answer once it came back."""

    id = fields.String()
    sent_at = fields.DateTime()
    answer = fields.String(allow_none=True)
    answered_at = fields.DateTime(allow_none=True)
    area = fields.String(
        allow_none=True, metadata={"description": "The holding area, on confirmed only."}
    )
    mailbox = fields.String(allow_none=True, metadata={"description": "On confirmed only."})


class SentPageSchema(Schema):
    items = fields.List(fields.Nested(SentItemSchema))
    next = fields.String(allow_none=True)


class VerificationPageSchema(Schema):
    items = fields.List(fields.Nested(VerificationItemSchema))
    next = fields.String(allow_none=True)

"""Payload `transfer_request`, schema_version 1 (binding): one MARAC area hands a case to another.

This is the decrypted content of an envelope of type `transfer_request`. Every JSON key below
is part of the contract between areas. Loading yields frozen dataclasses; dumping a loaded
object with `TransferRequestSchema().dump(obj)` gives back the canonical JSON-able dict
(dates as ISO 8601 strings, absent optional values as null, lists as JSON arrays).

Deliberately, nothing here encodes the receiving area's own referral threshold: a transfer is
never contingent on the case meeting it (the sending MARAC's decision stands).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from schemas.common import (
    LONG,
    MEDIUM,
    SHORT,
    PastDate,
    StrictSchema,
    UTCTimestamp,
    area_code,
    not_blank,
    optional_text,
    parse_timestamp,
    required_text,
)
from schemas.wire.grounds import LEGAL_GROUNDS

PAYLOAD_TYPE = "transfer_request"
SCHEMA_VERSION = 1

REASONS = (
    "relocation_permanent",
    "relocation_refuge",
    "relocation_temporary",
    "risk_in_other_area",
)
RELOCATION_REASONS = frozenset(
    {"relocation_permanent", "relocation_refuge", "relocation_temporary"}
)
REFERRAL_CRITERIA = (
    "visible_high_risk",
    "professional_judgement",
    "potential_escalation",
    "repeat",
)
RISK_SUBJECTS = ("victim", "child", "other", "staff")
RESTRICTED_REASONS = ("honour_based_violence", "position_of_trust", "other")
VICTIM_INFORMED = ("yes", "no", "not_safe")
CONSENT_STATES = ("given", "refused", "not_sought", "unable")
DECISION_FORUMS = ("at_meeting", "chair_after_meeting")

DASH_MAX = 27  # the DASH risk checklist has 27 questions
MARAC_COUNT_MAX = 52  # more than one hearing a week for a year is a data error
# Clock skew tolerated on `consent.decided_at` between the sender's clock and ours.
CLOCK_SKEW = dt.timedelta(minutes=5)

# List bounds: far above any real case, small enough to refuse a flood.
MAX_NAMES = 20
MAX_PERPETRATORS = 10
MAX_CHILDREN = 20
MAX_RISKS = 50
MAX_ACTIONS = 50
MAX_AGENCIES = 50
MAX_GROUNDS = 50
EMAIL_MAX = 254


# --- field helpers ---------------------------------------------------------------------------


def _item(limit: int = SHORT) -> fields.String:
    """A list element: non-blank text."""
    return fields.String(validate=[validate.Length(min=1, max=limit), not_blank])


def _no_duplicates(values: list[Any]) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Duplicate entries are not allowed.")


def _known_ground(code: str) -> None:
    # Looked up at validation time so that extending LEGAL_GROUNDS takes effect at once.
    if code not in LEGAL_GROUNDS:
        raise ValidationError("Unknown legal ground code.")


def _name_list() -> fields.List[str]:
    return fields.List(_item(), load_default=list, validate=validate.Length(max=MAX_NAMES))


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _tuples(data: dict[str, Any]) -> dict[str, Any]:
    """Lists become tuples so a loaded request is immutable all the way down."""
    return {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}


class StrictInteger(fields.Integer):
    """A JSON integer: not a float, not a numeric string, and not a boolean."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise ValidationError("Not a valid integer.")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """A JSON boolean only (marshmallow otherwise accepts "yes", 1, "on", ...)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean.")
        return value


class FutureDate(fields.Date):
    """A calendar date that is today or later (an unborn child's expected date)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed < _today():
            raise ValidationError("Date may not be in the past.")
        return parsed


class PastTimestamp(UTCTimestamp):
    """An RFC 3339 UTC timestamp, kept as text, that is not in the future (small skew allowed)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        if parse_timestamp(raw) > dt.datetime.now(dt.UTC) + CLOCK_SKEW:
            raise ValidationError("Time may not be in the future.")
        return raw


# --- dataclasses -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sender:
    name: str
    role: str
    mailbox: str


@dataclass(frozen=True)
class SafeContact:
    phone: str | None
    times: str | None
    notes: str | None


@dataclass(frozen=True)
class Move:
    date: dt.date
    new_address: str | None
    contact_safe: bool
    safe_contact: SafeContact | None


@dataclass(frozen=True)
class Victim:
    given_names: str
    family_name: str
    aliases: tuple[str, ...]
    previous_family_names: tuple[str, ...]
    date_of_birth: dt.date | None
    gender: str | None
    address: str | None
    language: str | None
    interpreter_needed: bool


@dataclass(frozen=True)
class Perpetrator:
    given_names: str | None
    family_name: str | None
    aliases: tuple[str, ...]
    date_of_birth: dt.date | None
    address: str | None
    relationship_to_victim: str | None


@dataclass(frozen=True)
class Child:
    given_names: str | None
    family_name: str | None
    date_of_birth: dt.date | None
    expected_date: dt.date | None
    relationship_to_victim: str | None
    relationship_to_perpetrator: str | None
    address: str | None
    school: str | None

    @property
    def unborn(self) -> bool:
        return self.expected_date is not None


@dataclass(frozen=True)
class Risk:
    risk: str
    to_whom: str | None
    interventions: str | None


@dataclass(frozen=True)
class OutstandingAction:
    agency: str
    action: str
    due: dt.date | None


@dataclass(frozen=True)
class DecisionMaker:
    name: str
    role: str


@dataclass(frozen=True)
class ConsentDecision:
    victim_informed: str
    consent: str
    grounds: tuple[str, ...]
    rationale: str | None
    disclosed: str | None
    restrictions: str | None
    decided_by: DecisionMaker
    decided_at: str
    decision_forum: str
    minutes_sharing_agreed_by: tuple[str, ...]


@dataclass(frozen=True)
class TransferRequest:
    schema_version: int
    from_area: str
    to_area: str
    sender: Sender
    reason: str
    originating_case_ref: str
    last_marac_date: dt.date
    marac_count_last_12_months: int
    referral_criteria: tuple[str, ...]
    dash_score: int | None
    incident_date: dt.date | None
    move: Move | None
    victim: Victim
    perpetrators: tuple[Perpetrator, ...]
    children: tuple[Child, ...]
    risks: tuple[Risk, ...]
    afraid_of: str | None
    safe_to_talk_to: str | None
    not_safe_to_talk_to: str | None
    new_information: str | None
    outstanding_actions: tuple[OutstandingAction, ...]
    restricted: bool
    restricted_reason: str | None
    consent: ConsentDecision


# --- schemas ---------------------------------------------------------------------------------


class SenderSchema(StrictSchema):
    name = required_text()
    role = required_text()
    mailbox = fields.Email(required=True, validate=validate.Length(max=EMAIL_MAX))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Sender:
        return Sender(**data)


class SafeContactSchema(StrictSchema):
    phone = optional_text()
    times = optional_text()
    notes = optional_text(MEDIUM)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> SafeContact:
        return SafeContact(**data)


class MoveSchema(StrictSchema):
    date = fields.Date(required=True)  # may be in the future: a planned move
    # Optional: a refuge address is normally withheld even from the receiving MARAC.
    new_address = optional_text(MEDIUM)
    contact_safe = StrictBoolean(required=True)
    safe_contact = fields.Nested(SafeContactSchema, load_default=None, allow_none=True)

    @validates_schema
    def check_safe_contact(self, data: dict[str, Any], **_: Any) -> None:
        # If contacting the victim the ordinary way is not safe, the receiving area must be
        # told how to reach her safely, or the first thing it does (write, phone, visit) may
        # tip off the perpetrator. An empty object would say nothing, so a phone number or
        # notes (e.g. "only via the refuge key worker") are required; times alone are not enough.
        if data.get("contact_safe") is not False:
            return
        safe: SafeContact | None = data.get("safe_contact")
        if safe is None or (_blank(safe.phone) and _blank(safe.notes)):
            raise ValidationError(
                {
                    "safe_contact": [
                        "Required when contact_safe is false: give at least a phone or notes "
                        "on how to contact the victim safely."
                    ]
                }
            )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Move:
        return Move(**data)


class VictimSchema(StrictSchema):
    given_names = required_text()
    family_name = required_text()
    aliases = _name_list()
    previous_family_names = _name_list()
    date_of_birth = PastDate(load_default=None, allow_none=True)  # a coordinator may not know it
    gender = optional_text()
    address = optional_text(MEDIUM)
    language = optional_text()
    interpreter_needed = StrictBoolean(load_default=False)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Victim:
        return Victim(**_tuples(data))


class PerpetratorSchema(StrictSchema):
    given_names = optional_text()
    family_name = optional_text()
    aliases = _name_list()
    date_of_birth = PastDate(load_default=None, allow_none=True)
    address = optional_text(MEDIUM)
    relationship_to_victim = optional_text()

    @validates_schema
    def check_identified(self, data: dict[str, Any], **_: Any) -> None:
        # A perpetrator entry nobody can match against local records is no use: some name
        # (possibly only a street name / alias) is needed, though not necessarily a full one.
        if (
            _blank(data.get("given_names"))
            and _blank(data.get("family_name"))
            and not data.get("aliases")
        ):
            raise ValidationError(
                {"given_names": ["Give at least a given name, a family name or an alias."]}
            )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Perpetrator:
        return Perpetrator(**_tuples(data))


class ChildSchema(StrictSchema):
    given_names = optional_text()  # required for a born child, see below
    family_name = optional_text()
    date_of_birth = PastDate(load_default=None, allow_none=True)
    expected_date = FutureDate(load_default=None, allow_none=True)  # unborn child
    relationship_to_victim = optional_text()
    relationship_to_perpetrator = optional_text()
    address = optional_text(MEDIUM)
    school = optional_text()

    @validates_schema
    def check_born_or_unborn(self, data: dict[str, Any], **_: Any) -> None:
        born = data.get("date_of_birth") is not None
        unborn = data.get("expected_date") is not None
        if born == unborn:
            message = "Give exactly one of date_of_birth (born child) or expected_date (unborn)."
            raise ValidationError({"date_of_birth": [message], "expected_date": [message]})
        if born and _blank(data.get("given_names")):
            raise ValidationError({"given_names": ["Required for a child who has been born."]})

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Child:
        return Child(**data)


class RiskSchema(StrictSchema):
    risk = required_text(MEDIUM)
    to_whom = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(RISK_SUBJECTS)
    )
    interventions = optional_text(MEDIUM)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Risk:
        return Risk(**data)


class OutstandingActionSchema(StrictSchema):
    agency = required_text()
    action = required_text(MEDIUM)
    due = fields.Date(load_default=None, allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> OutstandingAction:
        return OutstandingAction(**data)


class DecisionMakerSchema(StrictSchema):
    name = required_text()
    role = required_text()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> DecisionMaker:
        return DecisionMaker(**data)


class ConsentSchema(StrictSchema):
    victim_informed = fields.String(required=True, validate=validate.OneOf(VICTIM_INFORMED))
    consent = fields.String(required=True, validate=validate.OneOf(CONSENT_STATES))
    grounds = fields.List(
        fields.String(validate=_known_ground),
        load_default=list,
        validate=[validate.Length(max=MAX_GROUNDS), _no_duplicates],
    )
    rationale = optional_text(LONG)  # the risk the disclosure addresses
    disclosed = optional_text(LONG)  # what is disclosed
    restrictions = optional_text(MEDIUM)  # restrictions placed on the recipient
    decided_by = fields.Nested(DecisionMakerSchema, required=True)
    decided_at = PastTimestamp(required=True)
    decision_forum = fields.String(required=True, validate=validate.OneOf(DECISION_FORUMS))
    minutes_sharing_agreed_by = fields.List(
        _item(), load_default=list, validate=[validate.Length(max=MAX_AGENCIES), _no_duplicates]
    )

    @validates_schema
    def check_lawful_basis(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        consent = data.get("consent")
        informed = data.get("victim_informed")
        grounds = data.get("grounds") or []
        if consent == "given" and informed in ("no", "not_safe"):
            errors["consent"] = [
                "Consent cannot be 'given' when the victim has not been informed "
                f"(victim_informed is '{informed}')."
            ]
        if consent != "given":
            if not grounds:
                errors["grounds"] = [
                    "At least one legal ground is required when consent is not given."
                ]
            if _blank(data.get("disclosed")):
                errors["disclosed"] = [
                    "Required when consent is not given: state what is disclosed."
                ]
        # Rationale is required whenever grounds are relied on (given, or required above).
        if (grounds or consent != "given") and _blank(data.get("rationale")):
            errors["rationale"] = [
                "Required when legal grounds are relied on: state the risk the disclosure "
                "addresses."
            ]
        if errors:
            raise ValidationError(errors)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ConsentDecision:
        return ConsentDecision(**_tuples(data))


class TransferRequestSchema(StrictSchema):
    schema_version = StrictInteger(required=True, validate=validate.Equal(SCHEMA_VERSION))
    from_area = area_code(required=True)
    to_area = area_code(required=True)
    sender = fields.Nested(SenderSchema, required=True)
    reason = fields.String(required=True, validate=validate.OneOf(REASONS))
    originating_case_ref = required_text()
    last_marac_date = PastDate(required=True)
    marac_count_last_12_months = StrictInteger(
        required=True, validate=validate.Range(min=0, max=MARAC_COUNT_MAX)
    )
    referral_criteria = fields.List(
        fields.String(validate=validate.OneOf(REFERRAL_CRITERIA)),
        required=True,
        validate=[validate.Length(min=1, max=len(REFERRAL_CRITERIA)), _no_duplicates],
    )
    dash_score = StrictInteger(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=DASH_MAX)
    )
    incident_date = PastDate(load_default=None, allow_none=True)
    move = fields.Nested(MoveSchema, load_default=None, allow_none=True)
    victim = fields.Nested(VictimSchema, required=True)
    perpetrators = fields.List(
        fields.Nested(PerpetratorSchema),
        load_default=list,
        validate=validate.Length(max=MAX_PERPETRATORS),
    )
    children = fields.List(
        fields.Nested(ChildSchema), load_default=list, validate=validate.Length(max=MAX_CHILDREN)
    )
    risks = fields.List(
        fields.Nested(RiskSchema), load_default=list, validate=validate.Length(max=MAX_RISKS)
    )
    afraid_of = optional_text(MEDIUM)
    safe_to_talk_to = optional_text(MEDIUM)
    not_safe_to_talk_to = optional_text(MEDIUM)
    new_information = optional_text(LONG)
    outstanding_actions = fields.List(
        fields.Nested(OutstandingActionSchema),
        load_default=list,
        validate=validate.Length(max=MAX_ACTIONS),
    )
    restricted = StrictBoolean(load_default=False)
    restricted_reason = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(RESTRICTED_REASONS)
    )
    consent = fields.Nested(ConsentSchema, required=True)

    @validates_schema
    def check_consistency(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        if data.get("from_area") == data.get("to_area"):
            errors["to_area"] = ["Must differ from from_area."]
        if data.get("reason") in RELOCATION_REASONS and data.get("move") is None:
            errors["move"] = [f"Required when the reason is {data['reason']}."]
        criteria = data.get("referral_criteria") or []
        if "visible_high_risk" in criteria and data.get("dash_score") is None:
            errors["dash_score"] = ["Required when referral_criteria include visible_high_risk."]
        restricted = data.get("restricted", False)
        reason = data.get("restricted_reason")
        if restricted and reason is None:
            errors["restricted_reason"] = ["Required when restricted is true."]
        elif not restricted and reason is not None:
            errors["restricted_reason"] = ["Must be absent or null when restricted is false."]
        if errors:
            raise ValidationError(errors)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> TransferRequest:
        return TransferRequest(**_tuples(data))


def load_transfer_request(data: Mapping[str, Any]) -> TransferRequest:
    """Validate a decrypted `transfer_request` payload; raises marshmallow.ValidationError."""
    result = _SCHEMA.load(data)
    if not isinstance(result, TransferRequest):  # pragma: no cover - post_load guarantees it
        raise TypeError("TransferRequestSchema did not produce a TransferRequest.")
    return result


# What a part of a draft may not set: the envelope's addressing and the version.
FIXED_FIELDS = frozenset({"schema_version", "from_area", "to_area"})


def load_part(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate some fields of a request on their own (one page of the send journey) and
    return their canonical JSON values; raises ValidationError keyed by field. A name is a
    top-level field (`victim`) or one field of a nested object (`consent.grounds`, which
    comes back as `{"consent": {"grounds": [...]}}`). The rules that span several fields
    wait until the whole request is loaded."""
    errors: dict[str, Any] = {}
    canonical: dict[str, Any] = {}
    for name, value in data.items():
        parent, _, child = name.partition(".")
        field = _part_field(parent, child)
        if field is None:
            errors[name] = ["Unknown field."]
            continue
        try:
            loaded = field.deserialize(value, name, data)
        except ValidationError as exc:
            errors[name] = exc.messages
            continue
        dumped = field.serialize("value", {"value": loaded})
        if child:
            canonical.setdefault(parent, {})[child] = dumped
        else:
            canonical[name] = dumped
    if errors:
        raise ValidationError(errors)
    return canonical


def _part_field(parent: str, child: str) -> fields.Field[Any] | None:
    field = _SCHEMA.fields.get(parent)
    if field is None or parent in FIXED_FIELDS:
        return None
    if not child:
        return field
    if not isinstance(field, fields.Nested) or not isinstance(field.schema, StrictSchema):
        return None
    return field.schema.fields.get(child)


def dump_transfer_request(request: TransferRequest) -> dict[str, Any]:
    """The canonical JSON-able dict for a loaded request (inverse of load_transfer_request)."""
    result: dict[str, Any] = _SCHEMA.dump(request)
    return result


# Built once: constructing this schema costs several times more than using it, and loading
# or dumping keeps no state on the instance.
_SCHEMA = TransferRequestSchema()


__all__ = [
    "PAYLOAD_TYPE",
    "SCHEMA_VERSION",
    "Child",
    "ConsentDecision",
    "DecisionMaker",
    "Move",
    "OutstandingAction",
    "Perpetrator",
    "Risk",
    "SafeContact",
    "Sender",
    "TransferRequest",
    "TransferRequestSchema",
    "Victim",
    "dump_transfer_request",
    "load_part",
    "load_transfer_request",
]

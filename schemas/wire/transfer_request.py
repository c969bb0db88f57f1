"""Payload `transfer_request`, schema_versions 1 and 2 (binding): one MARAC area hands a case
to another. Version 1 is DESIGN section 4; version 2 (docs/contract.md) adds the victim's safe
contact on every transfer, urgency, the referral narrative, consent reasons apart from lawful
grounds, documents to follow and the IDVA handover. Both load into the same frozen
dataclasses (fields a version lacks are None or empty); `down_to_v1` rewrites a version 2
payload whose content fits version 1 for a node that accepts only version 1.

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
    DoesNotFit,
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
# The version new transfers are written in; every version up to it is accepted.
SCHEMA_VERSION = 2
V1 = 1

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
    # Version 1 only: version 2 carries contact in `VictimContact` on every transfer.
    contact_safe: bool | None = None
    safe_contact: SafeContact | None = None


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
    # Version 2: why consent was not sought (seed 004 ISP 5.3), apart from the lawful
    # grounds; version 1 recorded these as `consent_*` codes among the grounds.
    not_seeking_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class VictimContact:
    """How (and whether) the receiving area may reach the victim (seed 004 referral form
    "Is this number safe to call?"; seed 001 4.4.4: say so when contact would raise risk)."""

    phone: str | None
    safe_to_call: bool | None
    safe_times: str | None
    other_safe_ways: str | None
    do_not_contact: bool
    do_not_contact_reason: str | None


@dataclass(frozen=True)
class Referral:
    """The referral narrative of seed 004's referral form."""

    incident: str | None
    contributory_factors: str | None
    relevant_history: str | None
    comment: str | None
    police_callouts_12_months: int | None


@dataclass(frozen=True)
class Equality:
    """Optional equality monitoring codes (SafeLives data form); never used for linkage."""

    bme: str | None
    disabled: str | None
    lgbt: str | None


@dataclass(frozen=True)
class DocumentToFollow:
    document: str
    by: dt.date


@dataclass(frozen=True)
class DocumentNotShared:
    document: str
    reason: str


@dataclass(frozen=True)
class DocumentsPlan:
    to_follow: tuple[DocumentToFollow, ...]
    not_shared: tuple[DocumentNotShared, ...]


@dataclass(frozen=True)
class IdvaContact:
    name: str
    organisation: str | None
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class TransferRequest:
    schema_version: int
    from_area: str
    to_area: str
    sender: Sender
    reason: str
    originating_case_ref: str
    last_marac_date: dt.date | None  # None only in version 2, when not heard at a MARAC
    marac_count_last_12_months: int | None
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
    # Version 2 (defaults: what a version 1 request means).
    heard_at_originating_marac: bool = True
    urgent: bool = False
    urgent_reason: str | None = None
    contact: VictimContact | None = None
    referral: Referral | None = None
    equality: Equality | None = None
    documents: DocumentsPlan | None = None
    idva: IdvaContact | None = None


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
    """Version 1, as DESIGN section 4 binds it: unchanged, so version 1 payloads keep being
    accepted as they were."""

    schema_version = StrictInteger(required=True, validate=validate.Equal(V1))
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


# --- version 2 (docs/contract.md, "transfer_request version 2") -----------------------------

# Why consent was not sought (seed 004 ISP 5.3), a field of its own from version 2 on.
NOT_SEEKING_REASONS = (
    "would_increase_risk",
    "would_prejudice_crime_prevention",
    "would_cause_undue_delay",
)
# The version 1 ground code that said the same, for down-conversion.
V1_REASON_GROUNDS = {reason: f"consent_{reason}" for reason in NOT_SEEKING_REASONS}
RESTRICTED_REASONS_V2 = (*RESTRICTED_REASONS, "forced_marriage")
# Equality monitoring answers (SafeLives MARAC data form: BME, disabled, LGBT).
MONITORING = ("yes", "no", "not_known")
# Criteria whose basis the referrer explains in a comment (seed 004 referral form).
COMMENTED_CRITERIA = frozenset({"professional_judgement", "potential_escalation"})
POLICE_CALLOUTS_MAX = 366
MAX_DOCUMENTS = 50


def _lawful_ground(code: str) -> None:
    _known_ground(code)
    if code in V1_REASON_GROUNDS.values():
        raise ValidationError("A reason for not seeking consent: use not_seeking_reasons.")


class MoveV2Schema(StrictSchema):
    date = fields.Date(required=True)
    new_address = optional_text(MEDIUM)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Move:
        return Move(**data)


class VictimContactSchema(StrictSchema):
    phone = optional_text()
    safe_to_call = StrictBoolean(load_default=None, allow_none=True)
    safe_times = optional_text()
    other_safe_ways = optional_text(MEDIUM)
    do_not_contact = StrictBoolean(required=True)
    do_not_contact_reason = optional_text(MEDIUM)

    @validates_schema
    def check_reachable(self, data: dict[str, Any], **_: Any) -> None:
        # The first thing a receiving area does is make contact: it must know how to do so
        # safely, or that it must not (seed 001 4.4.4: contact that would raise the risk).
        errors: dict[str, list[str]] = {}
        phone, other = data.get("phone"), data.get("other_safe_ways")
        if data.get("do_not_contact"):
            if _blank(data.get("do_not_contact_reason")):
                errors["do_not_contact_reason"] = [
                    "Required when the victim must not be contacted: say why."
                ]
        else:
            if not _blank(data.get("do_not_contact_reason")):
                errors["do_not_contact_reason"] = ["Only when the victim must not be contacted."]
            if _blank(phone) and _blank(other):
                errors["phone"] = [
                    "Give a phone number or other safe ways to make contact, or say that the "
                    "victim must not be contacted."
                ]
        if not _blank(phone) and data.get("safe_to_call") is None:
            errors["safe_to_call"] = ["Required with a phone number: is it safe to call?"]
        if data.get("safe_to_call") is False and _blank(other) and not data.get("do_not_contact"):
            errors["other_safe_ways"] = ["Required when the number is not safe to call."]
        if errors:
            raise ValidationError(errors)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> VictimContact:
        return VictimContact(**data)


class ReferralSchema(StrictSchema):
    incident = optional_text(LONG)
    contributory_factors = optional_text(LONG)
    relevant_history = optional_text(LONG)
    comment = optional_text(LONG)
    police_callouts_12_months = StrictInteger(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=POLICE_CALLOUTS_MAX)
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Referral:
        return Referral(**data)


def _monitoring() -> fields.String:
    return fields.String(load_default=None, allow_none=True, validate=validate.OneOf(MONITORING))


class EqualitySchema(StrictSchema):
    bme = _monitoring()
    disabled = _monitoring()
    lgbt = _monitoring()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Equality:
        return Equality(**data)


class DocumentToFollowSchema(StrictSchema):
    document = required_text()
    by = fields.Date(required=True)  # a promise: usually in the future

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> DocumentToFollow:
        return DocumentToFollow(**data)


class DocumentNotSharedSchema(StrictSchema):
    document = required_text()
    reason = required_text(MEDIUM)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> DocumentNotShared:
        return DocumentNotShared(**data)


class DocumentsPlanSchema(StrictSchema):
    to_follow = fields.List(
        fields.Nested(DocumentToFollowSchema),
        load_default=list,
        validate=validate.Length(max=MAX_DOCUMENTS),
    )
    not_shared = fields.List(
        fields.Nested(DocumentNotSharedSchema),
        load_default=list,
        validate=validate.Length(max=MAX_DOCUMENTS),
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> DocumentsPlan:
        return DocumentsPlan(**_tuples(data))


class IdvaContactSchema(StrictSchema):
    name = required_text()
    organisation = optional_text()
    phone = optional_text()
    email = fields.Email(
        load_default=None, allow_none=True, validate=validate.Length(max=EMAIL_MAX)
    )

    @validates_schema
    def check_reachable(self, data: dict[str, Any], **_: Any) -> None:
        if _blank(data.get("phone")) and _blank(data.get("email")):
            raise ValidationError({"phone": ["Give the IDVA's phone or email for the handover."]})

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> IdvaContact:
        return IdvaContact(**data)


class ConsentV2Schema(ConsentSchema):
    grounds = fields.List(
        fields.String(validate=_lawful_ground),
        load_default=list,
        validate=[validate.Length(max=MAX_GROUNDS), _no_duplicates],
    )
    not_seeking_reasons = fields.List(
        fields.String(validate=validate.OneOf(NOT_SEEKING_REASONS)),
        load_default=list,
        validate=[validate.Length(max=len(NOT_SEEKING_REASONS)), _no_duplicates],
    )

    @validates_schema
    def check_v2(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        consent = data.get("consent")
        if consent == "not_sought" and not data.get("not_seeking_reasons"):
            errors["not_seeking_reasons"] = [
                "Required when consent was not sought: say why it was not sought."
            ]
        if consent != "not_sought" and data.get("not_seeking_reasons"):
            errors["not_seeking_reasons"] = ["Only when consent was not sought."]
        if consent in ("given", "refused") and data.get("victim_informed") != "yes":
            errors["victim_informed"] = [
                f"Must be 'yes' when consent is '{consent}': the victim was asked."
            ]
        if consent != "given" and _blank(data.get("restrictions")):
            errors["restrictions"] = [
                "Required when consent is not given: state the restrictions on the recipient."
            ]
        if errors:
            raise ValidationError(errors)


class TransferRequestV2Schema(TransferRequestSchema):
    """Version 2: version 1's fields and rules, with the changes docs/contract.md lists."""

    schema_version = StrictInteger(required=True, validate=validate.Equal(SCHEMA_VERSION))
    heard_at_originating_marac = StrictBoolean(required=True)
    last_marac_date = PastDate(load_default=None, allow_none=True)
    marac_count_last_12_months = StrictInteger(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=MARAC_COUNT_MAX)
    )
    urgent = StrictBoolean(required=True)
    urgent_reason = optional_text(MEDIUM)
    contact = fields.Nested(VictimContactSchema, required=True)
    move = fields.Nested(MoveV2Schema, load_default=None, allow_none=True)
    referral = fields.Nested(ReferralSchema, required=True)
    equality = fields.Nested(EqualitySchema, load_default=None, allow_none=True)
    documents = fields.Nested(DocumentsPlanSchema, load_default=None, allow_none=True)
    idva = fields.Nested(IdvaContactSchema, load_default=None, allow_none=True)
    restricted_reason = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(RESTRICTED_REASONS_V2)
    )
    consent = fields.Nested(ConsentV2Schema, required=True)

    @validates_schema
    def check_v2(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, Any] = {}
        if data.get("heard_at_originating_marac"):
            for name in ("last_marac_date", "marac_count_last_12_months"):
                if data.get(name) is None:
                    errors[name] = ["Required when the case was heard at your MARAC."]
        if data.get("urgent") and _blank(data.get("urgent_reason")):
            errors["urgent_reason"] = ["Required when the transfer is urgent: say why."]
        if not data.get("urgent") and not _blank(data.get("urgent_reason")):
            errors["urgent_reason"] = ["Only when the transfer is urgent."]
        criteria = set(data.get("referral_criteria") or ())
        referral: Referral | None = data.get("referral")
        if criteria & COMMENTED_CRITERIA and (referral is None or _blank(referral.comment)):
            errors["referral"] = {
                "comment": [
                    "Required when the referral rests on professional judgement or "
                    "potential escalation."
                ]
            }
        if errors:
            raise ValidationError(errors)


def _schema_for(data: Mapping[str, Any]) -> TransferRequestSchema:
    version = data.get("schema_version")
    schema = _SCHEMAS.get(version) if isinstance(version, int) else None
    if schema is None or isinstance(version, bool):
        versions = ", ".join(str(v) for v in _SCHEMAS)
        raise ValidationError({"schema_version": [f"Must be one of: {versions}."]})
    return schema


def load_transfer_request(data: Mapping[str, Any]) -> TransferRequest:
    """Validate a decrypted `transfer_request` payload of any accepted version; raises
    marshmallow.ValidationError."""
    result = _schema_for(data).load(data)
    if not isinstance(result, TransferRequest):  # pragma: no cover - post_load guarantees it
        raise TypeError("TransferRequestSchema did not produce a TransferRequest.")
    return result


def down_to_v1(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A version 2 payload as version 1, when every fact it holds has a place there
    (docs/contract.md); otherwise DoesNotFit naming the fields that have none."""
    request = load_transfer_request(payload)
    misfits = _misfits(request)
    if misfits:
        raise DoesNotFit(misfits)
    contact = request.contact
    older = {key: value for key, value in payload.items() if key in _SCHEMAS[V1].fields}
    older["schema_version"] = V1
    if older.get("move") is not None and contact is not None:
        ways = {"phone": contact.phone, "times": contact.safe_times}
        ways["notes"] = contact.other_safe_ways
        older["move"] = {
            **older["move"],
            "contact_safe": contact.safe_to_call is True,
            "safe_contact": ways if any(not _blank(v) for v in ways.values()) else None,
        }
    consent = dict(older["consent"])
    reasons = [V1_REASON_GROUNDS[r] for r in request.consent.not_seeking_reasons]
    consent["grounds"] = [*consent["grounds"], *reasons]
    consent.pop("not_seeking_reasons", None)
    older["consent"] = consent
    try:
        return dump_transfer_request(load_transfer_request(older))
    except ValidationError as exc:  # a rule of version 1 the version 2 content breaks
        raise DoesNotFit(tuple(sorted(exc.messages_dict))) from exc


def _misfits(request: TransferRequest) -> tuple[str, ...]:
    """The version 2 fields holding facts version 1 has no place for."""
    found = []
    if not request.heard_at_originating_marac:
        found.append("heard_at_originating_marac")
    if request.urgent:
        found.append("urgent")
    contact = request.contact
    if request.move is None:
        found.append("contact")  # version 1 carries safe contact only with a move
    elif contact is not None and contact.do_not_contact:
        found.append("contact.do_not_contact")
    referral = request.referral
    if referral is not None:
        found += [f"referral.{k}" for k, v in vars(referral).items() if v not in (None, "")]
    if request.equality is not None and any(vars(request.equality).values()):
        found.append("equality")
    plan = request.documents
    if plan is not None and (plan.to_follow or plan.not_shared):
        found.append("documents")
    if request.idva is not None:
        found.append("idva")
    if request.restricted_reason not in (None, *RESTRICTED_REASONS):
        found.append("restricted_reason")
    return tuple(found)


# What a part of a draft may not set: the envelope's addressing and the version.
FIXED_FIELDS = frozenset({"schema_version", "from_area", "to_area"})


def load_part(data: Mapping[str, Any], version: int = SCHEMA_VERSION) -> dict[str, Any]:
    """Validate some fields of a request on their own (one page of the send journey) and
    return their canonical JSON values; raises ValidationError keyed by field. A name is a
    top-level field (`victim`) or one field of a nested object (`consent.grounds`, which
    comes back as `{"consent": {"grounds": [...]}}`). The rules that span several fields
    wait until the whole request is loaded. `version` is the draft's own: a draft keeps the
    version it was started in."""
    schema = _SCHEMAS.get(version, _NEWEST)
    errors: dict[str, Any] = {}
    canonical: dict[str, Any] = {}
    for name, value in data.items():
        parent, _, child = name.partition(".")
        field = _part_field(schema, parent, child)
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


def _part_field(schema: TransferRequestSchema, parent: str, child: str) -> fields.Field[Any] | None:
    field = schema.fields.get(parent)
    if field is None or parent in FIXED_FIELDS:
        return None
    if not child:
        return field
    if not isinstance(field, fields.Nested) or not isinstance(field.schema, StrictSchema):
        return None
    return field.schema.fields.get(child)


def dump_transfer_request(request: TransferRequest) -> dict[str, Any]:
    """The canonical JSON-able dict for a loaded request (inverse of load_transfer_request)."""
    result: dict[str, Any] = _SCHEMAS[request.schema_version].dump(request)
    return result


# Built once: constructing these schemas costs several times more than using them, and
# loading or dumping keeps no state on the instance.
_SCHEMAS: dict[int, TransferRequestSchema] = {
    V1: TransferRequestSchema(),
    SCHEMA_VERSION: TransferRequestV2Schema(),
}
_NEWEST = _SCHEMAS[SCHEMA_VERSION]


__all__ = [
    "PAYLOAD_TYPE",
    "SCHEMA_VERSION",
    "Child",
    "ConsentDecision",
    "DecisionMaker",
    "DocumentsPlan",
    "Equality",
    "IdvaContact",
    "Move",
    "OutstandingAction",
    "Perpetrator",
    "Referral",
    "Risk",
    "SafeContact",
    "Sender",
    "TransferRequest",
    "TransferRequestSchema",
    "TransferRequestV2Schema",
    "Victim",
    "VictimContact",
    "down_to_v1",
    "dump_transfer_request",
    "load_part",
    "load_transfer_request",
]

"""Payload `idva_referral`, schema_version 1 (docs/contract.md): the receiving area tells
the sending area, after its acknowledgement, that the victim was referred to its IDVA
service (seed 003: the MARAC refers the case to the IDVA service "at the point of
referral"; 001 4.3: the IDVA contacts the victim before the meeting). The acknowledgement's
`idva_referred` says only yes or no on the day; this reply gives the fact when it comes
later: when, to which service, and, once known, whether the IDVA service took the case.

It travels sealed, in reply to the transfer's envelope (`in_reply_to`), like the other
replies. Unknown fields are refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import fields, post_load, validate

from schemas.common import MEDIUM, PastDate, StrictSchema, optional_text, required_text
from schemas.wire.addressed import addressed, one_of
from schemas.wire.transfer_request import DecisionMaker, DecisionMakerSchema

PAYLOAD_TYPE = "idva_referral"
SCHEMA_VERSION = 1
ACCEPTED, DECLINED = "accepted", "declined"
OUTCOMES = (ACCEPTED, DECLINED)
OUTCOME_WORDS = {
    ACCEPTED: "The IDVA service took the case",
    DECLINED: "The IDVA service declined the case",
}


@dataclass(frozen=True)
class IdvaReferralBody:
    referred_on: dt.date
    idva_service: str
    outcome: str | None
    note: str | None
    reported_by: DecisionMaker


@dataclass(frozen=True)
class IdvaReferral(IdvaReferralBody):
    schema_version: int
    from_area: str
    to_area: str


class IdvaReferralBodySchema(StrictSchema):
    referred_on = PastDate(
        required=True, metadata={"description": "The day the referral to the IDVA was made."}
    )
    # The IDVA service (agency) the victim was referred to.
    idva_service = required_text()
    outcome = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(OUTCOMES),
        metadata={"description": "Whether the IDVA service took the case, once known."},
    )
    note = optional_text(MEDIUM)
    reported_by = fields.Nested(DecisionMakerSchema, required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> IdvaReferralBody:
        return IdvaReferralBody(**data)


class IdvaReferralSchema(IdvaReferralBodySchema, addressed(SCHEMA_VERSION)):  # type: ignore[misc]
    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> IdvaReferral:
        return IdvaReferral(**data)


def load_idva_referral_body(data: Mapping[str, Any]) -> IdvaReferralBody:
    """Validate what a coordinator posted; raises marshmallow.ValidationError."""
    loaded: IdvaReferralBody = one_of(_BODY, data, IdvaReferralBody)
    return loaded


def load_idva_referral(data: Mapping[str, Any]) -> IdvaReferral:
    """Validate a decrypted `idva_referral` payload; raises marshmallow.ValidationError."""
    loaded: IdvaReferral = one_of(_SCHEMA, data, IdvaReferral)
    return loaded


def dump_idva_referral(referral: IdvaReferral) -> dict[str, Any]:
    result: dict[str, Any] = _SCHEMA.dump(referral)
    return result


_BODY = IdvaReferralBodySchema()
_SCHEMA = IdvaReferralSchema()

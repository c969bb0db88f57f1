"""Payload `withdrawal`, schema_version 1: the originating area takes a transfer back,
with a reason code (seed 000 4.19.2: what was shared stays the originator's).

`WithdrawalBodySchema` is what a coordinator posts to
`/api/v1/transfers/<id>/withdrawal`; `WithdrawalSchema` is the payload that travels, the
same body plus the addressing the node fills in. Unknown fields are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import fields, post_load, validate

from schemas.common import MEDIUM, StrictSchema, optional_text
from schemas.wire.addressed import addressed, one_of
from schemas.wire.transfer_request import DecisionMaker, DecisionMakerSchema

PAYLOAD_TYPE = "withdrawal"
SCHEMA_VERSION = 1
REASONS = ("sent_in_error", "wrong_area", "risk_changed", "victim_returned", "other")


@dataclass(frozen=True)
class WithdrawalBody:
    reason: str
    note: str | None
    withdrawn_by: DecisionMaker


@dataclass(frozen=True)
class Withdrawal(WithdrawalBody):
    schema_version: int
    from_area: str
    to_area: str


class WithdrawalBodySchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.OneOf(REASONS))
    note = optional_text(MEDIUM)
    withdrawn_by = fields.Nested(DecisionMakerSchema, required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> WithdrawalBody:
        return WithdrawalBody(**data)


class WithdrawalSchema(WithdrawalBodySchema, addressed(SCHEMA_VERSION)):  # type: ignore[misc]
    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Withdrawal:
        return Withdrawal(**data)


def load_withdrawal_body(data: Mapping[str, Any]) -> WithdrawalBody:
    """Validate what a coordinator posted; raises marshmallow.ValidationError."""
    loaded: WithdrawalBody = one_of(_BODY, data, WithdrawalBody)
    return loaded


def load_withdrawal(data: Mapping[str, Any]) -> Withdrawal:
    """Validate a decrypted `withdrawal` payload; raises marshmallow.ValidationError."""
    loaded: Withdrawal = one_of(_SCHEMA, data, Withdrawal)
    return loaded


def dump_withdrawal(withdrawal: Withdrawal) -> dict[str, Any]:
    result: dict[str, Any] = _SCHEMA.dump(withdrawal)
    return result


_BODY = WithdrawalBodySchema()
_SCHEMA = WithdrawalSchema()

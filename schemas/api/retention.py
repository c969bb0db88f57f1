"""Bodies of the retention decisions on one area's copy of a case (seed 004 ISP 8.4-8.6:
keep what a risk still justifies and no longer; 9.7-9.8: a court may order disclosure, so
what is held must survive until the proceedings are done):

- `POST /api/v1/transfers/<id>/legal-hold`        set a legal hold: the purge leaves it
- `POST /api/v1/transfers/<id>/legal-hold/lift`   lift it: the schedule applies again
- `POST /api/v1/transfers/<id>/early-purge`       purge its content now

Each is `{"reason": "<code>", "note": "<text>"}`. The code is what the audit and reports
show; the note (which may name a court or a person) is kept sealed with the decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import fields, post_load, validate

from schemas.common import MEDIUM, StrictSchema, required_text
from schemas.wire.addressed import one_of

HOLD, LIFT, EARLY_PURGE = "hold", "lift", "purge"
REASONS: dict[str, tuple[str, ...]] = {
    HOLD: (
        "court_proceedings",  # 9.7: disclosure may be ordered in proceedings in prospect
        "court_order",  # 9.8: an order for disclosure was served
        "subject_access_request",  # 9.3: a request for the information is being answered
        "police_investigation",
        "statutory_review",  # a domestic homicide or safeguarding review
        "complaint",
        "other",
    ),
    LIFT: (
        "proceedings_concluded",
        "request_answered",
        "no_longer_required",
        "set_in_error",
        "other",
    ),
    EARLY_PURGE: (
        "risk_no_longer_present",  # 8.4: held only while a risk remains
        "review_found_not_relevant",  # 8.5: the six- or twelve-month review
        "sent_in_error",
        "other",
    ),
}


@dataclass(frozen=True)
class Decision:
    reason: str
    note: str


class _DecisionSchema(StrictSchema):
    note = required_text(MEDIUM)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Decision:
        return Decision(**data)


class LegalHoldSchema(_DecisionSchema):
    reason = fields.String(required=True, validate=validate.OneOf(REASONS[HOLD]))


class LiftHoldSchema(_DecisionSchema):
    reason = fields.String(required=True, validate=validate.OneOf(REASONS[LIFT]))


class EarlyPurgeSchema(_DecisionSchema):
    reason = fields.String(required=True, validate=validate.OneOf(REASONS[EARLY_PURGE]))


_SCHEMAS = {HOLD: LegalHoldSchema(), LIFT: LiftHoldSchema(), EARLY_PURGE: EarlyPurgeSchema()}


class RetentionViewSchema(StrictSchema):
    transfer_id = fields.String(required=True)
    legal_hold = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The hold's reason code; null when not held."},
    )
    legal_hold_since = fields.DateTime(allow_none=True, required=True)
    purged_at = fields.DateTime(allow_none=True, required=True)
    decision = fields.String(required=True, metadata={"description": "The decision's id."})


def load_decision(decision: str, data: Mapping[str, Any]) -> Decision:
    """Validate a decision body; raises ValidationError."""
    loaded: Decision = one_of(_SCHEMAS[decision], data, Decision)
    return loaded

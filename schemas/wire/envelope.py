"""Envelope v1 (DESIGN section 4, binding): the outer, content-free wire format."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from marshmallow import fields, post_load, validate

from schemas.common import B64Url, StrictSchema, UTCTimestamp, UUIDString, area_code

PAYLOAD_TYPES = (
    "transfer_request",
    "document",
    "acknowledgement",
    "information_request",
    "withdrawal",
    "flag_notice",
    "repeat_incident",
    "forward_permission",
    # Added after DESIGN section 4 (docs/contract.md): sent only to nodes listing it.
    "idva_referral",
)
# Where a peer posts envelopes (DESIGN section 4, federation HTTP).
ENVELOPES_PATH = "/federation/v1/envelopes"
# Several envelopes in one authenticated POST, each signed and answered on its own
# (docs/contract.md, "Envelope batches"); offered by a node whose bundle lists it.
ENVELOPE_BATCHES_PATH = "/federation/v1/envelope-batches"
# The bundle's `exchanges` member names it, with the versions of the exchange it serves.
ENVELOPE_BATCH_EXCHANGE = "envelope_batch"
# A batch is for a burst of ordinary envelopes: at most this many, this many bytes in all
# (an envelope carrying a large document travels alone, on ENVELOPES_PATH).
BATCH_MAX_ENVELOPES = 25
BATCH_MAX_BYTES = 4 * 1024 * 1024
KEY_ID_SHAPE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
KEY_ID = validate.Regexp(KEY_ID_SHAPE, error="Not a valid key id.")


@dataclass(frozen=True)
class Party:
    area: str
    key: str


@dataclass(frozen=True)
class Envelope:
    v: int
    id: str
    type: str
    sender: Party
    recipient: Party
    created_at: str
    in_reply_to: str | None
    sealed_key: str
    nonce: str
    ciphertext: str
    sig: str
    evidence: dict[str, Any] | None = None


class PartySchema(StrictSchema):
    area = area_code(required=True)
    key = fields.String(required=True, validate=KEY_ID)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Party:
        return Party(**data)


class EnvelopeSchema(StrictSchema):
    v = fields.Integer(required=True, strict=True, validate=validate.Equal(1))
    id = UUIDString(required=True)
    type = fields.String(required=True, validate=validate.OneOf(PAYLOAD_TYPES))
    sender = fields.Nested(PartySchema, required=True, data_key="from")
    recipient = fields.Nested(PartySchema, required=True, data_key="to")
    created_at = UTCTimestamp(required=True)
    in_reply_to = UUIDString(required=True, allow_none=True)
    sealed_key = B64Url(required=True, validate=validate.Length(max=200))
    nonce = B64Url(required=True, validate=validate.Length(max=64))
    ciphertext = B64Url(required=True, validate=validate.Length(min=1))
    sig = B64Url(required=True, validate=validate.Length(max=128))
    # Outside the signature; a receiver that does not yet understand it ignores it.
    evidence = fields.Dict(load_default=None, allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Envelope:
        return Envelope(**data)

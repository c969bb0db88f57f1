"""Audit documents that cross between nodes (DESIGN section 7): checkpoints, the evidence
an outbound envelope carries, consistency answers and co-signatures. None holds personal
data: leaves carry ids, codes, digests and a salted commitment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError, fields, post_load, validate

from schemas.common import B64Url, StrictSchema, UTCTimestamp, area_code
from schemas.wire.envelope import KEY_ID

CHECKPOINT_KIND = "checkpoint"
COSIGNATURE_KIND = "cosignature"
RESTORE_KIND = "audit-restore"
MAX_RESTORES = 16
HASH_B64 = validate.Length(equal=43)  # 32 bytes, unpadded base64url
MAX_PROOF = 64  # a proof for a tree of 2**63 leaves is at most 126 hashes; 64 is plenty here
DIGEST_HEX = validate.Regexp(r"^[0-9a-f]{64}$")
_HASH_TEXT = re.compile(r"[A-Za-z0-9_-]{43}")  # HASH_B64's 43 characters of base64url


class HashList(fields.Field[list[str]]):
    """A Merkle proof: at most MAX_PROOF hashes, each unpadded base64url of HASH_B64's
    length (decoding belongs to `keys`). One field, not a List of B64Url: an inclusion
    proof travels with every envelope, and a field per hash was most of the cost of
    loading its evidence."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        if not isinstance(value, list):
            raise ValidationError("Not a valid list.")
        if len(value) > MAX_PROOF:
            raise ValidationError(f"At most {MAX_PROOF} hashes.")
        for item in value:
            if not isinstance(item, str) or _HASH_TEXT.fullmatch(item) is None:
                raise ValidationError("Each hash must be 32 bytes in unpadded base64url.")
        return list(value)


@dataclass(frozen=True)
class CheckpointBody:
    kind: str
    v: int
    area: str
    size: int
    root: str
    issued_at: str
    key: str


class CheckpointBodySchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.Equal(CHECKPOINT_KIND))
    v = fields.Integer(required=True, strict=True, validate=validate.Equal(1))
    area = area_code(required=True)
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    root = B64Url(required=True, validate=HASH_B64)
    issued_at = UTCTimestamp(required=True)
    key = fields.String(required=True, validate=KEY_ID)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> CheckpointBody:
        return CheckpointBody(**data)


class ActorSchema(StrictSchema):
    kind = fields.String(
        required=True, validate=validate.OneOf(["user", "client", "peer", "operator", "system"])
    )
    id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    role = fields.String(validate=validate.Length(max=32))


class LeafSchema(StrictSchema):
    """A peer's leaf, checked for shape before we hash it and compare it with the envelope."""

    v = fields.Integer(required=True, strict=True, validate=validate.Equal(1))
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    area = area_code(required=True)
    at = UTCTimestamp(required=True)
    action = fields.String(required=True, validate=validate.Length(min=1, max=64))
    actor = fields.Nested(ActorSchema, required=True)
    peer_area = area_code(required=True, allow_none=True)
    objects = fields.Dict(
        keys=fields.String(validate=validate.Length(max=32)),
        values=fields.String(validate=validate.Length(max=64)),
        required=True,
    )
    envelope_digest = fields.String(required=True, allow_none=True, validate=DIGEST_HEX)
    legal_basis = fields.List(
        fields.String(validate=validate.Length(max=64)),
        required=True,
        validate=validate.Length(max=20),
    )
    consent = fields.String(required=True, allow_none=True, validate=validate.Length(max=32))
    commitment = B64Url(required=True, allow_none=True, validate=HASH_B64)
    details = fields.Dict(keys=fields.String(validate=validate.Length(max=32)), required=True)


@dataclass(frozen=True)
class RestoreBody:
    """An area's signed word that its log was restored from a backup holding `size`
    entries (root `root`): checkpoints it signed at or before `issued_at` of a larger size
    describe entries the restore lost."""

    kind: str
    v: int
    area: str
    size: int
    root: str
    issued_at: str
    key: str


class RestoreBodySchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.Equal(RESTORE_KIND))
    v = fields.Integer(required=True, strict=True, validate=validate.Equal(1))
    area = area_code(required=True)
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    root = B64Url(required=True, validate=HASH_B64)
    issued_at = UTCTimestamp(required=True)
    key = fields.String(required=True, validate=KEY_ID)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RestoreBody:
        return RestoreBody(**data)


@dataclass(frozen=True)
class RestoreProof:
    declaration: dict[str, Any]
    proof: list[str]


class RestoreProofSchema(StrictSchema):
    """A restore declaration and the consistency proof from its size to the checkpoint it
    travels with: the restored log still extends what the backup held."""

    declaration = fields.Dict(required=True)
    proof = HashList(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RestoreProof:
        return RestoreProof(**data)


def restore_list() -> fields.List[Any]:
    return fields.List(
        fields.Nested(RestoreProofSchema),
        load_default=list,
        validate=validate.Length(max=MAX_RESTORES),
    )


@dataclass(frozen=True)
class Evidence:
    leaf: dict[str, Any]
    index: int
    proof: list[str]
    checkpoint: dict[str, Any]
    restores: list[RestoreProof]


class EvidenceSchema(StrictSchema):
    v = fields.Integer(required=True, strict=True, validate=validate.Equal(1))
    leaf = fields.Dict(required=True)
    index = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    proof = HashList(required=True)
    checkpoint = fields.Dict(required=True)
    restores = restore_list()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Evidence:
        data.pop("v")
        return Evidence(**data)


@dataclass(frozen=True)
class ConsistencyRequest:
    area: str
    sizes: list[int]


class ConsistencyRequestSchema(StrictSchema):
    area = area_code(required=True)
    sizes = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1)),
        required=True,
        validate=validate.Length(max=100),
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ConsistencyRequest:
        return ConsistencyRequest(**data)


@dataclass(frozen=True)
class ConsistencyAnswer:
    checkpoint: dict[str, Any]
    proofs: dict[str, list[str]]
    restores: list[RestoreProof]


class ConsistencyAnswerSchema(StrictSchema):
    checkpoint = fields.Dict(required=True)
    proofs = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[1-9][0-9]{0,18}$")),
        values=HashList(),
        required=True,
    )
    restores = restore_list()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ConsistencyAnswer:
        return ConsistencyAnswer(**data)


@dataclass(frozen=True)
class CosignatureBody:
    kind: str
    v: int
    area: str
    witness: str
    size: int
    root: str
    issued_at: str
    key: str


class CosignatureBodySchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.Equal(COSIGNATURE_KIND))
    v = fields.Integer(required=True, strict=True, validate=validate.Equal(1))
    area = area_code(required=True)  # whose checkpoint is witnessed
    witness = area_code(required=True)
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    root = B64Url(required=True, validate=HASH_B64)
    issued_at = UTCTimestamp(required=True)
    key = fields.String(required=True, validate=KEY_ID)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> CosignatureBody:
        return CosignatureBody(**data)


class AuditRefSchema(StrictSchema):
    """What a receipt commits to: the receiver's own leaf for this envelope."""

    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    leaf_hash = fields.String(required=True, validate=DIGEST_HEX)

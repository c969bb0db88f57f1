"""The audit evidence an envelope carries (DESIGN section 7): its Merkle proof is checked as
one field, and accepts and refuses exactly what a list of base64url hashes of 32 bytes,
at most MAX_PROOF of them, did."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, validate

from schemas.common import B64Url
from schemas.wire.audit_evidence import (
    HASH_B64,
    MAX_PROOF,
    ConsistencyAnswerSchema,
    EvidenceSchema,
)


class _ListOfHashes(Schema):
    """The proof as it was declared before: a field per hash."""

    proof = fields.List(
        B64Url(validate=HASH_B64), required=True, validate=validate.Length(max=MAX_PROOF)
    )


def _hash() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def _evidence(proof: Any) -> dict[str, Any]:
    return {"v": 1, "leaf": {}, "index": 3, "proof": proof, "checkpoint": {}}


def _accepted(schema: Schema, data: dict[str, Any]) -> bool:
    try:
        schema.load(data)
    except ValidationError:
        return False
    return True


# What parsed JSON can hold (the schemas load parsed JSON, never bytes).
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
hash_like = st.one_of(
    st.text(alphabet=_ALPHABET, min_size=42, max_size=44),
    st.text(alphabet=_ALPHABET + "=+/ \n.é", min_size=43, max_size=43),
    st.text(alphabet=_ALPHABET, min_size=43, max_size=43).map(lambda text: text + "\n"),
    st.integers(),
    st.none(),
)


@given(
    proof=st.one_of(
        st.lists(hash_like, max_size=4),
        st.lists(st.just("A" * 43), min_size=MAX_PROOF - 1, max_size=MAX_PROOF + 1),
        st.none(),
        st.text(max_size=3),
        st.dictionaries(st.text(max_size=2), st.text(max_size=2), max_size=2),
    )
)
def test_the_proof_field_accepts_exactly_what_a_list_of_hashes_did(proof: Any) -> None:
    expected = _accepted(_ListOfHashes(), {"proof": proof})
    assert _accepted(EvidenceSchema(), _evidence(proof)) is expected


def test_a_real_proof_loads_unchanged() -> None:
    proof = [_hash() for _ in range(17)]
    assert EvidenceSchema().load(_evidence(proof)).proof == proof


@pytest.mark.parametrize(
    ("proof", "message"),
    [
        ("A" * 43, "Not a valid list."),
        (["A" * 43] * (MAX_PROOF + 1), f"At most {MAX_PROOF} hashes."),
        (["A" * 42], "Each hash must be 32 bytes in unpadded base64url."),
        (["A" * 42 + "="], "Each hash must be 32 bytes in unpadded base64url."),
        (None, "Field may not be null."),
    ],
)
def test_a_bad_proof_is_refused_in_plain_words(proof: Any, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        EvidenceSchema().load(_evidence(proof))
    assert refused.value.messages == {"proof": [message]}


def test_a_consistency_answer_checks_each_proof_the_same_way() -> None:
    schema = ConsistencyAnswerSchema()
    good = {"checkpoint": {}, "proofs": {"12": [_hash(), _hash()]}}
    assert schema.load(good).proofs == good["proofs"]
    with pytest.raises(ValidationError):
        schema.load({"checkpoint": {}, "proofs": {"12": [_hash()[:-1]]}})

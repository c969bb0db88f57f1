"""The linkage OPRF (2HashDH over edwards25519): correctness, blinding, point validation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.bindings import (
    crypto_core_ed25519_add,
    crypto_core_ed25519_from_uniform,
    crypto_core_ed25519_is_valid_point,
    crypto_scalarmult_ed25519_base_noclamp,
)

from keys import Malformed, MasterKey
from keys.oprf import (
    TOKEN_BYTES,
    Blinded,
    OprfKey,
    blind,
    evaluate,
    evaluate_direct,
    finalize,
)

IDENTITY = bytes([1]) + bytes(31)
# Points of order 2 (y = -1) and 4 (y = 0): valid curve encodings outside the prime group.
ORDER_TWO = bytes([0xEC]) + bytes([0xFF]) * 30 + bytes([0x7F])
ORDER_FOUR = bytes(32)
# y = p (non-canonical encoding of y = 0).
NON_CANONICAL = bytes([0xED]) + bytes([0xFF]) * 30 + bytes([0x7F])
# A y for which no x exists on the curve (checked in test_fixtures_are_what_they_say).
OFF_CURVE = bytes([2]) + bytes(31)


def _valid_point() -> bytes:
    return crypto_scalarmult_ed25519_base_noclamp(bytes([7]) + bytes(31))


def _mixed_order_point() -> bytes:
    # A prime-order point plus a point of order 2: on the curve, not in the subgroup.
    return crypto_core_ed25519_add(_valid_point(), ORDER_TWO)


BAD_POINTS = [
    IDENTITY,
    ORDER_TWO,
    ORDER_FOUR,
    NON_CANONICAL,
    OFF_CURVE,
    b"",
    bytes(31),
    _valid_point() + b"\x00",
]


def _round_trip(key: OprfKey, data: bytes) -> tuple[Blinded, bytes]:
    blinded = blind(data)
    return blinded, finalize(blinded, evaluate(key, blinded.element))


def test_fixtures_are_what_they_say() -> None:
    assert crypto_core_ed25519_is_valid_point(_valid_point())
    for point in [IDENTITY, ORDER_TWO, ORDER_FOUR, NON_CANONICAL, _mixed_order_point()]:
        assert not crypto_core_ed25519_is_valid_point(point)
    # from_uniform lands in the prime-order group (cofactor cleared), but the all-zero
    # string maps to the identity: why keys.oprf checks the hashed point too.
    assert crypto_core_ed25519_is_valid_point(crypto_core_ed25519_from_uniform(b"\x05" * 32))
    assert crypto_core_ed25519_from_uniform(bytes(32)) == IDENTITY


def test_blinded_then_finalized_equals_direct() -> None:
    key = OprfKey.generate()
    _, token = _round_trip(key, b"strong\x00jane\x00doe\x001980-01-02")
    assert token == evaluate_direct(key, b"strong\x00jane\x00doe\x001980-01-02")
    assert len(token) == TOKEN_BYTES


def test_fresh_blinding_each_time_same_token() -> None:
    key = OprfKey.generate()
    first, token_one = _round_trip(key, b"same input")
    second, token_two = _round_trip(key, b"same input")
    assert first.element != second.element
    assert token_one == token_two


def test_element_reveals_nothing_obvious() -> None:
    data = b"jane doe 1980"
    elements = {blind(data).element for _ in range(20)}
    assert len(elements) == 20
    # Not the unblinded hash point, and the input does not appear in the repr.
    assert all(crypto_core_ed25519_is_valid_point(e) for e in elements)
    assert "jane" not in repr(blind(data))


def test_different_keys_and_inputs_give_different_tokens() -> None:
    key_one, key_two = OprfKey.generate(), OprfKey.generate()
    assert evaluate_direct(key_one, b"a") != evaluate_direct(key_two, b"a")
    assert evaluate_direct(key_one, b"a") != evaluate_direct(key_one, b"b")
    # Length prefixing: concatenations that collide as bytes do not collide as tokens.
    assert evaluate_direct(key_one, b"ab") != evaluate_direct(key_one, b"a")


def test_wrong_key_does_not_finalize_to_the_token() -> None:
    key, other = OprfKey.generate(), OprfKey.generate()
    blinded = blind(b"x")
    assert finalize(blinded, evaluate(other, blinded.element)) != evaluate_direct(key, b"x")


@pytest.mark.parametrize("point", [*BAD_POINTS, _mixed_order_point()])
def test_authority_refuses_invalid_elements(point: bytes) -> None:
    with pytest.raises(Malformed):
        evaluate(OprfKey.generate(), point)


@pytest.mark.parametrize("point", [*BAD_POINTS, _mixed_order_point()])
def test_client_refuses_invalid_evaluations(point: bytes) -> None:
    with pytest.raises(Malformed):
        finalize(blind(b"x"), point)


def test_non_bytes_refused() -> None:
    with pytest.raises(Malformed):
        evaluate(OprfKey.generate(), "not bytes")  # type: ignore[arg-type]
    with pytest.raises(Malformed):
        blind("text")  # type: ignore[arg-type]


def test_key_serialisation_and_validation() -> None:
    key = OprfKey.generate()
    assert OprfKey.from_bytes(key.to_bytes()) == key
    assert key.to_bytes() not in repr(key).encode()
    with pytest.raises(Malformed):
        OprfKey.from_bytes(bytes(32))  # zero
    with pytest.raises(Malformed):
        OprfKey.from_bytes(b"\xff" * 32)  # not reduced
    with pytest.raises(Malformed):
        OprfKey.from_bytes(b"\x01" * 31)


def test_key_sealed_at_rest_round_trips() -> None:
    master = MasterKey(bytes(range(32)))
    key = OprfKey.generate()
    sealed = master.seal(key.to_bytes(), "linkage-oprf-key")
    assert key.to_bytes() not in sealed
    assert OprfKey.from_bytes(master.open(sealed, "linkage-oprf-key")) == key


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=200))
def test_property_blinded_equals_direct(data: bytes) -> None:
    key = OprfKey.generate()
    blinded, token = _round_trip(key, data)
    assert token == evaluate_direct(key, data)
    assert crypto_core_ed25519_is_valid_point(blinded.element)


@settings(max_examples=200, deadline=None)
@given(point=st.binary(min_size=32, max_size=32))
def test_property_arbitrary_bytes_are_either_valid_or_refused(point: bytes) -> None:
    key = OprfKey.generate()
    if crypto_core_ed25519_is_valid_point(point):
        assert crypto_core_ed25519_is_valid_point(evaluate(key, point))
    else:
        with pytest.raises(Malformed):
            evaluate(key, point)

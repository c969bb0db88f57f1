"""Oblivious PRF for linkage tokens: 2HashDH over edwards25519 (DESIGN section 6).

    token = H2(input, H1(input) ^ k)

The area blinds H1(input) with a fresh scalar r and sends H1(input)^r; the linkage
authority returns (H1(input)^r)^k without learning the input; the area removes r and
hashes. No node holds a key that lets it compute tokens alone: areas never see k, and the
authority never sees an input, so neither can test names against the flag index by itself.

H1 is a random-oracle hash to the prime-order subgroup: SHA-512 of a domain-separated,
length-prefixed input gives two 32-byte strings, each is mapped with Elligator 2
(`crypto_core_ed25519_from_uniform`, which also clears the cofactor) and the two points are
added. Mapping two independent strings and adding them is the RFC 9380 "random oracle"
construction; a single Elligator map is not indistinguishable from a random point, and the
2HashDH proof needs H1 to be a random oracle. (libsodium's own `from_hash` does this, but
PyNaCl does not bind it.)

Every point that crosses a trust boundary is checked with
`crypto_core_ed25519_is_valid_point`, which refuses non-canonical encodings, points off the
curve, small-order points (including the identity) and points outside the prime-order
subgroup. The authority checks what areas send it (a small-order element would make its
answer independent of k, or leak k mod 8); the area checks what the authority returns.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from nacl.bindings import (
    crypto_core_ed25519_add,
    crypto_core_ed25519_from_uniform,
    crypto_core_ed25519_is_valid_point,
    crypto_core_ed25519_scalar_invert,
    crypto_core_ed25519_scalar_reduce,
    crypto_scalarmult_ed25519_noclamp,
)
from nacl.exceptions import RuntimeError as NaclRuntimeError

from keys.errors import Malformed

POINT_BYTES = 32
SCALAR_BYTES = 32
TOKEN_BYTES = 32

_H1_DST = b"marac-linkage-oprf:v1:hash-to-curve"
_H2_DST = b"marac-linkage-oprf:v1:token"
_ZERO_SCALAR = bytes(SCALAR_BYTES)
_IDENTITY = bytes([1]) + bytes(POINT_BYTES - 1)
# Inputs are names and dates; anything larger is a caller bug, not a subject.
MAX_INPUT_BYTES = 4096


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _random_scalar() -> bytes:
    """A uniform non-zero scalar mod the group order (64 random bytes reduced: no bias)."""
    while True:
        scalar = crypto_core_ed25519_scalar_reduce(os.urandom(64))
        if scalar != _ZERO_SCALAR:
            return scalar


def _check_input(data: bytes) -> None:
    if not isinstance(data, bytes):
        raise Malformed("OPRF input must be bytes")
    if len(data) > MAX_INPUT_BYTES:
        raise Malformed("OPRF input too long")


def _check_point(point: bytes) -> None:
    """Refuse anything that is not a canonical point of the prime-order subgroup."""
    if not isinstance(point, bytes) or len(point) != POINT_BYTES:
        raise Malformed("group element must be 32 bytes")
    if not crypto_core_ed25519_is_valid_point(point):
        raise Malformed("group element is not a valid point of the prime-order group")


def _hash_to_group(data: bytes) -> bytes:
    wide = hashlib.sha512(_length_prefixed(_H1_DST) + _length_prefixed(data)).digest()
    point = crypto_core_ed25519_add(
        crypto_core_ed25519_from_uniform(wide[:32]),
        crypto_core_ed25519_from_uniform(wide[32:]),
    )
    # from_uniform clears the cofactor, so the sum is in the prime-order group; only the
    # identity is possible (with negligible probability) and it would make every key agree.
    if point == _IDENTITY:
        raise Malformed("input hashes to the identity")
    return point


def _multiply(scalar: bytes, point: bytes) -> bytes:
    """scalar * point for a point already checked to be in the prime-order group.

    A non-zero scalar keeps such a point in the group and away from the identity, so the
    result is not checked again: the subgroup check costs about a scalar multiplication,
    and is spent where points cross a trust boundary (`evaluate`, `finalize`).
    """
    try:
        return crypto_scalarmult_ed25519_noclamp(scalar, point)
    except NaclRuntimeError as exc:  # libsodium refuses an identity result
        raise Malformed("group element is not usable") from exc


def _token(data: bytes, point: bytes) -> bytes:
    return hashlib.sha256(
        _length_prefixed(_H2_DST) + _length_prefixed(data) + _length_prefixed(point)
    ).digest()


@dataclass(frozen=True)
class OprfKey:
    """The linkage authority's secret scalar k. At rest it is sealed with `keys.vault`."""

    scalar: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.scalar, bytes) or len(self.scalar) != SCALAR_BYTES:
            raise Malformed("OPRF key must be 32 bytes")
        # Canonical (already reduced) and non-zero: a zero key maps every input to the
        # identity, and two encodings of one key would be two keys to audit.
        if crypto_core_ed25519_scalar_reduce(self.scalar + bytes(32)) != self.scalar:
            raise Malformed("OPRF key is not a reduced scalar")
        if self.scalar == _ZERO_SCALAR:
            raise Malformed("OPRF key is zero")

    @classmethod
    def generate(cls) -> OprfKey:
        return cls(_random_scalar())

    def to_bytes(self) -> bytes:
        return self.scalar

    @classmethod
    def from_bytes(cls, data: bytes) -> OprfKey:
        return cls(data)


@dataclass(frozen=True)
class Blinded:
    """One blinded input: `element` goes to the authority; input and r stay here."""

    element: bytes
    _data: bytes = field(repr=False)
    _r: bytes = field(repr=False)


def blind(data: bytes) -> Blinded:
    """Blind one input with a fresh r; the element is a uniform group element, whatever data is."""
    _check_input(data)
    r = _random_scalar()
    return Blinded(element=_multiply(r, _hash_to_group(data)), _data=data, _r=r)


def evaluate(key: OprfKey, element: bytes) -> bytes:
    """The authority's step: element ^ k, after checking the element is a valid point."""
    _check_point(element)
    return _multiply(key.scalar, element)


def finalize(blinded: Blinded, evaluated: bytes) -> bytes:
    """Unblind the authority's answer and hash it into the 32-byte token."""
    _check_point(evaluated)
    unblinded = _multiply(crypto_core_ed25519_scalar_invert(blinded._r), evaluated)
    return _token(blinded._data, unblinded)


def evaluate_direct(key: OprfKey, data: bytes) -> bytes:
    """The same token computed by the key holder without blinding.

    Only where k and the input are already in one process: the node that plays the
    linkage authority deriving its own areas' tokens (gateway/domain/flags/authority.py
    `derive_in`), and tests. Anywhere else, whoever holds k and the input at once is
    exactly the single party DESIGN section 6 forbids.
    """
    _check_input(data)
    return _token(data, _multiply(key.scalar, _hash_to_group(data)))

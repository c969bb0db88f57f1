"""Envelope v1 (DESIGN section 4, binding): seal, verify, open, and every way to tamper.

Real PyNaCl throughout; areas and payloads are fictional.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import nacl.utils
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt
from nacl.public import SealedBox

from keys import (
    AreaSecretKeys,
    BadSignature,
    CryptoError,
    ExpiredKey,
    Malformed,
    PublicAreaKey,
    SealedEnvelope,
    WrongAddressee,
    b64url_decode,
    b64url_encode,
    canonical_json,
    envelope_digest,
    format_time,
    open_envelope,
    open_own_copy,
    parse_envelope,
    seal_envelope,
    verify_envelope,
)

VALID_FROM = datetime(2025, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
CREATED = datetime(2025, 6, 1, 11, 59, 0, tzinfo=UTC)
ENVELOPE_ID = "0b7d4c1e-5f0a-4c53-9a51-3f2f0c6d7e11"
PAYLOAD_TYPE = "transfer_request"
PAYLOAD: dict[str, Any] = {
    "from_area": "alpha",
    "to_area": "bravo",
    "schema_version": 1,
    "note": "fictional case, no real person",
}
B64_FIELDS = ("sealed_key", "nonce", "ciphertext", "sig")
WIRE_FIELDS = (
    "v",
    "id",
    "type",
    "from",
    "to",
    "created_at",
    "in_reply_to",
    "sealed_key",
    "nonce",
    "ciphertext",
    "sig",
)
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alpha() -> AreaSecretKeys:
    return AreaSecretKeys.generate("alpha")


@pytest.fixture(scope="module")
def bravo() -> AreaSecretKeys:
    return AreaSecretKeys.generate("bravo")


@pytest.fixture(scope="module")
def charlie() -> AreaSecretKeys:
    return AreaSecretKeys.generate("charlie")


@pytest.fixture(scope="module")
def mallory() -> AreaSecretKeys:
    return AreaSecretKeys.generate("mallory")


@pytest.fixture(scope="module")
def alpha_pub(alpha: AreaSecretKeys) -> PublicAreaKey:
    return alpha.public(VALID_FROM)


@pytest.fixture(scope="module")
def bravo_pub(bravo: AreaSecretKeys) -> PublicAreaKey:
    return bravo.public(VALID_FROM)


@pytest.fixture(scope="module")
def mallory_pub(mallory: AreaSecretKeys) -> PublicAreaKey:
    return mallory.public(VALID_FROM)


@pytest.fixture(scope="module")
def sealed_once(alpha: AreaSecretKeys, bravo_pub: PublicAreaKey) -> SealedEnvelope:
    """One envelope shared read-only (the property test must not use function fixtures)."""
    return seal_envelope(
        sender=alpha,
        recipient=bravo_pub,
        payload_type=PAYLOAD_TYPE,
        payload=PAYLOAD,
        envelope_id=ENVELOPE_ID,
        created_at=CREATED,
    )


@pytest.fixture
def sealed(alpha: AreaSecretKeys, bravo_pub: PublicAreaKey) -> SealedEnvelope:
    return seal_envelope(
        sender=alpha,
        recipient=bravo_pub,
        payload_type=PAYLOAD_TYPE,
        payload=PAYLOAD,
        envelope_id=ENVELOPE_ID,
        created_at=CREATED,
    )


@pytest.fixture
def wire(sealed: SealedEnvelope) -> dict[str, Any]:
    """A private copy of the wire form that a test may mutate freely."""
    return copy.deepcopy(sealed.wire)


# --- helpers --------------------------------------------------------------------------------


def flip_bit(text: str, index: int, bit: int = 0) -> str:
    """Decode, flip one bit of byte `index` (negative allowed), re-encode canonically."""
    data = bytearray(b64url_decode(text))
    data[index] ^= 1 << bit
    return b64url_encode(bytes(data))


def noncanonical(text: str) -> str:
    """Same decoded bytes, different text: set an unused trailing bit of the last character."""
    assert len(text) % 4 in (2, 3), "no slack bits in this length"
    last = _ALPHABET.index(text[-1])
    return text[:-1] + _ALPHABET[last ^ 1]


def resign(wire: dict[str, Any], signer: AreaSecretKeys) -> None:
    """Replace `sig` with the signer's signature over the envelope's signed message."""
    wire["sig"] = b64url_encode(signer.sign(parse_envelope(wire).signed_message))


def hand_seal(
    *,
    sender: AreaSecretKeys,
    recipient: PublicAreaKey,
    plaintext: bytes,
) -> dict[str, Any]:
    """Build a correctly signed and encrypted envelope around arbitrary plaintext bytes.

    This bypasses seal_envelope's own payload check, as a malicious peer would.
    """
    header: dict[str, Any] = {
        "v": 1,
        "id": "6f1d7a0c-2f5e-4b8e-8d43-1c2b3a4d5e6f",
        "type": PAYLOAD_TYPE,
        "from": {"area": sender.area, "key": sender.key_id},
        "to": {"area": recipient.area, "key": recipient.key_id},
        "created_at": format_time(CREATED),
        "in_reply_to": None,
    }
    content_key = nacl.utils.random(32)
    nonce = nacl.utils.random(24)
    ciphertext = crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, canonical_json(header), nonce, content_key
    )
    sealed_key = bytes(SealedBox(recipient.box_public()).encrypt(content_key))
    wire = dict(header)
    wire.update(
        sealed_key=b64url_encode(sealed_key),
        nonce=b64url_encode(nonce),
        ciphertext=b64url_encode(ciphertext),
        sig=b64url_encode(bytes(64)),  # a placeholder that parses; replaced just below
    )
    resign(wire, sender)
    return wire


# --- round trip -----------------------------------------------------------------------------


def test_round_trip(
    sealed: SealedEnvelope, alpha: AreaSecretKeys, alpha_pub: PublicAreaKey, bravo: AreaSecretKeys
) -> None:
    verify_envelope(sealed.wire, alpha_pub, NOW)
    assert open_envelope(sealed.wire, bravo) == PAYLOAD
    assert open_own_copy(sealed.wire, sealed.self_sealed_key, alpha) == PAYLOAD


def test_round_trip_survives_json_transport(
    sealed: SealedEnvelope, alpha_pub: PublicAreaKey, bravo: AreaSecretKeys
) -> None:
    received = json.loads(json.dumps(sealed.wire, indent=2))
    verify_envelope(received, alpha_pub, NOW)
    assert open_envelope(received, bravo) == PAYLOAD
    assert envelope_digest(received) == sealed.digest


def test_wire_shape(sealed: SealedEnvelope, alpha: AreaSecretKeys, bravo: AreaSecretKeys) -> None:
    wire = sealed.wire
    assert set(wire) == set(WIRE_FIELDS)
    assert wire["v"] == 1
    assert wire["id"] == ENVELOPE_ID == sealed.id
    assert wire["type"] == PAYLOAD_TYPE
    assert wire["from"] == {"area": "alpha", "key": alpha.key_id}
    assert wire["to"] == {"area": "bravo", "key": bravo.key_id}
    assert wire["created_at"] == "2025-06-01T11:59:00Z"
    assert wire["in_reply_to"] is None
    assert len(b64url_decode(wire["sealed_key"])) == 80
    assert len(b64url_decode(wire["nonce"])) == 24
    assert len(b64url_decode(wire["sig"])) == 64
    assert len(b64url_decode(wire["ciphertext"])) == len(canonical_json(PAYLOAD)) + 16
    # The payload is not readable in the wire form.
    assert b"fictional" not in canonical_json(wire)


def test_in_reply_to_and_defaults(
    alpha: AreaSecretKeys, alpha_pub: PublicAreaKey, bravo: AreaSecretKeys, bravo_pub: PublicAreaKey
) -> None:
    reply = seal_envelope(
        sender=alpha,
        recipient=bravo_pub,
        payload_type="receipt",
        payload=PAYLOAD,
        in_reply_to=ENVELOPE_ID,
    )
    assert reply.wire["in_reply_to"] == ENVELOPE_ID
    assert reply.wire["id"] != ENVELOPE_ID
    assert reply.wire["created_at"].endswith("Z")
    verify_envelope(reply.wire, alpha_pub, datetime.now(UTC))
    assert open_envelope(reply.wire, bravo) == PAYLOAD


def test_format_time_is_utc_seconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert format_time(datetime(2025, 6, 1, 14, 0, 0, 999_999, tzinfo=plus_two)) == (
        "2025-06-01T12:00:00Z"
    )


def test_digest_is_stable(sealed: SealedEnvelope) -> None:
    first = envelope_digest(sealed.wire)
    assert first == envelope_digest(copy.deepcopy(sealed.wire)) == sealed.digest
    assert len(first) == 64
    int(first, 16)


def test_digest_differs_between_seals(sealed: SealedEnvelope, alpha: AreaSecretKeys) -> None:
    again = seal_envelope(
        sender=alpha,
        recipient=alpha.public(VALID_FROM),
        payload_type=PAYLOAD_TYPE,
        payload={"from_area": "alpha", "to_area": "alpha"},
        envelope_id=ENVELOPE_ID,
        created_at=CREATED,
    )
    assert again.digest != sealed.digest


def test_own_copy_refuses_other_keys(
    sealed: SealedEnvelope, alpha: AreaSecretKeys, bravo: AreaSecretKeys
) -> None:
    with pytest.raises(WrongAddressee):
        open_own_copy(sealed.wire, sealed.self_sealed_key, bravo)
    rotated_alpha = AreaSecretKeys.generate("alpha")
    with pytest.raises(WrongAddressee):
        open_own_copy(sealed.wire, sealed.self_sealed_key, rotated_alpha)
    tampered = bytearray(sealed.self_sealed_key)
    tampered[-1] ^= 1
    with pytest.raises(BadSignature):
        open_own_copy(sealed.wire, bytes(tampered), alpha)
    # The copy sealed to the recipient is not the sender's copy.
    with pytest.raises(BadSignature):
        open_own_copy(sealed.wire, b64url_decode(sealed.wire["sealed_key"]), alpha)


def test_seal_refuses_mismatched_payload_addresses(
    alpha: AreaSecretKeys, bravo_pub: PublicAreaKey
) -> None:
    for payload in (
        {"from_area": "charlie", "to_area": "bravo"},
        {"from_area": "alpha", "to_area": "charlie"},
        {"to_area": "bravo"},
        {"from_area": "alpha"},
        {},
    ):
        with pytest.raises(WrongAddressee):
            seal_envelope(
                sender=alpha, recipient=bravo_pub, payload_type=PAYLOAD_TYPE, payload=payload
            )


# --- header tampering -----------------------------------------------------------------------


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(wire: dict[str, Any]) -> None:
        target = wire
        for name in path[:-1]:
            target = target[name]
        target[path[-1]] = value

    return mutate


# (mutation, exception from verify_envelope, exception from open_envelope by bravo)
HEADER_TAMPERS: dict[str, tuple[Callable[[dict[str, Any]], None], type, type]] = {
    "v=2": (_set(("v",), 2), Malformed, Malformed),
    "v=0": (_set(("v",), 0), Malformed, Malformed),
    "v=true": (_set(("v",), True), Malformed, Malformed),
    "v='1'": (_set(("v",), "1"), Malformed, Malformed),
    "v=null": (_set(("v",), None), Malformed, Malformed),
    # 1.0 == 1 passes the version check, but its canonical JSON differs: sig and AAD fail.
    "v=1.0": (_set(("v",), 1.0), BadSignature, BadSignature),
    "id": (_set(("id",), "0b7d4c1e-5f0a-4c53-9a51-3f2f0c6d7e12"), BadSignature, BadSignature),
    "type": (_set(("type",), "receipt"), BadSignature, BadSignature),
    "created_at": (_set(("created_at",), "2025-06-01T11:59:01Z"), BadSignature, BadSignature),
    "in_reply_to=str": (_set(("in_reply_to",), ENVELOPE_ID), BadSignature, BadSignature),
    "in_reply_to=''": (_set(("in_reply_to",), ""), BadSignature, BadSignature),
    # from.* no longer names the pinned key, so verify refuses before the signature.
    "from.area": (_set(("from", "area"), "charlie"), WrongAddressee, BadSignature),
    "from.key": (_set(("from", "key"), "AAAAAAAAAAAAAAAAAAAA"), WrongAddressee, BadSignature),
    "to.area": (_set(("to", "area"), "charlie"), BadSignature, WrongAddressee),
    "to.key": (_set(("to", "key"), "AAAAAAAAAAAAAAAAAAAA"), BadSignature, WrongAddressee),
}


@pytest.mark.parametrize("name", list(HEADER_TAMPERS))
def test_header_tamper_refused(
    name: str, wire: dict[str, Any], alpha_pub: PublicAreaKey, bravo: AreaSecretKeys
) -> None:
    mutate, verify_exc, open_exc = HEADER_TAMPERS[name]
    mutate(wire)
    with pytest.raises(verify_exc):
        verify_envelope(wire, alpha_pub, NOW)
    with pytest.raises(open_exc):
        open_envelope(wire, bravo)


def test_to_rewritten_to_bravo_area_with_other_key_still_bound(
    wire: dict[str, Any], alpha_pub: PublicAreaKey, bravo: AreaSecretKeys
) -> None:
    """A new bravo key cannot open an envelope sealed to the old bravo key."""
    rotated = AreaSecretKeys.generate("bravo")
    wire["to"]["key"] = rotated.key_id
    with pytest.raises(BadSignature):
        verify_envelope(wire, alpha_pub, NOW)
    with pytest.raises(BadSignature):
        open_envelope(wire, rotated)


# --- byte tampering of the sealed parts -----------------------------------------------------


@pytest.mark.parametrize("field", B64_FIELDS)
@pytest.mark.parametrize(("index", "bit"), [(0, 0), (5, 7), (-1, 3), (-1, 7)])
def test_any_flipped_bit_is_refused_by_verify(
    field: str, index: int, bit: int, wire: dict[str, Any], alpha_pub: PublicAreaKey
) -> None:
    wire[field] = flip_bit(wire[field], index, bit)
    with pytest.raises(BadSignature):
        verify_envelope(wire, alpha_pub, NOW)


@pytest.mark.parametrize("field", ["sealed_key", "nonce", "ciphertext"])
@pytest.mark.parametrize(("index", "bit"), [(0, 0), (5, 7), (-1, 3), (-1, 7)])
def test_any_flipped_bit_is_refused_by_open(
    field: str, index: int, bit: int, wire: dict[str, Any], bravo: AreaSecretKeys
) -> None:
    wire[field] = flip_bit(wire[field], index, bit)
    with pytest.raises(BadSignature):
        open_envelope(wire, bravo)


def test_every_byte_of_sealed_parts_is_covered(
    sealed: SealedEnvelope, alpha_pub: PublicAreaKey
) -> None:
    for field in B64_FIELDS:
        size = len(b64url_decode(sealed.wire[field]))
        for index in range(size):
            tampered = dict(sealed.wire)
            tampered[field] = flip_bit(sealed.wire[field], index, index % 8)
            with pytest.raises(BadSignature):
                verify_envelope(tampered, alpha_pub, NOW)


# --- wrong recipient, re-signing ------------------------------------------------------------


def test_swapped_recipient(
    wire: dict[str, Any], alpha_pub: PublicAreaKey, charlie: AreaSecretKeys
) -> None:
    with pytest.raises(WrongAddressee):
        open_envelope(wire, charlie)
    wire["to"] = {"area": "charlie", "key": charlie.key_id}
    with pytest.raises(BadSignature):
        verify_envelope(wire, alpha_pub, NOW)
    # Even past the address check, the content key is sealed to bravo, not charlie.
    with pytest.raises(BadSignature):
        open_envelope(wire, charlie)


def test_resigned_by_attacker_claiming_alpha(
    wire: dict[str, Any], alpha_pub: PublicAreaKey, mallory: AreaSecretKeys
) -> None:
    resign(wire, mallory)
    with pytest.raises(BadSignature):
        verify_envelope(wire, alpha_pub, NOW)


def test_resigned_by_attacker_as_itself(
    wire: dict[str, Any],
    alpha_pub: PublicAreaKey,
    bravo: AreaSecretKeys,
    mallory: AreaSecretKeys,
    mallory_pub: PublicAreaKey,
) -> None:
    wire["from"] = {"area": "mallory", "key": mallory.key_id}
    resign(wire, mallory)
    verify_envelope(wire, mallory_pub, NOW)  # the attacker's own signature is fine...
    with pytest.raises(WrongAddressee):
        verify_envelope(wire, alpha_pub, NOW)
    # ...but the header is the AEAD's associated data, so the ciphertext no longer opens
    # (and were it to, the payload still says from_area=alpha).
    # The AEAD check runs before the payload check, so the refusal is BadSignature.
    with pytest.raises(CryptoError) as caught:
        open_envelope(wire, bravo)
    assert type(caught.value) is BadSignature


@pytest.mark.parametrize(
    ("payload", "exc"),
    [
        ({"from_area": "alpha", "to_area": "bravo"}, WrongAddressee),
        ({"from_area": "mallory", "to_area": "charlie"}, WrongAddressee),
        ({"from_area": "mallory"}, WrongAddressee),
        ({"to_area": "bravo"}, WrongAddressee),
        ([1, 2, 3], Malformed),
        ("mallory", Malformed),
    ],
)
def test_payload_addresses_must_match_header(
    payload: Any,
    exc: type,
    bravo: AreaSecretKeys,
    bravo_pub: PublicAreaKey,
    mallory: AreaSecretKeys,
    mallory_pub: PublicAreaKey,
) -> None:
    """A validly signed and encrypted envelope whose payload claims other areas is refused."""
    wire = hand_seal(sender=mallory, recipient=bravo_pub, plaintext=canonical_json(payload))
    verify_envelope(wire, mallory_pub, NOW)
    with pytest.raises(exc):
        open_envelope(wire, bravo)


def test_hand_sealed_matching_payload_opens(
    bravo: AreaSecretKeys,
    bravo_pub: PublicAreaKey,
    mallory: AreaSecretKeys,
    mallory_pub: PublicAreaKey,
) -> None:
    """Control for the test above: the hand-built envelope is otherwise valid."""
    payload = {"from_area": "mallory", "to_area": "bravo"}
    wire = hand_seal(sender=mallory, recipient=bravo_pub, plaintext=canonical_json(payload))
    verify_envelope(wire, mallory_pub, NOW)
    assert open_envelope(wire, bravo) == payload


def test_payload_not_json_is_malformed(
    bravo: AreaSecretKeys, bravo_pub: PublicAreaKey, mallory: AreaSecretKeys
) -> None:
    for plaintext in (b"not json", b"\xff\xfe", b""):
        wire = hand_seal(sender=mallory, recipient=bravo_pub, plaintext=plaintext)
        with pytest.raises(Malformed):
            open_envelope(wire, bravo)


# --- structure ------------------------------------------------------------------------------


@pytest.mark.parametrize("field", WIRE_FIELDS)
def test_missing_field_is_malformed(
    field: str, wire: dict[str, Any], alpha_pub: PublicAreaKey, bravo: AreaSecretKeys
) -> None:
    del wire[field]
    with pytest.raises(Malformed):
        verify_envelope(wire, alpha_pub, NOW)
    with pytest.raises(Malformed):
        open_envelope(wire, bravo)
    with pytest.raises(Malformed):
        envelope_digest(wire)


STRUCTURE_TAMPERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "extra top-level member": _set(("extra",), "x"),
    "extra member Evidence": _set(("Evidence",), {}),
    "extra member in from": _set(("from", "name"), "alpha"),
    "extra member in to": _set(("to", "name"), "bravo"),
    "from is a string": _set(("from",), "alpha"),
    "to is a list": _set(("to",), ["bravo", "key"]),
    "from.area not a string": _set(("from", "area"), 1),
    "to.key not a string": _set(("to", "key"), None),
    "sig not a string": _set(("sig",), 12345),
    "nonce is bytes-like list": _set(("nonce",), [0] * 24),
}


@pytest.mark.parametrize("name", list(STRUCTURE_TAMPERS))
def test_structure_tamper_is_malformed(
    name: str, wire: dict[str, Any], alpha_pub: PublicAreaKey, bravo: AreaSecretKeys
) -> None:
    STRUCTURE_TAMPERS[name](wire)
    with pytest.raises(Malformed):
        verify_envelope(wire, alpha_pub, NOW)
    with pytest.raises(Malformed):
        open_envelope(wire, bravo)


def test_missing_member_in_party_is_malformed(
    wire: dict[str, Any], alpha_pub: PublicAreaKey
) -> None:
    del wire["to"]["key"]
    with pytest.raises(Malformed):
        verify_envelope(wire, alpha_pub, NOW)


def test_not_a_mapping_is_malformed(alpha_pub: PublicAreaKey, bravo: AreaSecretKeys) -> None:
    for value in ([], "envelope", None, 1):
        with pytest.raises(Malformed):
            verify_envelope(value, alpha_pub, NOW)  # type: ignore[arg-type]
        with pytest.raises(Malformed):
            open_envelope(value, bravo)  # type: ignore[arg-type]


def _pad(text: str) -> str:
    return text + ("=" * (-len(text) % 4) or "==")


B64_TAMPERS: dict[str, Callable[[str], str]] = {
    "padded": _pad,
    "standard alphabet +": lambda text: "+" + text[1:],
    "standard alphabet /": lambda text: text[:-1] + "/",
    "trailing newline": lambda text: text + "\n",
    "inner space": lambda text: text[:4] + " " + text[4:],
    "dot": lambda text: text[:-1] + ".",
    "one char too many": lambda text: text + "A",
    "empty": lambda text: "",
}


@pytest.mark.parametrize("field", B64_FIELDS)
@pytest.mark.parametrize("name", list(B64_TAMPERS))
def test_bad_base64_is_malformed(
    field: str, name: str, wire: dict[str, Any], alpha_pub: PublicAreaKey, bravo: AreaSecretKeys
) -> None:
    wire[field] = B64_TAMPERS[name](wire[field])
    with pytest.raises(Malformed):
        verify_envelope(wire, alpha_pub, NOW)
    with pytest.raises(Malformed):
        open_envelope(wire, bravo)


@pytest.mark.parametrize("field", ["sealed_key", "sig"])
def test_non_canonical_base64_is_malformed(
    field: str, wire: dict[str, Any], alpha_pub: PublicAreaKey, bravo: AreaSecretKeys
) -> None:
    original = wire[field]
    altered = noncanonical(original)
    # A lenient decoder would read the same bytes: this is exactly the malleability refused.
    assert base64.urlsafe_b64decode(altered + "=" * (-len(altered) % 4)) == b64url_decode(original)
    wire[field] = altered
    with pytest.raises(Malformed):
        verify_envelope(wire, alpha_pub, NOW)
    with pytest.raises(Malformed):
        open_envelope(wire, bravo)


@pytest.mark.parametrize(
    ("field", "size"),
    [
        ("sealed_key", 79),
        ("sealed_key", 81),
        ("sealed_key", 32),
        ("nonce", 23),
        ("nonce", 25),
        ("nonce", 12),
        ("sig", 63),
        ("sig", 65),
        ("ciphertext", 15),
        ("ciphertext", 0),
    ],
)
def test_wrong_lengths_are_malformed(
    field: str,
    size: int,
    wire: dict[str, Any],
    alpha_pub: PublicAreaKey,
    bravo: AreaSecretKeys,
) -> None:
    wire[field] = b64url_encode(bytes(range(size)))
    with pytest.raises(Malformed):
        verify_envelope(wire, alpha_pub, NOW)
    with pytest.raises(Malformed):
        open_envelope(wire, bravo)


def test_evidence_is_outside_the_signature(
    sealed: SealedEnvelope, wire: dict[str, Any], alpha_pub: PublicAreaKey, bravo: AreaSecretKeys
) -> None:
    wire["evidence"] = {"kind": "delivery_evidence", "anything": ["at", "all"]}
    verify_envelope(wire, alpha_pub, NOW)
    assert open_envelope(wire, bravo) == PAYLOAD
    assert envelope_digest(wire) == sealed.digest
    wire["evidence"] = "changed"
    verify_envelope(wire, alpha_pub, NOW)
    assert envelope_digest(wire) == sealed.digest


# --- key validity ---------------------------------------------------------------------------


def test_check_valid_window(alpha: AreaSecretKeys) -> None:
    until = datetime(2025, 12, 1, tzinfo=UTC)
    key = alpha.public(VALID_FROM, until)
    with pytest.raises(ExpiredKey):
        key.check_valid(VALID_FROM - timedelta(seconds=1))
    key.check_valid(VALID_FROM)
    key.check_valid(until - timedelta(microseconds=1))
    with pytest.raises(ExpiredKey):
        key.check_valid(until)
    with pytest.raises(ExpiredKey):
        key.check_valid(until + timedelta(days=365))
    open_ended = alpha.public(VALID_FROM)
    open_ended.check_valid(datetime(2100, 1, 1, tzinfo=UTC))


def test_verify_refuses_sender_key_outside_its_validity(
    sealed: SealedEnvelope, alpha: AreaSecretKeys
) -> None:
    ended = alpha.public(VALID_FROM, NOW)
    verify_envelope(sealed.wire, ended, NOW - timedelta(seconds=1))
    with pytest.raises(ExpiredKey):
        verify_envelope(sealed.wire, ended, NOW)
    with pytest.raises(ExpiredKey):
        verify_envelope(sealed.wire, ended, NOW + timedelta(days=1))
    future = alpha.public(NOW + timedelta(days=1))
    with pytest.raises(ExpiredKey):
        verify_envelope(sealed.wire, future, NOW)


def test_verify_refuses_key_pinned_for_another_area(
    sealed: SealedEnvelope, alpha: AreaSecretKeys, mallory_pub: PublicAreaKey
) -> None:
    with pytest.raises(WrongAddressee):
        verify_envelope(sealed.wire, mallory_pub, NOW)
    # Same key material pinned under another area name is not alpha's key either.
    relabelled = AreaSecretKeys("charlie", alpha.signing_seed, alpha.encryption_secret)
    with pytest.raises(WrongAddressee):
        verify_envelope(sealed.wire, relabelled.public(VALID_FROM), NOW)


def test_public_key_checks_its_own_id(alpha: AreaSecretKeys, bravo: AreaSecretKeys) -> None:
    with pytest.raises(Malformed):
        PublicAreaKey("alpha", bravo.key_id, alpha.signing_public, alpha.encryption_public, NOW)
    with pytest.raises(Malformed):
        PublicAreaKey(
            "alpha", alpha.key_id, alpha.signing_public[:31], alpha.encryption_public, NOW
        )
    with pytest.raises(Malformed):
        PublicAreaKey(
            "alpha", alpha.key_id, alpha.signing_public, alpha.encryption_public + b"\0", NOW
        )
    # Swapping the signing and encryption halves changes the id.
    with pytest.raises(Malformed):
        PublicAreaKey("alpha", alpha.key_id, alpha.encryption_public, alpha.signing_public, NOW)


# --- property: one mutated byte of the canonical wire form ---------------------------------


@settings(max_examples=300, deadline=None, database=None)
@given(data=st.data())
def test_any_single_byte_mutation_is_refused(
    data: st.DataObject,
    sealed_once: SealedEnvelope,
    alpha_pub: PublicAreaKey,
    bravo: AreaSecretKeys,
) -> None:
    text = canonical_json(sealed_once.wire)
    position = data.draw(st.integers(0, len(text) - 1), label="position")
    old = text[position]
    new = data.draw(st.integers(0, 255).filter(lambda b: b != old), label="byte")
    mutated = text[:position] + bytes([new]) + text[position + 1 :]
    try:
        parsed = json.loads(mutated)
    except ValueError:
        return  # not JSON (or not UTF-8) any more: refused before it reaches `keys`
    if not isinstance(parsed, dict):
        return
    if canonical_json(parsed) == text:
        return  # the same envelope, spelt differently (e.g. an escape's hex case)
    with pytest.raises(CryptoError):
        verify_envelope(parsed, alpha_pub, NOW)
    try:
        opened = open_envelope(parsed, bravo)
    except CryptoError:
        return
    # Only a change the signature alone covers (sig) may still decrypt: never to other content.
    assert opened == PAYLOAD

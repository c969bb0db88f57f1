"""Envelope v1: seal, verify and open (DESIGN section 4, binding).

The payload (canonical JSON) is encrypted with XChaCha20-Poly1305-IETF under a fresh
content key, with the canonical header as associated data. The content key travels in a
sealed box to the recipient area's X25519 key; the sender keeps another sealed box of it
to its own key, locally. The signature is Ed25519 over

    canonical_header || sealed_key || nonce || SHA-256(ciphertext)

(raw bytes; sealed_key and nonce have fixed lengths, so the concatenation is unambiguous).
The same byte string, hashed, is the envelope digest that receipts and the audit commit to.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import nacl.exceptions
import nacl.utils
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
    crypto_box_SEALBYTES,
)
from nacl.public import SealedBox

from keys.area import AreaSecretKeys, PublicAreaKey
from keys.bounded_json import JsonLimits, parse_json
from keys.encoding import b64url_decode, b64url_encode, canonical_json, sha256, sha256_hex
from keys.errors import BadSignature, Malformed, WrongAddressee

VERSION = 1
CONTENT_KEY_BYTES = 32
NONCE_BYTES = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
SEALED_KEY_BYTES = CONTENT_KEY_BYTES + crypto_box_SEALBYTES  # ephemeral pk + tag + key
SIGNATURE_BYTES = 64
AEAD_TAG_BYTES = 16
HEADER_FIELDS = ("v", "id", "type", "from", "to", "created_at", "in_reply_to")
SEALED_FIELDS = ("sealed_key", "nonce", "ciphertext", "sig")
OPTIONAL_FIELDS = ("evidence",)  # carried outside the signature, verified on its own


@dataclass(frozen=True)
class SealedEnvelope:
    wire: dict[str, Any]
    self_sealed_key: bytes
    digest: str

    @property
    def id(self) -> str:
        return str(self.wire["id"])


@dataclass(frozen=True)
class EnvelopeParts:
    """The decoded pieces of a wire envelope, after strict structural checks."""

    header: dict[str, Any]
    sealed_key: bytes
    nonce: bytes
    ciphertext: bytes
    sig: bytes

    # Cached: a receiver takes the digest, verifies the signature and decrypts with the
    # header as AAD, and the ciphertext (up to megabytes) is hashed once for all of them.
    @cached_property
    def canonical_header(self) -> bytes:
        return canonical_json(self.header)

    @cached_property
    def signed_message(self) -> bytes:
        return self.canonical_header + self.sealed_key + self.nonce + sha256(self.ciphertext)

    @property
    def from_area(self) -> str:
        return str(self.header["from"]["area"])

    @property
    def from_key(self) -> str:
        return str(self.header["from"]["key"])

    @property
    def to_area(self) -> str:
        return str(self.header["to"]["area"])

    @property
    def to_key(self) -> str:
        return str(self.header["to"]["key"])


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seal_envelope(
    *,
    sender: AreaSecretKeys,
    recipient: PublicAreaKey,
    payload_type: str,
    payload: Mapping[str, Any],
    in_reply_to: str | None = None,
    envelope_id: str | None = None,
    created_at: datetime | None = None,
) -> SealedEnvelope:
    if payload.get("from_area") != sender.area or payload.get("to_area") != recipient.area:
        raise WrongAddressee("payload from_area/to_area must match the envelope header")
    header: dict[str, Any] = {
        "v": VERSION,
        "id": envelope_id or str(uuid.uuid4()),
        "type": payload_type,
        "from": {"area": sender.area, "key": sender.key_id},
        "to": {"area": recipient.area, "key": recipient.key_id},
        "created_at": format_time(created_at or datetime.now(UTC)),
        "in_reply_to": in_reply_to,
    }
    content_key = nacl.utils.random(CONTENT_KEY_BYTES)
    nonce = nacl.utils.random(NONCE_BYTES)
    aad = canonical_json(header)  # computed once: it is both the AAD and the signed prefix
    ciphertext = crypto_aead_xchacha20poly1305_ietf_encrypt(
        canonical_json(dict(payload)), aad, nonce, content_key
    )
    sealed_key = bytes(SealedBox(recipient.box_public()).encrypt(content_key))
    message = aad + sealed_key + nonce + sha256(ciphertext)
    wire = dict(header)
    wire.update(
        sealed_key=b64url_encode(sealed_key),
        nonce=b64url_encode(nonce),
        ciphertext=b64url_encode(ciphertext),
        sig=b64url_encode(sender.sign(message)),
    )
    self_sealed = bytes(SealedBox(sender.box_private().public_key).encrypt(content_key))
    return SealedEnvelope(wire=wire, self_sealed_key=self_sealed, digest=sha256_hex(message))


def parse_envelope(wire: Mapping[str, Any]) -> EnvelopeParts:
    """Decode and length-check every field; anything off is `Malformed`."""
    if not isinstance(wire, Mapping):
        raise Malformed("envelope must be a JSON object")
    extra = set(wire) - set(HEADER_FIELDS) - set(SEALED_FIELDS) - set(OPTIONAL_FIELDS)
    missing = (set(HEADER_FIELDS) | set(SEALED_FIELDS)) - set(wire)
    if extra or missing:
        raise Malformed("envelope fields are not those of version 1")
    if wire["v"] != VERSION or isinstance(wire["v"], bool):
        raise Malformed("unsupported envelope version")
    for party in ("from", "to"):
        value = wire[party]
        if not isinstance(value, Mapping) or set(value) != {"area", "key"}:
            raise Malformed(f"{party} must be {{area, key}}")
        if not all(isinstance(value[k], str) for k in ("area", "key")):
            raise Malformed(f"{party} members must be strings")
    header = {name: wire[name] for name in HEADER_FIELDS}
    ciphertext = b64url_decode(wire["ciphertext"])
    if len(ciphertext) < AEAD_TAG_BYTES:
        raise Malformed("ciphertext too short")
    return EnvelopeParts(
        header=header,
        sealed_key=b64url_decode(wire["sealed_key"], length=SEALED_KEY_BYTES),
        nonce=b64url_decode(wire["nonce"], length=NONCE_BYTES),
        ciphertext=ciphertext,
        sig=b64url_decode(wire["sig"], length=SIGNATURE_BYTES),
    )


Wire = Mapping[str, Any] | EnvelopeParts


def _parts(envelope: Wire) -> EnvelopeParts:
    """Parse once, use many times: decoding a large ciphertext is not free."""
    return envelope if isinstance(envelope, EnvelopeParts) else parse_envelope(envelope)


def envelope_digest(wire: Wire) -> str:
    """Hex SHA-256 of the signed part: what receipts and audit leaves commit to."""
    return sha256_hex(_parts(wire).signed_message)


def verify_envelope(wire: Wire, sender_key: PublicAreaKey, now: datetime) -> None:
    """Check the signature against the sender's pinned key, valid at `now`."""
    parts = _parts(wire)
    if parts.from_area != sender_key.area or parts.from_key != sender_key.key_id:
        raise WrongAddressee("envelope sender does not match the pinned key")
    sender_key.check_valid(now)
    try:
        sender_key.verify_key().verify(parts.signed_message, parts.sig)
    except nacl.exceptions.BadSignatureError as exc:
        raise BadSignature("envelope signature does not verify") from exc


def open_envelope(wire: Wire, recipient: AreaSecretKeys) -> dict[str, Any]:
    """Decrypt an envelope addressed to `recipient`. Verify it first."""
    parts = _parts(wire)
    if parts.to_area != recipient.area or parts.to_key != recipient.key_id:
        raise WrongAddressee("envelope is not addressed to this key")
    return _decrypt(parts, parts.sealed_key, recipient)


def open_own_copy(wire: Wire, self_sealed_key: bytes, sender: AreaSecretKeys) -> dict[str, Any]:
    """Let the sending area read what it sent, through its locally kept sealed key."""
    parts = _parts(wire)
    if parts.from_area != sender.area or parts.from_key != sender.key_id:
        raise WrongAddressee("envelope was not sent with this key")
    return _decrypt(parts, self_sealed_key, sender)


# A payload may carry a document as one base64url string: its size bounds the strings.
PAYLOAD_LIMITS = JsonLimits(max_string=None)


def _decrypt(parts: EnvelopeParts, sealed_key: bytes, keys: AreaSecretKeys) -> dict[str, Any]:
    try:
        content_key = SealedBox(keys.box_private()).decrypt(sealed_key)
        plaintext = crypto_aead_xchacha20poly1305_ietf_decrypt(
            parts.ciphertext, parts.canonical_header, parts.nonce, content_key
        )
    except (nacl.exceptions.CryptoError, ValueError) as exc:
        raise BadSignature("envelope does not decrypt") from exc
    try:
        payload = parse_json(plaintext, PAYLOAD_LIMITS)
    except ValueError as exc:
        raise Malformed("payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise Malformed("payload must be a JSON object")
    if payload.get("from_area") != parts.from_area or payload.get("to_area") != parts.to_area:
        raise WrongAddressee("payload from_area/to_area do not match the header")
    return payload

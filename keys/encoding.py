"""Byte encodings shared by every wire format: canonical JSON, strict base64url, SHA-256."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from keys.errors import Malformed

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Bits of the last character that carry no data, by len % 4; they must be zero.
_LAST_CHAR_SPARE_BITS = {0: 0, 2: 0b1111, 3: 0b11}


def canonical_json(value: Any) -> bytes:
    """The one serialisation that is signed and hashed (DESIGN section 4)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, *, length: int | None = None) -> bytes:
    """Strict unpadded base64url; optionally insist on an exact decoded length.

    Strictness matters: two encodings of the same bytes would let a mutated envelope
    verify, so padding, the other alphabet and non-canonical trailing bits are refused.
    Done with C-speed checks (no regex, no re-encode) because ciphertexts can be megabytes.
    """
    if not isinstance(text, str) or len(text) % 4 == 1 or not text.isascii():
        raise Malformed("not unpadded base64url")
    if "=" in text or "+" in text or "/" in text:
        raise Malformed("not unpadded base64url")
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Malformed("not unpadded base64url") from exc
    if text and _LAST_CHAR_SPARE_BITS[len(text) % 4] & _ALPHABET.index(text[-1]):
        raise Malformed("non-canonical base64url")
    if length is not None and len(data) != length:
        raise Malformed(f"expected {length} bytes")
    return data


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

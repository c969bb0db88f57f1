"""Byte encodings shared by every wire format: canonical JSON, strict base64url, SHA-256."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any

from keys.errors import Malformed

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


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
    verify, so padding, other alphabets and non-canonical trailing bits are refused.
    """
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise Malformed("not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise Malformed("not unpadded base64url") from exc
    if b64url_encode(data) != text:
        raise Malformed("non-canonical base64url")
    if length is not None and len(data) != length:
        raise Malformed(f"expected {length} bytes")
    return data


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

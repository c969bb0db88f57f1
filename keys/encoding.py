"""Byte encodings shared by every wire format: canonical JSON, strict base64url, SHA-256."""

from __future__ import annotations

import codecs
import gc
import hashlib
import json
from typing import Any

import orjson
import pybase64

from keys.errors import Malformed

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Bits of the last character that carry no data, by len % 4; they must be zero.
_LAST_CHAR_SPARE_BITS = {0: 0, 2: 0b1111, 3: 0b11}


def canonical_json(value: Any) -> bytes:
    """The one serialisation that is signed and hashed (DESIGN section 4).

    Byte for byte what `_reference_canonical_json` gives (the contract's own definition),
    made with orjson where the two provably agree: only exact dict/list/tuple/str/int/
    bool/None values with str keys (a float, a subclass or anything else takes the
    reference path, as does an integer beyond 64 bits, which orjson refuses). orjson sorts
    keys by UTF-8 bytes, which is code-point order as `sort_keys` sorts, and escapes the
    control characters exactly as `json` does; what it leaves raw, DEL and every non-ASCII
    character (only ever inside strings), gets the same `\\uXXXX` escapes afterwards.
    tests/keys/test_canonical_json.py checks the equality over arbitrary values.
    """
    if not _plain(value):
        return _reference_canonical_json(value)
    try:
        out = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits, a lone surrogate
        return _reference_canonical_json(value)
    if out.isascii():
        return out.replace(b"\x7f", b"\\u007f") if b"\x7f" in out else out
    return out.decode("utf-8").replace("\x7f", "\\u007f").encode("ascii", _JSON_ESCAPE)


def _reference_canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


# Subclasses, dataclasses and datetimes would be serialised by orjson where `json` refuses
# them or writes them otherwise: passed through, they raise, and `_plain` refuses them first.
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)
_LEAF_TYPES = frozenset({str, int, bool, type(None)})
_CONTAINER_TYPES = frozenset({dict, list, tuple})
_PLAIN_TYPES = _LEAF_TYPES | _CONTAINER_TYPES
_MAX_PLAIN_NODES = 1_000_000


def _plain(value: Any) -> bool:
    """Only types on which orjson and `json` agree (floats differ: NaN, 1e-05).

    Walks the value a level at a time, at C speed: `gc.get_referents` of every container
    at one level gives the next level in one call (a dict's values, and its keys unless
    they are all exact `str`, which is the only kind orjson takes; a list's or tuple's
    items; nothing for a leaf), and the types of a whole level are taken as one set.
    A key of another type reaches orjson, which refuses every non-`str` key, and the
    reference path then decides. Gives up after _MAX_PLAIN_NODES members, so a value
    that contains itself reaches `json`, which refuses it, instead of looping here."""
    kind = type(value)
    if kind in _LEAF_TYPES:
        return True
    if kind not in _CONTAINER_TYPES:
        return False
    level = [value]
    budget = _MAX_PLAIN_NODES
    while True:
        level = gc.get_referents(*level)
        kinds = set(map(type, level))
        if not kinds <= _PLAIN_TYPES:
            return False
        if kinds.isdisjoint(_CONTAINER_TYPES):
            return True
        budget -= len(level)
        if budget < 0:
            return False


def _escape_non_ascii(error: UnicodeError) -> tuple[str, int]:
    """`ensure_ascii`'s escapes: `\\uXXXX`, lower-case hex, astral characters as a
    surrogate pair. Called by the ASCII codec for each run it cannot encode."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    escaped = []
    for char in error.object[error.start : error.end]:
        code = ord(char)
        if code >= 0x10000:
            code -= 0x10000
            escaped.append(f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}")
        else:
            escaped.append(f"\\u{code:04x}")
    return "".join(escaped), error.end


_JSON_ESCAPE = "marac-canonical-json-escape"
codecs.register_error(_JSON_ESCAPE, _escape_non_ascii)


# pybase64 (SIMD) rather than the standard library: base64url of a ciphertext was most of
# the envelope wrapper's cost over the raw primitives (bench/envelope.py), about 4 ns a
# byte each way in `binascii` against a fraction of that.
def b64url_encode(data: bytes) -> str:
    return pybase64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, *, length: int | None = None) -> bytes:
    """Strict unpadded base64url; optionally insist on an exact decoded length.

    Strictness matters: two encodings of the same bytes would let a mutated envelope
    verify, so padding, the other alphabet and non-canonical trailing bits are refused.
    Done with C-speed checks (no regex, no re-encode) because ciphertexts can be megabytes.
    """
    if not isinstance(text, str) or len(text) % 4 == 1 or not text.isascii():
        raise Malformed("not unpadded base64url")
    # The standard alphabet's two characters and padding are refused here: the decoder,
    # given the URL alphabet, would still take "+" and "/".
    if "=" in text or "+" in text or "/" in text:
        raise Malformed("not unpadded base64url")
    # `validate` refuses anything else outside the alphabet, whitespace included.
    padded = text.encode("ascii") + b"=" * (-len(text) % 4)
    try:
        data = pybase64.b64decode(padded, altchars=b"-_", validate=True)
    except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError
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

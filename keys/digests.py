"""Keyed digests for high-entropy secrets we must recognise but never store.

Session ids, API client secrets and recovery codes are random (>= 60 bits), so a slow
password hash would add cost without adding safety; a keyed BLAKE2b digest under a key
derived from the node master key means a copy of the database alone cannot even be used
to test guesses offline.
"""

from __future__ import annotations

import hmac

from nacl.encoding import HexEncoder
from nacl.hash import blake2b

DIGEST_BYTES = 32


def keyed_digest(key: bytes, value: str) -> str:
    return blake2b(
        value.encode("utf-8"), digest_size=DIGEST_BYTES, key=key, encoder=HexEncoder
    ).decode("ascii")


def same_digest(a: str, b: str) -> bool:
    """Constant-time comparison, so timing tells nothing about how much matched."""
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))

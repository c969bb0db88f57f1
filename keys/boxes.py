"""Anonymous sealed boxes to a one-purpose X25519 key (libsodium `crypto_box_seal`).

Used for flag verification requests: each flag has its own key pair, so a querier can
seal a request to the area holding a possible match without learning which area that is,
and the flag index relaying it cannot read it.
"""

from __future__ import annotations

import nacl.exceptions
from nacl.public import PrivateKey, PublicKey, SealedBox

from keys.errors import BadSignature, Malformed

BOX_KEY_BYTES = 32


def new_box_keypair() -> tuple[bytes, bytes]:
    """(secret, public), 32 bytes each."""
    secret = PrivateKey.generate()
    return bytes(secret), bytes(secret.public_key)


def seal_to(public: bytes, plaintext: bytes) -> bytes:
    if len(public) != BOX_KEY_BYTES:
        raise Malformed("a box public key is 32 bytes")
    return bytes(SealedBox(PublicKey(public)).encrypt(plaintext))


def open_sealed(secret: bytes, sealed: bytes) -> bytes:
    if len(secret) != BOX_KEY_BYTES:
        raise Malformed("a box secret key is 32 bytes")
    try:
        return bytes(SealedBox(PrivateKey(secret)).decrypt(sealed))
    except nacl.exceptions.CryptoError as exc:
        raise BadSignature("the sealed box does not open with this key") from exc

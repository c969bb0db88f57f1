"""Per-area key pairs: an Ed25519 signing key and a separate X25519 encryption key.

Separate keys (rather than converting one Ed25519 key to X25519) keep signing and
decryption independent, so either can be rotated or audited on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from nacl.public import PrivateKey, PublicKey
from nacl.signing import SigningKey, VerifyKey

from keys.encoding import b64url_encode, sha256
from keys.errors import ExpiredKey, Malformed

SIGNING_KEY_BYTES = 32
ENCRYPTION_KEY_BYTES = 32


def key_id_for(signing_public: bytes, encryption_public: bytes) -> str:
    """A short, stable name for a key pair, derived so it cannot be claimed for other keys."""
    return b64url_encode(sha256(b"marac-key-id:v1:" + signing_public + encryption_public)[:15])


@dataclass(frozen=True)
class PublicAreaKey:
    """What a peer pins: public halves plus the period in which they are honoured."""

    area: str
    key_id: str
    signing_public: bytes
    encryption_public: bytes
    valid_from: datetime
    valid_until: datetime | None = None

    def __post_init__(self) -> None:
        if len(self.signing_public) != SIGNING_KEY_BYTES:
            raise Malformed("signing key must be 32 bytes")
        if len(self.encryption_public) != ENCRYPTION_KEY_BYTES:
            raise Malformed("encryption key must be 32 bytes")
        if key_id_for(self.signing_public, self.encryption_public) != self.key_id:
            raise Malformed("key id does not match the keys")

    def check_valid(self, now: datetime) -> None:
        """Old keys keep verifying until their stated end, then are refused."""
        if now < self.valid_from:
            raise ExpiredKey("key not yet valid")
        if self.valid_until is not None and now >= self.valid_until:
            raise ExpiredKey("key past its stated end")

    def verify_key(self) -> VerifyKey:
        return VerifyKey(self.signing_public)

    def box_public(self) -> PublicKey:
        return PublicKey(self.encryption_public)


@dataclass(frozen=True)
class AreaSecretKeys:
    """Private halves of one key pair. Lives in memory only; at rest see `keys.vault`."""

    area: str
    signing_seed: bytes
    encryption_secret: bytes

    @classmethod
    def generate(cls, area: str) -> AreaSecretKeys:
        return cls(
            area=area,
            signing_seed=bytes(SigningKey.generate()),
            encryption_secret=bytes(PrivateKey.generate()),
        )

    # Derived keys are cached: rebuilding them from the seeds on every use was most of the
    # wrapper's overhead over the raw primitives (bench/envelope.py).
    @cached_property
    def _signing(self) -> SigningKey:
        return SigningKey(self.signing_seed)

    @cached_property
    def _box(self) -> PrivateKey:
        return PrivateKey(self.encryption_secret)

    def signing_key(self) -> SigningKey:
        return self._signing

    def box_private(self) -> PrivateKey:
        return self._box

    @cached_property
    def signing_public(self) -> bytes:
        return bytes(self._signing.verify_key)

    @cached_property
    def encryption_public(self) -> bytes:
        return bytes(self._box.public_key)

    @cached_property
    def key_id(self) -> str:
        return key_id_for(self.signing_public, self.encryption_public)

    def public(self, valid_from: datetime, valid_until: datetime | None = None) -> PublicAreaKey:
        return PublicAreaKey(
            area=self.area,
            key_id=self.key_id,
            signing_public=self.signing_public,
            encryption_public=self.encryption_public,
            valid_from=valid_from,
            valid_until=valid_until,
        )

    def sign(self, message: bytes) -> bytes:
        return self._signing.sign(message).signature

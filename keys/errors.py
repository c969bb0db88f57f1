"""Typed failures of the cryptographic layer.

Callers map these to protocol answers (a 4xx problem document, a CLI error); the messages
never carry key material or payload content, only what kind of check failed.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base for every refusal raised by `keys`."""

    code = "crypto-error"


class Malformed(CryptoError):
    """Input is not structurally what the protocol says (bad base64, wrong lengths, bad JSON)."""

    code = "malformed"


class BadSignature(CryptoError):
    """A signature, MAC or AEAD tag does not verify."""

    code = "bad-signature"


class UnknownKey(CryptoError):
    """The named key id is not pinned for that area."""

    code = "unknown-key"


class WrongAddressee(CryptoError):
    """The envelope or token is not addressed to this area or key."""

    code = "wrong-addressee"


class ExpiredKey(CryptoError):
    """The key exists but is outside its stated validity period."""

    code = "expired-key"


class BadToken(CryptoError):
    """A request token is invalid: bad claims, expired, wrong binding, forbidden header."""

    code = "bad-token"


class ClockSkew(BadToken):
    """A request token's times fall outside this clock's window (issued in the future, or
    expired): most often the two nodes' clocks disagree."""

    code = "clock-skew"


class ProofError(CryptoError):
    """A Merkle inclusion or consistency proof does not verify against the given tree heads."""

    code = "bad-proof"

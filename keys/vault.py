"""The node master key and the encryption of private keys at rest.

Private keys never touch disk or the database in plaintext: each is sealed with
XChaCha20-Poly1305 under the 32-byte master key, with a context string as associated data
so a sealed signing seed cannot be swapped into another key's slot.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import nacl.exceptions
import nacl.utils
from nacl.encoding import RawEncoder
from nacl.hash import blake2b
from nacl.secret import Aead

from keys.errors import BadSignature, Malformed

MASTER_KEY_BYTES = Aead.KEY_SIZE


class MasterKeyError(Exception):
    """The master key file is missing, the wrong size or readable by others."""


class MasterKey:
    def __init__(self, key: bytes) -> None:
        if len(key) != MASTER_KEY_BYTES:
            raise MasterKeyError(f"master key must be exactly {MASTER_KEY_BYTES} bytes")
        self._aead = Aead(key)
        self._key = key

    @classmethod
    def create_file(cls, path: Path) -> MasterKey:
        """Write a fresh key with mode 0600; never overwrites an existing file."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = nacl.utils.random(MASTER_KEY_BYTES)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        return cls(key)

    @classmethod
    def load_file(cls, path: Path) -> MasterKey:
        try:
            info = path.stat()
        except FileNotFoundError as exc:
            raise MasterKeyError(f"master key file not found: {path}") from exc
        # Like an SSH private key: a master key others can read is a leaked master key.
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise MasterKeyError(f"master key file {path} must not be accessible to others (0600)")
        return cls(path.read_bytes())

    def subkey(self, context: str) -> bytes:
        """A 32-byte key for one purpose (keyed digests), derived so that knowing it tells
        nothing about the master key or about the subkey of any other context."""
        return bytes(
            blake2b(
                b"marac-subkey:v1:" + context.encode("utf-8"),
                digest_size=32,
                key=self._key,
                encoder=RawEncoder,
            )
        )

    def seal(self, plaintext: bytes, context: str) -> bytes:
        return bytes(self._aead.encrypt(plaintext, context.encode("utf-8")))

    def open(self, sealed: bytes, context: str) -> bytes:
        if len(sealed) < Aead.NONCE_SIZE + Aead.MACBYTES:
            raise Malformed("sealed secret too short")
        try:
            return self._aead.decrypt(sealed, context.encode("utf-8"))
        except nacl.exceptions.CryptoError as exc:
            raise BadSignature("sealed secret does not open under this master key") from exc

"""Password hashing for local accounts: Argon2id through libsodium (PyNaCl's pwhash).

The interactive limits (libsodium's recommendation for online logins: 2 passes, 64 MiB)
make each guess cost real memory and time, so a stolen users table cannot be searched
quickly, while a login still takes well under a second on the node's two cores.
"""

from __future__ import annotations

from functools import cache

import nacl.exceptions
import nacl.utils
from nacl.pwhash import argon2id

MIN_LENGTH = 12
# Argon2 hashes any length, but a megabyte "password" is a cheap way to burn our CPU.
MAX_BYTES = 1024


class WeakPassword(ValueError):
    """The password breaks the policy; the message says which rule, never the password."""


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters.")
    if len(password.encode("utf-8")) > MAX_BYTES:
        raise WeakPassword(f"Use at most {MAX_BYTES} bytes.")
    if len(set(password)) < 5:
        raise WeakPassword("Use a less repetitive password.")


def hash_password(password: str) -> str:
    check_policy(password)
    return argon2id.str(password.encode("utf-8")).decode("ascii")


def verify_password(stored: str | None, password: str) -> bool:
    """True only for the right password. With no stored hash (an unknown user, an account
    without a local password) a dummy hash is checked anyway, so the answer takes the same
    time and an attacker cannot tell which emails have accounts."""
    candidate = password.encode("utf-8")
    if len(candidate) > MAX_BYTES:
        candidate = candidate[:MAX_BYTES]
    target = stored.encode("ascii") if stored else _dummy_hash()
    try:
        ok = argon2id.verify(target, candidate)
    except (nacl.exceptions.InvalidkeyError, nacl.exceptions.CryptoError, ValueError):
        return False
    return bool(ok) and stored is not None


@cache
def _dummy_hash() -> bytes:
    return argon2id.str(nacl.utils.random(32))

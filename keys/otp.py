"""Second factor: RFC 6238 TOTP (pyotp) and single-use recovery codes.

`match_totp` returns the time step a code belongs to, so the caller can store the last
step used and refuse the same code again within its window.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

import pyotp

TOTP_DIGITS = 6
TOTP_PERIOD = 30
# Accept the previous and next step as well: phones drift and people type slowly.
TOTP_WINDOW = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
_RECOVERY_LENGTH = 12  # about 59 bits each


def new_totp_secret() -> str:
    return pyotp.random_base32(length=32)  # 160 bits, the RFC 4226 recommendation


def totp_uri(secret: str, *, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).provisioning_uri(
        name=account, issuer_name=issuer
    )


def totp_code(secret: str, moment: datetime) -> str:
    """The code an authenticator app would show at `moment` (used by tests and demos)."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).at(moment)


def match_totp(secret: str, code: str, moment: datetime) -> int | None:
    """The time step `code` is valid for at `moment` (+-1 step), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != TOTP_DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD)
    current = totp.timecode(moment)
    found = None
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        # Check every step (no early return) so the time taken does not depend on the match.
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def normalise_recovery_code(text: str) -> str | None:
    """Lowercase, dashes and spaces dropped, then re-grouped; None if it cannot be one."""
    raw = "".join(ch for ch in text.lower() if ch not in "- ")
    if len(raw) != _RECOVERY_LENGTH or any(ch not in _RECOVERY_ALPHABET for ch in raw):
        return None
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"

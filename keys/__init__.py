"""Cryptography for the gateway. The only package that imports PyNaCl (DESIGN section 3)."""

from keys.access_tokens import (
    AccessClaims,
    TokenSigningKey,
    issue_access_token,
    verify_access_token,
)
from keys.access_tokens import (
    token_key_id as access_key_id,
)
from keys.area import AreaSecretKeys, PublicAreaKey, key_id_for
from keys.bounded_json import DEFAULT_LIMITS, BadJson, JsonLimits, parse_json
from keys.digests import keyed_digest, same_digest
from keys.encoding import b64url_decode, b64url_encode, canonical_json, sha256_hex
from keys.envelope import (
    EnvelopeParts,
    SealedEnvelope,
    envelope_digest,
    format_time,
    open_envelope,
    open_own_copy,
    parse_envelope,
    seal_envelope,
    verify_envelope,
)
from keys.errors import (
    BadSignature,
    BadToken,
    ClockSkew,
    CryptoError,
    ExpiredKey,
    Malformed,
    UnknownKey,
    WrongAddressee,
)
from keys.otp import (
    match_totp,
    new_recovery_codes,
    new_totp_secret,
    normalise_recovery_code,
    totp_code,
    totp_uri,
)
from keys.passwords import WeakPassword, check_policy, hash_password, verify_password
from keys.request_tokens import (
    RequestClaims,
    check_body,
    issue_request_token,
    token_audience,
    token_issuer,
    token_key_id,
    verify_request_token,
)
from keys.signed import (
    document_body,
    fingerprint,
    normalise_fingerprint,
    sign_document,
    verify_document,
)
from keys.vault import MasterKey, MasterKeyError

__all__ = [
    "DEFAULT_LIMITS",
    "AccessClaims",
    "AreaSecretKeys",
    "BadJson",
    "BadSignature",
    "BadToken",
    "ClockSkew",
    "CryptoError",
    "EnvelopeParts",
    "ExpiredKey",
    "JsonLimits",
    "Malformed",
    "MasterKey",
    "MasterKeyError",
    "PublicAreaKey",
    "RequestClaims",
    "SealedEnvelope",
    "TokenSigningKey",
    "UnknownKey",
    "WeakPassword",
    "WrongAddressee",
    "access_key_id",
    "b64url_decode",
    "b64url_encode",
    "canonical_json",
    "check_body",
    "check_policy",
    "document_body",
    "envelope_digest",
    "fingerprint",
    "format_time",
    "hash_password",
    "issue_access_token",
    "issue_request_token",
    "key_id_for",
    "keyed_digest",
    "match_totp",
    "new_recovery_codes",
    "new_totp_secret",
    "normalise_fingerprint",
    "normalise_recovery_code",
    "open_envelope",
    "open_own_copy",
    "parse_envelope",
    "parse_json",
    "same_digest",
    "seal_envelope",
    "sha256_hex",
    "sign_document",
    "token_audience",
    "token_issuer",
    "token_key_id",
    "totp_code",
    "totp_uri",
    "verify_access_token",
    "verify_document",
    "verify_envelope",
    "verify_password",
    "verify_request_token",
]

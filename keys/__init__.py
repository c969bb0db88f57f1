"""Cryptography for the gateway. The only package that imports PyNaCl (DESIGN section 3)."""

from keys.area import AreaSecretKeys, PublicAreaKey, key_id_for
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
    CryptoError,
    ExpiredKey,
    Malformed,
    UnknownKey,
    WrongAddressee,
)
from keys.signed import (
    document_body,
    fingerprint,
    normalise_fingerprint,
    sign_document,
    verify_document,
)
from keys.tokens import RequestClaims, issue_request_token, token_key_id, verify_request_token
from keys.vault import MasterKey, MasterKeyError

__all__ = [
    "AreaSecretKeys",
    "BadSignature",
    "BadToken",
    "CryptoError",
    "EnvelopeParts",
    "ExpiredKey",
    "Malformed",
    "MasterKey",
    "MasterKeyError",
    "PublicAreaKey",
    "RequestClaims",
    "SealedEnvelope",
    "UnknownKey",
    "WrongAddressee",
    "b64url_decode",
    "b64url_encode",
    "canonical_json",
    "document_body",
    "envelope_digest",
    "fingerprint",
    "format_time",
    "issue_request_token",
    "key_id_for",
    "normalise_fingerprint",
    "open_envelope",
    "open_own_copy",
    "parse_envelope",
    "seal_envelope",
    "sha256_hex",
    "sign_document",
    "token_key_id",
    "verify_document",
    "verify_envelope",
    "verify_request_token",
]

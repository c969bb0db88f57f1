"""Signed documents `{"body": {...}, "sig": "<b64url>"}`: peer bundles, receipts.

The signature is Ed25519 over the canonical JSON of the body. Each body carries a `kind`
so that a signature made for one kind of document can never be presented as another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import nacl.exceptions
from nacl.signing import VerifyKey

from keys.area import AreaSecretKeys
from keys.encoding import b64url_decode, b64url_encode, canonical_json, sha256_hex
from keys.errors import BadSignature, Malformed


def sign_document(body: Mapping[str, Any], keys: AreaSecretKeys) -> dict[str, Any]:
    if "kind" not in body:
        raise Malformed("a signed document names its kind")
    return {"body": dict(body), "sig": b64url_encode(keys.sign(canonical_json(dict(body))))}


def document_body(document: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The body of a signed document, checked for shape and kind, not yet for signature."""
    if not isinstance(document, Mapping) or set(document) != {"body", "sig"}:
        raise Malformed("a signed document is exactly {body, sig}")
    body = document["body"]
    if not isinstance(body, dict) or body.get("kind") != kind:
        raise Malformed(f"document is not a {kind}")
    return body


def verify_document(
    document: Mapping[str, Any], kind: str, signing_public: bytes
) -> dict[str, Any]:
    body = document_body(document, kind)
    sig = b64url_decode(document["sig"], length=64)
    try:
        VerifyKey(signing_public).verify(canonical_json(body), sig)
    except nacl.exceptions.BadSignatureError as exc:
        raise BadSignature(f"{kind} signature does not verify") from exc
    return body


def fingerprint(body: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the canonical body, in groups of four for reading aloud."""
    digest = sha256_hex(canonical_json(dict(body)))
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def normalise_fingerprint(text: str) -> str:
    """Accept a fingerprint with or without spaces (and in either case)."""
    compact = "".join(text.split()).lower()
    if len(compact) != 64 or any(c not in "0123456789abcdef" for c in compact):
        raise Malformed("a fingerprint is 64 hex digits")
    return " ".join(compact[i : i + 4] for i in range(0, 64, 4))

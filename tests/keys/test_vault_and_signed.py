"""The master key file, secrets sealed at rest, signed documents, fingerprints, base64url."""

from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from keys import (
    AreaSecretKeys,
    BadSignature,
    Malformed,
    MasterKey,
    MasterKeyError,
    b64url_decode,
    b64url_encode,
    canonical_json,
    document_body,
    fingerprint,
    normalise_fingerprint,
    sha256_hex,
    sign_document,
    verify_document,
)

SECRET = b"\x01" * 32
CONTEXT = "area:alpha:key:abc:signing_seed"
BODY: dict[str, Any] = {
    "kind": "peer_bundle",
    "area": "alpha",
    "keys": [{"id": "k1", "valid_from": "2025-01-01T00:00:00Z"}],
    "endpoint": "https://alpha.example/federation/v1",
}
FINGERPRINT = re.compile(r"^[0-9a-f]{4}( [0-9a-f]{4}){15}$")


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "secrets" / "master.key"


@pytest.fixture(scope="module")
def alpha() -> AreaSecretKeys:
    return AreaSecretKeys.generate("alpha")


@pytest.fixture(scope="module")
def mallory() -> AreaSecretKeys:
    return AreaSecretKeys.generate("mallory")


# --- master key file ------------------------------------------------------------------------


def test_create_file_writes_0600(key_path: Path) -> None:
    master = MasterKey.create_file(key_path)
    info = key_path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_size == 32
    sealed = master.seal(SECRET, CONTEXT)
    assert MasterKey.load_file(key_path).open(sealed, CONTEXT) == SECRET


def test_create_file_refuses_to_overwrite(key_path: Path) -> None:
    MasterKey.create_file(key_path)
    before = key_path.read_bytes()
    with pytest.raises(FileExistsError):
        MasterKey.create_file(key_path)
    assert key_path.read_bytes() == before


def test_create_file_is_random(tmp_path: Path) -> None:
    MasterKey.create_file(tmp_path / "one")
    MasterKey.create_file(tmp_path / "two")
    assert (tmp_path / "one").read_bytes() != (tmp_path / "two").read_bytes()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o644, 0o666])
def test_load_file_refuses_accessible_to_others(key_path: Path, mode: int) -> None:
    MasterKey.create_file(key_path)
    os.chmod(key_path, mode)
    with pytest.raises(MasterKeyError):
        MasterKey.load_file(key_path)


def test_load_file_accepts_owner_read_only(key_path: Path) -> None:
    MasterKey.create_file(key_path)
    os.chmod(key_path, 0o400)
    MasterKey.load_file(key_path)


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_load_file_refuses_wrong_length(tmp_path: Path, size: int) -> None:
    path = tmp_path / "master.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(b"\x07" * size)
    os.chmod(path, 0o600)
    with pytest.raises(MasterKeyError):
        MasterKey.load_file(path)


def test_load_file_missing(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError):
        MasterKey.load_file(tmp_path / "absent.key")


@pytest.mark.parametrize("size", [0, 31, 33])
def test_constructor_refuses_wrong_length(size: int) -> None:
    with pytest.raises(MasterKeyError):
        MasterKey(b"\0" * size)


# --- sealing secrets at rest ----------------------------------------------------------------


def test_seal_open_round_trip() -> None:
    master = MasterKey(b"\x42" * 32)
    for plaintext in (SECRET, b"", b"x" * 1000):
        sealed = master.seal(plaintext, CONTEXT)
        assert plaintext not in sealed or plaintext == b""
        assert master.open(sealed, CONTEXT) == plaintext


def test_seal_uses_a_fresh_nonce() -> None:
    master = MasterKey(b"\x42" * 32)
    assert master.seal(SECRET, CONTEXT) != master.seal(SECRET, CONTEXT)


@pytest.mark.parametrize(
    "context",
    ["area:alpha:key:abc:encryption_secret", "area:alpha:key:abd:signing_seed", "", CONTEXT + " "],
)
def test_open_with_other_context(context: str) -> None:
    master = MasterKey(b"\x42" * 32)
    sealed = master.seal(SECRET, CONTEXT)
    with pytest.raises(BadSignature):
        master.open(sealed, context)


def test_open_with_other_master_key() -> None:
    sealed = MasterKey(b"\x42" * 32).seal(SECRET, CONTEXT)
    with pytest.raises(BadSignature):
        MasterKey(b"\x43" * 32).open(sealed, CONTEXT)


def test_open_tampered_or_short() -> None:
    master = MasterKey(b"\x42" * 32)
    sealed = bytearray(master.seal(SECRET, CONTEXT))
    for index in (0, 23, 24, len(sealed) - 1):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x80
        with pytest.raises(BadSignature):
            master.open(bytes(tampered), CONTEXT)
    with pytest.raises(Malformed):
        master.open(bytes(sealed[:39]), CONTEXT)
    with pytest.raises(Malformed):
        master.open(b"", CONTEXT)
    with pytest.raises(BadSignature):
        master.open(bytes(sealed[:40]), CONTEXT)


# --- signed documents -----------------------------------------------------------------------


def test_sign_verify_round_trip(alpha: AreaSecretKeys) -> None:
    document = sign_document(BODY, alpha)
    assert set(document) == {"body", "sig"}
    assert verify_document(document, "peer_bundle", alpha.signing_public) == BODY
    assert document_body(document, "peer_bundle") == BODY


def test_verify_ignores_member_order(alpha: AreaSecretKeys) -> None:
    document = sign_document(BODY, alpha)
    reordered = {"sig": document["sig"], "body": dict(reversed(list(BODY.items())))}
    assert verify_document(reordered, "peer_bundle", alpha.signing_public) == BODY


@pytest.mark.parametrize(
    "change",
    [
        {"area": "mallory"},
        {"endpoint": "https://mallory.example/federation/v1"},
        {"keys": []},
        {"extra": True},
    ],
)
def test_tampered_body(change: dict[str, Any], alpha: AreaSecretKeys) -> None:
    document = sign_document(BODY, alpha)
    document["body"] = {**document["body"], **change}
    with pytest.raises(BadSignature):
        verify_document(document, "peer_bundle", alpha.signing_public)


def test_tampered_signature_or_other_key(alpha: AreaSecretKeys, mallory: AreaSecretKeys) -> None:
    document = sign_document(BODY, alpha)
    sig = bytearray(b64url_decode(document["sig"]))
    sig[10] ^= 1
    with pytest.raises(BadSignature):
        verify_document(
            {"body": BODY, "sig": b64url_encode(bytes(sig))}, "peer_bundle", alpha.signing_public
        )
    with pytest.raises(BadSignature):
        verify_document(document, "peer_bundle", mallory.signing_public)
    with pytest.raises(BadSignature):
        verify_document(sign_document(BODY, mallory), "peer_bundle", alpha.signing_public)


def test_wrong_kind(alpha: AreaSecretKeys) -> None:
    document = sign_document(BODY, alpha)
    with pytest.raises(Malformed):
        verify_document(document, "receipt", alpha.signing_public)
    with pytest.raises(Malformed):
        document_body(document, "receipt")
    # Re-labelling the kind breaks the signature rather than passing as the other kind.
    relabelled = {"body": {**BODY, "kind": "receipt"}, "sig": document["sig"]}
    with pytest.raises(BadSignature):
        verify_document(relabelled, "receipt", alpha.signing_public)


def test_sign_requires_kind(alpha: AreaSecretKeys) -> None:
    with pytest.raises(Malformed):
        sign_document({"area": "alpha"}, alpha)


@pytest.mark.parametrize(
    "document",
    [
        {"body": BODY},
        {"sig": "AAAA"},
        {"body": BODY, "sig": "AAAA", "extra": 1},
        {"body": [BODY], "sig": "AAAA"},
        {"body": {"area": "alpha"}, "sig": "AAAA"},
        [BODY, "AAAA"],
        "document",
    ],
)
def test_malformed_documents(document: Any, alpha: AreaSecretKeys) -> None:
    with pytest.raises(Malformed):
        verify_document(document, "peer_bundle", alpha.signing_public)


@pytest.mark.parametrize("sig", ["AAAA", "", 64, b64url_encode(bytes(65))])
def test_malformed_signature(sig: Any, alpha: AreaSecretKeys) -> None:
    with pytest.raises(Malformed):
        verify_document({"body": BODY, "sig": sig}, "peer_bundle", alpha.signing_public)


def test_padded_signature_is_malformed(alpha: AreaSecretKeys) -> None:
    document = sign_document(BODY, alpha)
    document["sig"] += "=="
    with pytest.raises(Malformed):
        verify_document(document, "peer_bundle", alpha.signing_public)


# --- fingerprints ---------------------------------------------------------------------------


def test_fingerprint_shape() -> None:
    printed = fingerprint(BODY)
    assert FINGERPRINT.match(printed)
    assert len(printed.split(" ")) == 16
    assert printed.replace(" ", "") == sha256_hex(canonical_json(BODY))


def test_fingerprint_ignores_member_order_but_not_content() -> None:
    assert fingerprint(dict(reversed(list(BODY.items())))) == fingerprint(BODY)
    assert fingerprint({**BODY, "area": "bravo"}) != fingerprint(BODY)


def test_normalise_fingerprint_accepts_variants() -> None:
    printed = fingerprint(BODY)
    compact = printed.replace(" ", "")
    for text in (
        printed,
        compact,
        compact.upper(),
        printed.upper(),
        f"  {printed}\n",
        printed.replace(" ", "\t"),
        " ".join(compact[i : i + 8] for i in range(0, 64, 8)),
    ):
        assert normalise_fingerprint(text) == printed


@pytest.mark.parametrize(
    "text",
    [
        "a" * 63,
        "a" * 65,
        "",
        "g" + "a" * 63,
        "0x" + "a" * 62,
        "a" * 62 + "-a",
        "a" * 63 + "\u0661",  # ARABIC-INDIC DIGIT ONE: a digit, but not hex
        "a" * 63 + "\uff41",  # FULLWIDTH LATIN SMALL LETTER A
    ],
)
def test_normalise_fingerprint_refuses(text: str) -> None:
    with pytest.raises(Malformed):
        normalise_fingerprint(text)


# --- strict base64url -----------------------------------------------------------------------


def test_b64url_round_trip() -> None:
    for size in range(0, 40):
        data = os.urandom(size)
        text = b64url_encode(data)
        assert "=" not in text
        assert b64url_decode(text) == data
        assert b64url_decode(text, length=size) == data


@pytest.mark.parametrize("text", ["AA==", "AAA=", "AAAA=", "AAAA====", "=", "A=A"])
def test_b64url_refuses_padding(text: str) -> None:
    with pytest.raises(Malformed):
        b64url_decode(text)


@pytest.mark.parametrize("text", ["+w", "/w", "ab+/", "AAAA+AAA", "AA/A"])
def test_b64url_refuses_standard_alphabet(text: str) -> None:
    with pytest.raises(Malformed):
        b64url_decode(text)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("AB", "AA"), ("AP", "AA"), ("AAB", "AAA"), ("AAD", "AAA"), ("__9", "__8")],
)
def test_b64url_refuses_non_canonical_trailing_bits(text: str, canonical: str) -> None:
    # A lenient decoder reads both spellings as the same bytes.
    assert base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)) == b64url_decode(canonical)
    with pytest.raises(Malformed):
        b64url_decode(text)


@pytest.mark.parametrize(
    "text",
    ["A", "AAAAA", "AAAA\n", "AAA\n", "AA\n", " AAAA", "AA AA", "AAAA\r\n", "AA.A", "\uff21" * 4],
)
def test_b64url_refuses_other_characters_and_lengths(text: str) -> None:
    with pytest.raises(Malformed):
        b64url_decode(text)


@pytest.mark.parametrize("value", [b"AAAA", None, 1234, ["AAAA"]])
def test_b64url_refuses_non_strings(value: Any) -> None:
    with pytest.raises(Malformed):
        b64url_decode(value)


def test_b64url_length_check() -> None:
    text = b64url_encode(bytes(32))
    assert b64url_decode(text, length=32) == bytes(32)
    for length in (0, 31, 33):
        with pytest.raises(Malformed):
            b64url_decode(text, length=length)
    assert b64url_decode("") == b""
    with pytest.raises(Malformed):
        b64url_decode("", length=1)

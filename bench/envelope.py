"""Per-envelope cost of keys.seal_envelope / verify_envelope + open_envelope.

Baseline, measured in the same run and interleaved round by round: the raw PyNaCl
primitives doing the same cryptographic work on the same payload sizes, with keys already
loaded (the wrapper rebuilds key objects from their seeds on every call; that, the JSON
serialisation, base64url and the structural checks are what the ratio measures).

    seal (wrapper)    keys.seal_envelope(sender, recipient, payload_type, payload)
    seal (primitives) random key + nonce; XChaCha20-Poly1305 encrypt (same-size AAD);
                      SealedBox encrypt of the key to the recipient AND to the sender (the
                      wrapper keeps a self-sealed copy); SHA-256 of the ciphertext; Ed25519
                      sign of header||sealed_key||nonce||digest
    open (wrapper)    keys.parse_envelope(wire) once, as the receiver does, then
                      keys.verify_envelope(parts, sender_key, now) + keys.open_envelope(parts, ...)
    open (primitives) SHA-256 of the ciphertext; VerifyKey.verify; SealedBox decrypt;
                      XChaCha20-Poly1305 decrypt; json.loads

Prints one JSON object per line on stdout. Run: .venv/bin/python bench/envelope.py
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import secrets
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nacl.utils
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, environment, note, r

from gateway.devtools.samples import sample_transfer
from keys import (
    AreaSecretKeys,
    b64url_decode,
    b64url_encode,
    canonical_json,
    open_envelope,
    parse_envelope,
    seal_envelope,
    verify_envelope,
)
from keys.envelope import CONTENT_KEY_BYTES, NONCE_BYTES, format_time
from schemas.wire.transfer_request import dump_transfer_request, load_transfer_request

GOAL_RATIO = 1.5
FROM_AREA, TO_AREA = "northshire", "south-vale"
PAYLOAD_TYPE = "transfer_request"
ONE_MB = 1024 * 1024


# --- timing -----------------------------------------------------------------------------
def calibrate(fn: Callable[[], object], round_seconds: float) -> int:
    """Warm up for ~round_seconds/2, then pick an iteration count filling one round."""
    fn()
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < round_seconds / 2 or count < 3:
        fn()
        count += 1
    return max(3, int(round_seconds / (elapsed / count)))


def timed(fn: Callable[[], object], iterations: int) -> float:
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        started = time.perf_counter()
        for _ in range(iterations):
            fn()
        return time.perf_counter() - started
    finally:
        if was_enabled:
            gc.enable()


def compare(
    wrapper: Callable[[], object],
    primitive: Callable[[], object],
    *,
    rounds: int,
    round_seconds: float,
) -> dict[str, dict[str, float]]:
    """Interleave rounds of both variants so drift (thermal, neighbours) hits both alike."""
    variants = {"wrapper": wrapper, "primitive": primitive}
    counts = {name: calibrate(fn, round_seconds) for name, fn in variants.items()}
    totals = dict.fromkeys(variants, 0.0)
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(rounds):
        for name, fn in variants.items():
            spent = timed(fn, counts[name])
            totals[name] += spent
            best[name] = min(best[name], spent / counts[name])
    out = {}
    for name in variants:
        ops = counts[name] * rounds
        mean = totals[name] / ops
        out[name] = {
            "iterations": ops,
            "ops_per_s": r(1.0 / mean, 1),
            "mean_us": r(mean * 1e6, 2),
            "best_round_us": r(best[name] * 1e6, 2),
        }
    return out


def micro(fn: Callable[[], object], seconds: float) -> float:
    """Mean seconds per call, for the informational breakdown lines."""
    count = calibrate(fn, seconds)
    return timed(fn, count) / count


# --- payloads and keys ------------------------------------------------------------------
def sample_payload() -> dict[str, Any]:
    """The demo transfer, loaded and dumped as sending.send does before sealing."""
    return dump_transfer_request(load_transfer_request(sample_transfer(FROM_AREA, TO_AREA)))


def large_payload(total: int = ONE_MB) -> dict[str, Any]:
    payload: dict[str, Any] = {"from_area": FROM_AREA, "to_area": TO_AREA, "blob": ""}
    overhead = len(canonical_json(payload))
    payload["blob"] = secrets.token_urlsafe(total)[: total - overhead]
    return payload


class Fixture:
    """Both areas' keys, plus the raw PyNaCl objects the primitive baseline starts from."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)
        self.sender = AreaSecretKeys.generate(FROM_AREA)
        self.recipient = AreaSecretKeys.generate(TO_AREA)
        valid_from = self.now - timedelta(days=1)
        self.sender_public = self.sender.public(valid_from)
        self.recipient_public = self.recipient.public(valid_from)
        # Primitive side: key objects built once, as a caller caching them would hold them.
        self.signing_key = SigningKey(self.sender.signing_seed)
        self.verify_key = VerifyKey(self.sender.signing_public)
        self.to_recipient = SealedBox(PublicKey(self.recipient.encryption_public))
        self.to_self = SealedBox(PublicKey(self.sender.encryption_public))
        self.recipient_box = SealedBox(PrivateKey(self.recipient.encryption_secret))
        # An AAD of exactly the size the wrapper's canonical header has.
        self.aad = canonical_json(
            {
                "v": 1,
                "id": "00000000-0000-4000-8000-000000000000",
                "type": PAYLOAD_TYPE,
                "from": {"area": FROM_AREA, "key": self.sender.key_id},
                "to": {"area": TO_AREA, "key": self.recipient.key_id},
                "created_at": format_time(self.now),
                "in_reply_to": None,
            }
        )

    # wrapper
    def seal(self, payload: dict[str, Any]) -> Any:
        return seal_envelope(
            sender=self.sender,
            recipient=self.recipient_public,
            payload_type=PAYLOAD_TYPE,
            payload=payload,
        )

    def verify_open(self, wire: dict[str, Any]) -> dict[str, Any]:
        # Parsed once and the parts handed on, as gateway.domain.federation.receiving does:
        # decoding a megabyte of base64url twice is not what a receiver pays.
        parts = parse_envelope(wire)
        verify_envelope(parts, self.sender_public, self.now)
        return open_envelope(parts, self.recipient)

    # primitives
    def raw_seal(self, plaintext: bytes) -> tuple[bytes, bytes, bytes, bytes, bytes]:
        content_key = nacl.utils.random(CONTENT_KEY_BYTES)
        nonce = nacl.utils.random(NONCE_BYTES)
        ciphertext = crypto_aead_xchacha20poly1305_ietf_encrypt(
            plaintext, self.aad, nonce, content_key
        )
        sealed_key = self.to_recipient.encrypt(content_key)
        self_sealed = self.to_self.encrypt(content_key)
        message = self.aad + sealed_key + nonce + hashlib.sha256(ciphertext).digest()
        signature = self.signing_key.sign(message).signature
        return sealed_key, nonce, ciphertext, signature, self_sealed

    def raw_open(self, sealed: tuple[bytes, bytes, bytes, bytes, bytes]) -> Any:
        sealed_key, nonce, ciphertext, signature, _ = sealed
        message = self.aad + sealed_key + nonce + hashlib.sha256(ciphertext).digest()
        self.verify_key.verify(message, signature)
        content_key = self.recipient_box.decrypt(sealed_key)
        plaintext = crypto_aead_xchacha20poly1305_ietf_decrypt(
            ciphertext, self.aad, nonce, content_key
        )
        return json.loads(plaintext)


# --- the benchmark ----------------------------------------------------------------------
def bench_payload(
    fx: Fixture, name: str, payload: dict[str, Any], *, rounds: int, round_seconds: float
) -> list[dict[str, Any]]:
    plaintext = canonical_json(payload)
    wire = fx.seal(payload).wire
    raw = fx.raw_seal(plaintext)
    # Both sides must actually work before they are timed.
    assert fx.verify_open(wire) == json.loads(plaintext)
    assert fx.raw_open(raw) == json.loads(plaintext)
    wire_bytes = len(canonical_json(wire))

    results = []
    for op, wrapper, primitive in (
        ("seal_sign", lambda: fx.seal(payload), lambda: fx.raw_seal(plaintext)),
        ("verify_open", lambda: fx.verify_open(wire), lambda: fx.raw_open(raw)),
    ):
        measured = compare(wrapper, primitive, rounds=rounds, round_seconds=round_seconds)
        ratio = measured["wrapper"]["mean_us"] / measured["primitive"]["mean_us"]
        record = {
            "bench": "envelope",
            "op": op,
            "payload": name,
            "payload_bytes": len(plaintext),
            "wire_bytes": wire_bytes,
            "wrapper": measured["wrapper"],
            "primitive": measured["primitive"],
            "ratio": r(ratio, 3),
            "goal_ratio": GOAL_RATIO,
            "goal_met": ratio < GOAL_RATIO,
        }
        emit(record)
        results.append(record)
    return results


def breakdown(fx: Fixture, name: str, payload: dict[str, Any], seconds: float) -> None:
    """Where the wrapper's extra time goes (informational, not part of the ratio)."""
    wire = fx.seal(payload).wire
    ciphertext = b64url_decode(wire["ciphertext"])
    plaintext = canonical_json(payload)
    parts: dict[str, Callable[[], object]] = {
        "canonical_json(payload)": lambda: canonical_json(payload),
        "b64url_encode(ciphertext)": lambda: b64url_encode(ciphertext),
        "b64url_decode(ciphertext), strict": lambda: b64url_decode(wire["ciphertext"]),
        "parse_envelope(wire)": lambda: parse_envelope(wire),
        "json.loads(plaintext)": lambda: json.loads(plaintext),
    }
    emit(
        {
            "bench": "envelope",
            "kind": "breakdown",
            "payload": name,
            "mean_us": {label: r(micro(fn, seconds) * 1e6, 2) for label, fn in parts.items()},
        }
    )


def key_breakdown(fx: Fixture, seconds: float) -> None:
    message = fx.aad + bytes(100)
    parts: dict[str, Callable[[], object]] = {
        "SigningKey.sign (key loaded)": lambda: fx.signing_key.sign(message),
        "AreaSecretKeys.sign (re-derives key)": lambda: fx.sender.sign(message),
        "SealedBox(PrivateKey(secret)) build": lambda: SealedBox(fx.recipient.box_private()),
        "AreaSecretKeys.key_id (2 derivations)": lambda: fx.recipient.key_id,
    }
    emit(
        {
            "bench": "envelope",
            "kind": "breakdown",
            "payload": None,
            "mean_us": {label: r(micro(fn, seconds) * 1e6, 2) for label, fn in parts.items()},
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per variant")
    parser.add_argument(
        "--round-seconds", type=float, default=0.25, help="target duration of one round"
    )
    parser.add_argument("--no-breakdown", action="store_true", help="skip informational lines")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    fx = Fixture()
    payloads = (("sample_transfer", sample_payload()), ("1MB", large_payload()))
    results = []
    for name, payload in payloads:
        note(f"envelope: {name} ({len(canonical_json(payload))} bytes)")
        results += bench_payload(
            fx, name, payload, rounds=args.rounds, round_seconds=args.round_seconds
        )
    if not args.no_breakdown:
        for name, payload in payloads:
            breakdown(fx, name, payload, args.round_seconds / 2)
        key_breakdown(fx, args.round_seconds / 2)
    emit(
        {
            "bench": "envelope",
            "kind": "summary",
            "max_ratio": max(item["ratio"] for item in results),
            "goal_ratio": GOAL_RATIO,
            "goal_met": all(item["goal_met"] for item in results),
            "seconds": r(time.perf_counter() - started, 1),
            **environment(),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

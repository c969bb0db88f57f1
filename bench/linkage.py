"""Linkage token cost and linkage quality (DESIGN section 6).

Cost, per subject: `linkage_inputs` (normalisation) and `derive_tokens` over all of that
subject's inputs with an in-process authority (blind + evaluate + finalize, no HTTP).
Baseline, measured in the same run and interleaved round by round: the raw PyNaCl
primitives the OPRF cannot avoid for one input (two Elligator maps and an add for the
hash to the group, three noclamp scalar multiplications: blind, evaluate, unblind; one
scalar inversion; SHA-512 + SHA-256), and one crypto_scalarmult_ed25519_noclamp alone.

Quality: FEBRL 4 (dfA against dfB) and dfA against the seeded corrupted copy of
tests/linkage/quality.py, and the second set of tests/linkage/variations.py (FEBRL 2
originals, one variation each, adversarial controls), matched on real tokens
(evaluate_direct, same tokens as the blinded path) unless --inputs. Each with the rules
and matching of this release (spaces v2 + v1, scored) and, as the baseline in the same
run, those before (space v1 alone, any shared token); tokens per subject for both; plus
the phonetic codes compared on the same data.

Prints one JSON object per line on stdout. Run: .venv/bin/python bench/linkage.py
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jellyfish
from nacl.bindings import (
    crypto_core_ed25519_add,
    crypto_core_ed25519_from_uniform,
    crypto_core_ed25519_scalar_invert,
    crypto_core_ed25519_scalar_reduce,
    crypto_scalarmult_ed25519_noclamp,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "linkage"))

import quality as q
import variations as v
from _common import emit, environment, note, percentile, r

from gateway.domain.linkage import derive_tokens, linkage_inputs, names
from keys.oprf import OprfKey, evaluate, evaluate_direct


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _primitives_for_one_input(data: bytes, key: bytes) -> bytes:
    wide = hashlib.sha512(data).digest()
    point = crypto_core_ed25519_add(
        crypto_core_ed25519_from_uniform(wide[:32]), crypto_core_ed25519_from_uniform(wide[32:])
    )
    r_ = crypto_core_ed25519_scalar_reduce(os.urandom(64))
    blinded = crypto_scalarmult_ed25519_noclamp(r_, point)
    evaluated = crypto_scalarmult_ed25519_noclamp(key, blinded)
    unblinded = crypto_scalarmult_ed25519_noclamp(crypto_core_ed25519_scalar_invert(r_), evaluated)
    return hashlib.sha256(data + unblinded).digest()


def cost(subjects: list[q.Subject], rounds: int) -> None:
    key = OprfKey.generate()
    raw_key = key.to_bytes()
    point = crypto_core_ed25519_from_uniform(b"\x05" * 32)

    def authority(elements: list[bytes]) -> list[bytes]:
        return [evaluate(key, e) for e in elements]

    per_subject_inputs = [linkage_inputs(s) for s in subjects]
    before = sum(len(linkage_inputs(s, (1,))) for s in subjects) / len(subjects)
    n_inputs = sum(len(i) for i in per_subject_inputs)
    samples: dict[str, list[float]] = {"inputs": [], "tokens": [], "primitives": [], "mult": []}
    gc.disable()
    try:
        for _ in range(rounds):
            samples["inputs"].append(_time(lambda: [linkage_inputs(s) for s in subjects]))
            samples["tokens"].append(
                _time(lambda: [derive_tokens(i, authority) for i in per_subject_inputs])
            )
            samples["primitives"].append(
                _time(
                    lambda: [
                        _primitives_for_one_input(item.data, raw_key)
                        for inputs in per_subject_inputs
                        for item in inputs
                    ]
                )
            )
            samples["mult"].append(
                _time(
                    lambda: [crypto_scalarmult_ed25519_noclamp(raw_key, point) for _ in range(500)]
                )
            )
    finally:
        gc.enable()
    med = {k: percentile(v, 50) for k, v in samples.items()}
    per_subject_ms = med["tokens"] / len(subjects) * 1e3
    emit(
        {
            "bench": "linkage_token_cost",
            "subjects": len(subjects),
            "rounds": rounds,
            "inputs_per_subject": r(n_inputs / len(subjects), 2),
            "inputs_per_subject_before": r(before, 2),
            "linkage_inputs_ms_per_subject": r(med["inputs"] / len(subjects) * 1e3, 4),
            "derive_tokens_ms_per_subject": r(per_subject_ms, 3),
            "derive_tokens_us_per_input": r(med["tokens"] / n_inputs * 1e6, 1),
            "baseline_primitives_us_per_input": r(med["primitives"] / n_inputs * 1e6, 1),
            "baseline_scalarmult_noclamp_us": r(med["mult"] / 500 * 1e6, 1),
            "ratio_to_primitives": r(med["tokens"] / med["primitives"], 3),
            "scalarmults_per_input": 3,
        }
    )


Pairs = dict[tuple[str, str], str]


def _sets(fn: q.TokenFn, spaces: tuple[int, ...], *groups: dict) -> list[dict]:
    return [q.token_sets(group, fn, spaces) for group in groups]


def quality(use_tokens: bool) -> None:
    subjects_a, subjects_b, links = q.febrl4()
    corrupted = q.corrupt(subjects_a)
    second = v.build(v.febrl2_originals())
    key = OprfKey.generate()
    cache: dict[bytes, bytes] = {}

    def token(item: q.LinkageInput) -> bytes:
        if item.data not in cache:
            cache[item.data] = evaluate_direct(key, item.data)
        return cache[item.data]

    fn = token if use_tokens else q.input_as_token
    matched = "tokens" if use_tokens else "inputs"
    results = {}
    for label, spaces, match in (
        ("before: v1, any shared token", (1,), q.any_token_pairs),
        ("this release: v2 + v1, scored", q.SPACES, q.match_pairs),
    ):
        start = time.perf_counter()
        ta, tb, tc, tf, tl = _sets(
            fn, spaces, subjects_a, subjects_b, corrupted.subjects, second.flagged, second.lookups
        )
        note(f"{label}: tokens in {time.perf_counter() - start:.1f} s ({len(cache)} cached)")
        raw = q.quality(match(ta, tb), links)
        emit(
            {
                "bench": "linkage_quality",
                "rules": label,
                "data": "febrl4",
                "matched_on": matched,
                **raw.as_dict(),
            }
        )
        pairs = match(ta, tc)
        first = q.quality(pairs, corrupted.truth)
        emit(
            {
                "bench": "linkage_quality",
                "rules": label,
                "data": "febrl4_corrupted",
                "matched_on": matched,
                "tokens_per_subject": r(sum(map(len, ta.values())) / len(ta), 2),
                **first.as_dict(),
                "recall_by_corruption": q.recall_by_corruption(pairs, corrupted),
            }
        )
        pairs2 = match(tf, tl)
        kept = {p: t for p, t in pairs2.items() if second.variation[p[1]] != "same_given_dob"}
        result2 = q.quality(kept, second.truth)
        emit(
            {
                "bench": "linkage_quality",
                "rules": label,
                "data": "febrl2_variations (controls except same_given_dob)",
                "matched_on": matched,
                "tokens_per_subject": r(sum(map(len, tf.values())) / len(tf), 2),
                **result2.as_dict(),
                "with_same_given_dob_precision": r(q.quality(pairs2, second.truth).precision, 5),
                "by_variation": v.by_variation(pairs2, second),
            }
        )
        results[label] = (raw, first, result2)
    raw, first, result2 = results["this release: v2 + v1, scored"]
    emit(
        {
            "bench": "linkage_goals",
            "corrupted_precision_ge_0_995": first.precision >= 0.995,
            "corrupted_recall_ge_0_95": first.recall >= 0.95,
            "variations_precision_ge_0_995": result2.precision >= 0.995,
            "variations_recall_ge_0_95": result2.recall >= 0.95,
            "strong_precision_ge_0_999": min(
                raw.strong_precision, first.strong_precision, result2.strong_precision
            )
            >= 0.999,
            "raw_recall_ge_0_70_at_precision_ge_0_99": raw.recall >= 0.70 and raw.precision >= 0.99,
        }
    )
    phonetic_choice(subjects_a, subjects_b, links, corrupted)


def phonetic_choice(subjects_a: dict, subjects_b: dict, links: set, corrupted: q.Corrupted) -> None:
    """Why names.phonetic is metaphone: the codes compared on the same data (inputs)."""
    chosen = names.phonetic
    try:
        for label, code in [
            ("metaphone", jellyfish.metaphone),
            ("nysiis", jellyfish.nysiis),
            ("soundex", jellyfish.soundex),
            ("match_rating_codex", jellyfish.match_rating_codex),
        ]:
            names.phonetic = lambda w, code=code: code(w) if w else ""  # type: ignore[misc]
            tokens_a = q.token_sets(subjects_a)
            raw = q.quality(q.match_pairs(tokens_a, q.token_sets(subjects_b)), links)
            cor = q.quality(
                q.match_pairs(tokens_a, q.token_sets(corrupted.subjects)), corrupted.truth
            )
            emit(
                {
                    "bench": "linkage_phonetic_choice",
                    "code": label,
                    "in_use": label == "metaphone",
                    "raw_precision": r(raw.precision, 5),
                    "raw_recall": r(raw.recall, 4),
                    "corrupted_precision": r(cor.precision, 5),
                    "corrupted_recall": r(cor.recall, 4),
                }
            )
    finally:
        names.phonetic = chosen  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--inputs", action="store_true", help="match on inputs, not tokens")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    emit({"bench": "linkage_environment", **environment()})
    subjects_a, _, _ = q.febrl4()
    with_dob = [s for _, s in sorted(subjects_a.items()) if s.date_of_birth][: args.subjects]
    cost(with_dob, args.rounds)
    if not args.skip_quality:
        quality(use_tokens=not args.inputs)


if __name__ == "__main__":
    main()

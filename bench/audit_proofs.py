"""Audit-log Merkle proofs (keys.merkle) on a 1,000,000-leaf tree: build, prove, verify.

The tree lives in memory as the audit log stores it: node (level, index) -> hash, filled
from each Frontier.append's output (leaf hash at level 0, completed nodes at levels >= 1).
Then, for random pairs, each operation is timed call by call:

    build      Frontier.append over precomputed leaf hashes (the pure tree, appends/s),
               and the same appends while filling the node mapping
    inclusion  prove:  inclusion_nodes(index, size) + inclusion_proof(index, size, fetched)
               verify: verify_inclusion(leaf_hash, index, size, proof, root)
    consistency prove:  consistency_nodes(old, new) + consistency_proof(old, new, fetched)
               verify: verify_consistency(old, new, old_root, new_root, proof)

`fetched` is what the one `WHERE seq IN (...)` query gives the caller: only the named
nodes. Here a dict comprehension over the in-memory store stands in for that query; it is
timed apart ("fetch", informational) and kept out of "prove", which is the cost of naming
the nodes and hashing the right-edge subtrees from their perfect pieces.
Baseline in the same run: one raw hashlib.sha256 over 64 bytes; each verify line reports
its mean time per SHA-256 it performs and that over the raw baseline.

Prints one JSON object per line on stdout. Run: .venv/bin/python bench/audit_proofs.py
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, environment, note, percentile, r

from keys import merkle
from keys.merkle import (
    Frontier,
    NodeId,
    consistency_nodes,
    consistency_proof,
    inclusion_nodes,
    inclusion_proof,
    leaf_hash,
    root_from_nodes,
    verify_consistency,
    verify_inclusion,
)

GOAL_PROVE_US = 5_000.0
GOAL_VERIFY_US = 1_000.0
BENCH = "audit_proofs"


# --- timing -----------------------------------------------------------------------------
@contextmanager
def no_gc() -> Iterator[None]:
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def time_each(fn: Callable[..., object], cases: Sequence[tuple[Any, ...]]) -> list[float]:
    """Seconds per call, one sample per case (after one untimed warm-up pass)."""
    for case in cases[:50]:
        fn(*case)
    clock = time.perf_counter
    samples = []
    with no_gc():
        for case in cases:
            started = clock()
            fn(*case)
            samples.append(clock() - started)
    return samples


def stats_us(samples: Sequence[float]) -> dict[str, float]:
    return {
        "mean_us": r(sum(samples) / len(samples) * 1e6, 2),
        "p50_us": r(percentile(samples, 50) * 1e6, 2),
        "p99_us": r(percentile(samples, 99) * 1e6, 2),
        "max_us": r(max(samples) * 1e6, 2),
    }


def raw_sha256_us(seconds: float = 0.5) -> float:
    """Mean µs of one hashlib.sha256(64 bytes).digest(), the floor every tree hash pays."""
    block = bytes(range(64))
    sha256 = hashlib.sha256
    count, batch = 0, 20_000
    with no_gc():
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            for _ in range(batch):
                sha256(block).digest()
            count += batch
    return elapsed / count * 1e6


@contextmanager
def counting_hashes() -> Iterator[list[int]]:
    """Count keys.merkle.node_hash calls (untimed passes only: the wrapper costs time)."""
    counter = [0]
    original = merkle.node_hash

    def counted(left: bytes, right: bytes) -> bytes:
        counter[0] += 1
        return original(left, right)

    merkle.node_hash = counted
    try:
        yield counter
    finally:
        merkle.node_hash = original


# --- the tree ---------------------------------------------------------------------------
class Tree:
    """A built tree: leaf hashes, the node mapping, and roots computed on demand."""

    def __init__(self, leaves: int) -> None:
        started = time.perf_counter()
        self.leaf_hashes = [leaf_hash(b"audit entry %d" % seq) for seq in range(leaves)]
        self.leaf_hash_s = time.perf_counter() - started

        pure = Frontier()
        append = pure.append
        with no_gc():
            started = time.perf_counter()
            for hashed in self.leaf_hashes:
                append(hashed)
            self.pure_append_s = time.perf_counter() - started

        frontier = Frontier()
        self.nodes: dict[NodeId, bytes] = {}
        with no_gc():  # two million tuple keys would otherwise trigger full collections
            started = time.perf_counter()
            for seq, hashed in enumerate(self.leaf_hashes):
                self.nodes[(0, seq)] = hashed
                for level, completed in enumerate(frontier.append(hashed), start=1):
                    self.nodes[(level, ((seq + 1) >> level) - 1)] = completed
            self.build_s = time.perf_counter() - started

        self.size = leaves
        self.root = frontier.root()
        # The mapping and the frontier must agree before anything is timed against them.
        assert pure.root() == self.root == root_from_nodes(leaves, self.nodes)
        self._roots: dict[int, bytes] = {leaves: self.root}

    def root_at(self, size: int) -> bytes:
        if size not in self._roots:
            self._roots[size] = root_from_nodes(size, self.nodes)
        return self._roots[size]


def bench_build(tree: Tree) -> dict[str, Any]:
    record = {
        "bench": BENCH,
        "op": "build",
        "leaves": tree.size,
        "nodes": len(tree.nodes),
        "pure_appends_per_s": r(tree.size / tree.pure_append_s, 0),
        "pure_append_mean_us": r(tree.pure_append_s / tree.size * 1e6, 3),
        "build_mapping_s": r(tree.build_s, 2),
        "build_appends_per_s": r(tree.size / tree.build_s, 0),
        "leaf_hashing_s": r(tree.leaf_hash_s, 2),
    }
    emit(record)
    return record


# --- proofs -----------------------------------------------------------------------------
def inclusion_cases(tree: Tree, rng: random.Random, count: int) -> list[tuple[int, int]]:
    cases = []
    for _ in range(count):
        size = rng.randint(1, tree.size)
        cases.append((rng.randrange(size), size))
    return cases


def consistency_cases(tree: Tree, rng: random.Random, count: int) -> list[tuple[int, int]]:
    cases = []
    for _ in range(count):
        new = rng.randint(1, tree.size)
        cases.append((rng.randint(1, new), new))
    return cases


def time_prove(
    cases: Sequence[tuple[int, int]],
    node_ids: Callable[[int, int], list[NodeId]],
    build: Callable[[int, int, Mapping[NodeId, bytes]], list[bytes]],
    store: Mapping[NodeId, bytes],
) -> tuple[list[float], list[float]]:
    """Seconds per proof (ids + build) and per fetch, one sample per case."""
    for a, b in cases[:50]:
        build(a, b, {node: store[node] for node in node_ids(a, b)})
    clock = time.perf_counter
    prove, fetch = [], []
    with no_gc():
        for a, b in cases:
            t0 = clock()
            ids = node_ids(a, b)
            t1 = clock()
            fetched = {node: store[node] for node in ids}
            t2 = clock()
            build(a, b, fetched)
            t3 = clock()
            prove.append((t1 - t0) + (t3 - t2))
            fetch.append(t2 - t1)
    return prove, fetch


def measure(
    tree: Tree,
    kind: str,
    cases: list[tuple[int, int]],
    node_ids: Callable[[int, int], list[NodeId]],
    build: Callable[[int, int, Mapping[NodeId, bytes]], list[bytes]],
    verify: Callable[[tuple[int, int], list[bytes]], None],
    baseline_us: float,
) -> list[dict[str, Any]]:
    fetched = [{node: tree.nodes[node] for node in node_ids(*case)} for case in cases]
    proofs = [build(*case, nodes) for case, nodes in zip(cases, fetched, strict=True)]
    verify_cases = list(zip(cases, proofs, strict=True))
    for case, proof in verify_cases:
        verify(case, proof)  # every proof must verify before anything is timed
    with counting_hashes() as counter:
        for case, nodes in zip(cases, fetched, strict=True):
            build(*case, nodes)
        prove_hashes = counter[0]
        counter[0] = 0
        for case, proof in verify_cases:
            verify(case, proof)
        verify_hashes = counter[0]

    prove_samples, fetch_samples = time_prove(cases, node_ids, build, tree.nodes)
    prove_stats = stats_us(prove_samples)
    verify_stats = stats_us(time_each(verify, verify_cases))
    hashes_per_verify = verify_hashes / len(cases)
    per_hash_us = verify_stats["mean_us"] / hashes_per_verify if hashes_per_verify else 0.0
    common = {"bench": BENCH, "kind": kind, "leaves": tree.size, "pairs": len(cases)}
    prove_record = {
        **common,
        "op": "prove",
        **prove_stats,
        "node_ids_mean": r(sum(len(nodes) for nodes in fetched) / len(cases), 1),
        "node_ids_max": max(len(nodes) for nodes in fetched),
        "proof_hashes_mean": r(sum(len(p) for p in proofs) / len(cases), 1),
        "sha256_per_prove_mean": r(prove_hashes / len(cases), 1),
        "fetch_in_memory": stats_us(fetch_samples),
        "goal_us": GOAL_PROVE_US,
        "goal_met": prove_stats["p99_us"] < GOAL_PROVE_US,
    }
    verify_record = {
        **common,
        "op": "verify",
        **verify_stats,
        "sha256_per_verify_mean": r(hashes_per_verify, 1),
        "us_per_sha256": r(per_hash_us, 3),
        "raw_sha256_64B_us": r(baseline_us, 3),
        "ratio": r(per_hash_us / baseline_us, 2),
        "goal_us": GOAL_VERIFY_US,
        "goal_met": verify_stats["p99_us"] < GOAL_VERIFY_US,
    }
    emit(prove_record)
    emit(verify_record)
    return [prove_record, verify_record]


def bench_inclusion(
    tree: Tree, rng: random.Random, count: int, baseline_us: float
) -> list[dict[str, Any]]:
    def verify(case: tuple[int, int], proof: list[bytes]) -> None:
        index, size = case
        verify_inclusion(tree.leaf_hashes[index], index, size, proof, tree.root_at(size))

    cases = inclusion_cases(tree, rng, count)
    for _, size in cases:
        tree.root_at(size)  # roots are inputs of verify, not part of its cost
    return measure(tree, "inclusion", cases, inclusion_nodes, inclusion_proof, verify, baseline_us)


def bench_consistency(
    tree: Tree, rng: random.Random, count: int, baseline_us: float
) -> list[dict[str, Any]]:
    def verify(case: tuple[int, int], proof: list[bytes]) -> None:
        old, new = case
        verify_consistency(old, new, tree.root_at(old), tree.root_at(new), proof)

    cases = consistency_cases(tree, rng, count)
    for old, new in cases:
        tree.root_at(old)
        tree.root_at(new)
    return measure(
        tree, "consistency", cases, consistency_nodes, consistency_proof, verify, baseline_us
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000, help="tree size")
    parser.add_argument("--pairs", type=int, default=2_000, help="random pairs per proof kind")
    parser.add_argument("--seed", type=int, default=9162, help="seed for the random pairs")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    rng = random.Random(args.seed)
    note(f"{BENCH}: building a {args.leaves}-leaf tree")
    tree = Tree(args.leaves)
    bench_build(tree)
    baseline_us = raw_sha256_us()
    note(f"{BENCH}: raw sha256(64 B) {baseline_us:.3f} µs; {args.pairs} pairs per kind")
    results = bench_inclusion(tree, rng, args.pairs, baseline_us)
    results += bench_consistency(tree, rng, args.pairs, baseline_us)
    emit(
        {
            "bench": BENCH,
            "kind": "summary",
            "leaves": tree.size,
            "prove_p99_us_max": max(x["p99_us"] for x in results if x["op"] == "prove"),
            "verify_p99_us_max": max(x["p99_us"] for x in results if x["op"] == "verify"),
            "goal_prove_us": GOAL_PROVE_US,
            "goal_verify_us": GOAL_VERIFY_US,
            "goal_met": all(x["goal_met"] for x in results),
            "seconds": r(time.perf_counter() - started, 1),
            **environment(),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""RFC 9162 (Certificate Transparency v2) Merkle tree: hashes, compact frontier, proofs.

Pure: hashlib only, no I/O. The audit log stores the tree; this module only computes.

Storage model served here. Leaves are numbered 0..n-1. Node (level L, index i) is the root
of the perfect subtree over leaves [i * 2**L, (i + 1) * 2**L); level 0 nodes are leaf
hashes. Appending leaf s completes the nodes (L, ((s + 1) >> L) - 1) for every L >= 1 with
(s + 1) % 2**L == 0, so node (L, i) is stored in row `node_row(L, i)` at slot L. Perfect
nodes never change once complete, which is why a proof for any tree size can be built from
them: the `*_nodes` functions name every node a proof needs (so the caller fetches them
in one query), and the proof functions assemble the proof from the fetched mapping.
Imperfect (right-edge) subtrees of the RFC recursion are hashed from their perfect pieces.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from keys.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()

# Domain separation (RFC 9162 section 2.1.1): a leaf can never be passed off as a node.
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

NodeId = tuple[int, int]  # (level, index)
_Range = tuple[int, int]  # leaves [start, end)


# --- hashing ----------------------------------------------------------------------------
def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(_LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


# --- storage layout ---------------------------------------------------------------------
def node_row(level: int, index: int) -> int:
    """The leaf number whose append completed node (level, index), i.e. its last leaf."""
    if level < 0 or index < 0:
        raise ValueError("node level and index must be non-negative")
    return ((index + 1) << level) - 1


def completed_levels(seq: int) -> int:
    """How many nodes at levels >= 1 appending leaf `seq` completes.

    That is the number of trailing one bits of seq: each one is a left sibling waiting
    for the subtree that leaf seq just finished.
    """
    if seq < 0:
        raise ValueError("leaf numbers are non-negative")
    after = seq + 1
    return (after & -after).bit_length() - 1


# --- compact range ----------------------------------------------------------------------
@dataclass
class Frontier:
    """The compact range of a tree of `size` leaves: the roots of its perfect subtrees, left to
    right (largest first), one per set bit of size. Enough to append and to compute the root."""

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        # A frontier out of step with its size would silently produce wrong roots later.
        if self.size < 0:
            raise ValueError("tree size must be non-negative")
        if len(self.hashes) != self.size.bit_count():
            raise ValueError(f"a tree of {self.size} leaves has {self.size.bit_count()} peaks")
        if any(len(h) != HASH_SIZE for h in self.hashes):
            raise ValueError(f"frontier hashes are {HASH_SIZE} bytes")

    def append(self, leaf_hash: bytes) -> list[bytes]:
        """Add one leaf; return the hashes of the nodes it completed, levels 1..k in order.

        The carry runs over the trailing one bits of size, so the cost is O(1) amortised.
        """
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hashes are {HASH_SIZE} bytes")
        completed: list[bytes] = []
        carry = leaf_hash
        pending = self.size
        while pending & 1:
            carry = node_hash(self.hashes.pop(), carry)
            completed.append(carry)
            pending >>= 1
        self.hashes.append(carry)
        self.size += 1
        return completed

    def root(self) -> bytes:
        """MTH of the tree so far (EMPTY_ROOT for size 0)."""
        return _fold(self.hashes) if self.hashes else EMPTY_ROOT

    def to_bytes(self) -> bytes:
        return b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> Frontier:
        if size < 0:
            raise ValueError("tree size must be non-negative")
        expected = size.bit_count() * HASH_SIZE
        if len(blob) != expected:
            raise ValueError(f"a frontier of size {size} is {expected} bytes, got {len(blob)}")
        hashes = [bytes(blob[at : at + HASH_SIZE]) for at in range(0, expected, HASH_SIZE)]
        return cls(size, hashes)


def _fold(peaks: Sequence[bytes]) -> bytes:
    """Hash perfect subtrees, largest first, into MTH of their union.

    The RFC splits at the largest power of two, so the leftmost peak pairs with the hash
    of everything to its right: fold from the right.
    """
    acc = peaks[-1]
    for peak in reversed(peaks[:-1]):
        acc = node_hash(peak, acc)
    return acc


# --- ranges of the RFC recursion ---------------------------------------------------------
def _split(length: int) -> int:
    """k of RFC 9162 section 2.1.1: the largest power of two smaller than length (> 1)."""
    return 1 << ((length - 1).bit_length() - 1)


def _perfect_nodes(start: int, end: int) -> list[NodeId]:
    """The perfect subtrees covering leaves [start, end), largest first.

    Every range the RFC recursion produces starts at a multiple of a power of two at
    least as large as its length, so the set bits of the length, high to low, are
    aligned perfect subtrees.
    """
    remaining = end - start
    if remaining & (remaining - 1) == 0 and remaining:
        # One perfect subtree: the common case, kept cheap because proofs are mostly these.
        level = remaining.bit_length() - 1
        return [(level, start >> level)]
    nodes: list[NodeId] = []
    while remaining:
        level = remaining.bit_length() - 1
        nodes.append((level, start >> level))
        start += 1 << level
        remaining -= 1 << level
    return nodes


def _range_hash(start: int, end: int, nodes: Mapping[NodeId, bytes]) -> bytes:
    """MTH(D[start:end]) from stored perfect nodes; KeyError names a missing node.

    Callers never pass an empty range (the empty tree is handled before we get here).
    """
    length = end - start
    if length & (length - 1) == 0:
        level = length.bit_length() - 1
        return nodes[(level, start >> level)]
    return _fold([nodes[node] for node in _perfect_nodes(start, end)])


def _inclusion_ranges(index: int, size: int) -> list[_Range]:
    """The subtrees whose hashes form PATH(index, D[size]), in proof order (bottom-up).

    RFC 9162 section 2.1.3.1, unrolled: walk down from the root, recording the sibling
    subtree at each split, then reverse, since the proof lists the deepest sibling first.
    """
    ranges: list[_Range] = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _split(end - start)
        if index < mid:
            ranges.append((mid, end))
            end = mid
        else:
            ranges.append((start, mid))
            start = mid
    ranges.reverse()
    return ranges


def _consistency_ranges(old_size: int, new_size: int) -> list[_Range]:
    """The subtrees whose hashes form PROOF(old_size, D[new_size]), in proof order.

    RFC 9162 section 2.1.4.1, unrolled: SUBPROOF descends until the current subtree is
    exactly the old tree's remainder; that subtree's own hash is only included when the
    descent has gone right at least once (b = false), because otherwise it is the old root
    the verifier already holds.
    """
    ranges: list[_Range] = []
    start, end, is_old_root = 0, new_size, True
    while end != old_size:
        mid = start + _split(end - start)
        if old_size <= mid:
            ranges.append((mid, end))
            end = mid
        else:
            ranges.append((start, mid))
            start, is_old_root = mid, False
    if not is_old_root:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def _check_inclusion_request(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")


def _check_consistency_request(old_size: int, new_size: int) -> None:
    # Old size 0 has no proof to build: every tree is consistent with the empty one.
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")


# --- node ids a proof needs ---------------------------------------------------------------
def _nodes_of(ranges: Sequence[_Range]) -> list[NodeId]:
    # The ranges of one proof are disjoint, so their perfect pieces never repeat.
    return [node for start, end in ranges for node in _perfect_nodes(start, end)]


def inclusion_nodes(index: int, size: int) -> list[NodeId]:
    _check_inclusion_request(index, size)
    return _nodes_of(_inclusion_ranges(index, size))


def consistency_nodes(old_size: int, new_size: int) -> list[NodeId]:
    _check_consistency_request(old_size, new_size)
    return _nodes_of(_consistency_ranges(old_size, new_size))


def root_nodes(size: int) -> list[NodeId]:
    if size < 0:
        raise ValueError("tree size must be non-negative")
    return _perfect_nodes(0, size)


# --- proofs from fetched nodes ------------------------------------------------------------
def inclusion_proof(index: int, size: int, nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 section 2.1.3.1."""
    _check_inclusion_request(index, size)
    return [_range_hash(start, end, nodes) for start, end in _inclusion_ranges(index, size)]


def consistency_proof(old_size: int, new_size: int, nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 9162 section 2.1.4.1 (empty for equal sizes)."""
    _check_consistency_request(old_size, new_size)
    ranges = _consistency_ranges(old_size, new_size)
    return [_range_hash(start, end, nodes) for start, end in ranges]


def root_from_nodes(size: int, nodes: Mapping[NodeId, bytes]) -> bytes:
    if size < 0:
        raise ValueError("tree size must be non-negative")
    return _range_hash(0, size, nodes) if size else EMPTY_ROOT


# --- verification ---------------------------------------------------------------------------
def _check_hashes(what: str, *hashes: bytes) -> None:
    # A short or long "hash" could otherwise collide with a concatenation of two others.
    if any(len(h) != HASH_SIZE for h in hashes):
        raise ProofError(f"{what}: every hash must be {HASH_SIZE} bytes")


def _shift_to_odd(fn: int, sn: int) -> tuple[int, int]:
    """Skip the levels where fn is a right-edge node without a sibling (RFC 9162 step b.ii)."""
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 section 2.1.3.2; raises ProofError unless `proof` puts leaf `index` in `root`.

    Roots and proofs are public, so plain comparison leaks nothing worth a constant-time one.
    """
    if not 0 <= index < size:
        raise ProofError(f"inclusion: leaf {index} is not in a tree of {size} leaves")
    _check_hashes("inclusion", leaf_hash, root, *proof)
    fn, sn, acc = index, size - 1, leaf_hash
    for sibling in proof:
        if sn == 0:
            raise ProofError("inclusion: proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            acc = node_hash(sibling, acc)
            fn, sn = _shift_to_odd(fn, sn)
        else:
            acc = node_hash(acc, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion: proof is shorter than the tree is deep")
    if acc != root:
        raise ProofError("inclusion: proof does not lead to the root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 section 2.1.4.2; raises ProofError unless new_root extends old_root.

    Equal sizes need an empty proof and equal roots. Old size 0 needs an empty proof, and
    the old root must then be EMPTY_ROOT: a head claiming another root for no leaves is
    itself inconsistent.
    """
    if not 0 <= old_size <= new_size:
        raise ProofError(f"consistency: size {old_size} cannot precede size {new_size}")
    _check_hashes("consistency", old_root, new_root, *proof)
    if old_size == 0 or old_size == new_size:
        _verify_trivial_consistency(old_size, new_size, old_root, new_root, proof)
        return
    if not proof:
        raise ProofError("consistency: proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is one perfect subtree of the new one; the proof omits its hash.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    old_acc = new_acc = path[0]
    for node in path[1:]:
        if sn == 0:
            raise ProofError("consistency: proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            old_acc = node_hash(node, old_acc)
            new_acc = node_hash(node, new_acc)
            fn, sn = _shift_to_odd(fn, sn)
        else:
            new_acc = node_hash(new_acc, node)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency: proof is shorter than the tree is deep")
    if old_acc != old_root:
        raise ProofError("consistency: proof does not lead to the old root")
    if new_acc != new_root:
        raise ProofError("consistency: proof does not lead to the new root")


def _verify_trivial_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """From the empty tree, or to the same size: nothing to prove but the heads themselves."""
    if proof:
        raise ProofError("consistency: proof must be empty for this pair of sizes")
    if old_size == 0 and old_root != EMPTY_ROOT:
        raise ProofError("consistency: the empty tree's root is SHA-256 of nothing")
    if old_size == new_size and old_root != new_root:
        raise ProofError("consistency: same size, different roots")

"""RFC 9162 Merkle tree (keys.merkle): published vectors, a naive reference, tampering.

Proofs are always built the way the audit log builds them: every node a proof needs is
looked up in the rows that Frontier.append's output fills (`fetch` below, laid out with
node_row), so these tests also pin the storage model, not just the arithmetic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.errors import CryptoError, ProofError
from keys.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Frontier,
    NodeId,
    completed_levels,
    consistency_nodes,
    consistency_proof,
    inclusion_nodes,
    inclusion_proof,
    leaf_hash,
    node_hash,
    node_row,
    root_from_nodes,
    root_nodes,
    verify_consistency,
    verify_inclusion,
)

Probe = tuple[int, int, bytes, bytes, list[bytes]]  # a verify_consistency call


def hd(text: str) -> bytes:
    return bytes.fromhex(text)


# --- published vectors ---------------------------------------------------------------------
# Copied verbatim from github.com/transparency-dev/merkle (Apache-2.0), the RFC 6962 test
# vectors used by Certificate Transparency:
#   testonly/constants.go (commit 582a6ad190b6848f1d26f8bf08ddef29955d9db1):
#     LeafInputs, NodeHashes, RootHashes, CompactTrees
#   proof/verify_test.go (commit 02194e9afb6c1d95b5381350007963aa70fff472):
#     inclusionProofs, consistencyProofs, roots
# Only the syntax is Python's: in inclusionProofs `leaf` is 1-based, as upstream.

LEAF_INPUTS = [
    hd(""),
    hd("00"),
    hd("10"),
    hd("2021"),
    hd("3031"),
    hd("40414243"),
    hd("5051525354555657"),
    hd("606162636465666768696a6b6c6d6e6f"),
]

# First index: level (0 = leaves); second: index within the level.
NODE_HASHES = [
    [
        hd("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        hd("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        hd("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        hd("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        hd("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        hd("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        hd("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        hd("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        hd("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        hd("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        hd("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        hd("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        hd("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        hd("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [
        hd("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
    ],
]

# Indexed by tree size, starting from the empty tree.
ROOT_HASHES = [
    hd("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),  # EmptyRootHash()
    hd("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    hd("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    hd("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    hd("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    hd("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    hd("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    hd("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    hd("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

nh = NODE_HASHES
COMPACT_TREES: list[list[bytes]] = [
    [],  # Empty tree.
    [nh[0][0]],
    [nh[1][0]],
    [nh[1][0], nh[0][2]],
    [nh[2][0]],
    [nh[2][0], nh[0][4]],
    [nh[2][0], nh[1][2]],
    [nh[2][0], nh[1][2], nh[0][6]],
    [nh[3][0]],
]

# (leaf, size, proof) with leaf 1-based.
INCLUSION_PROOFS: list[tuple[int, int, list[bytes]]] = [
    (0, 0, []),
    (1, 1, []),
    (
        1,
        8,
        [
            hd("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            hd("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            hd("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            hd("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            hd("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            hd("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        3,
        3,
        [
            hd("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        ],
    ),
    (
        2,
        5,
        [
            hd("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            hd("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            hd("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# (size1, size2, proof)
CONSISTENCY_PROOFS: list[tuple[int, int, list[bytes]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            hd("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            hd("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            hd("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            hd("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            hd("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            hd("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            hd("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            hd("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            hd("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            hd("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            hd("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

# Indexed by tree size - 1 (proof/verify_test.go's own copy; must agree with ROOT_HASHES).
ROOTS = [
    hd("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    hd("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    hd("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    hd("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    hd("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    hd("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    hd("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    hd("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]


# --- naive reference: RFC 9162 section 2.1 as written, over a list of leaves ---------------
def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return sha256(b"\x00" + leaves[0])
    k = ref_split(n)
    return sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:]))


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = ref_split(n)
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [ref_mth(leaves)]
    k = ref_split(n)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], b), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


def ref_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return ref_subproof(m, leaves, True)


# Which side each proof hash joins on, from the same recursion (no hashing). Two claims
# with the same shape make a verifier do exactly the same hashing.
def ref_sides(m: int, n: int) -> tuple[str, ...]:
    if n == 1:
        return ()
    k = ref_split(n)
    if m < k:
        return (*ref_sides(m, k), "right")
    return (*ref_sides(m - k, n - k), "left")


def ref_path_sides(m: int, n: int) -> tuple[str, ...] | None:
    return ref_sides(m, n) if 0 <= m < n else None


def ref_subproof_shape(m: int, n: int, b: bool) -> tuple[str, ...]:
    if m == n:
        return () if b else ("old-subtree",)
    k = ref_split(n)
    if m <= k:
        return (*ref_subproof_shape(m, k, b), "right")
    return (*ref_subproof_shape(m - k, n - k, False), "left")


def ref_consistency_shape(m: int, n: int) -> tuple[str, ...] | None:
    if not 0 <= m <= n:
        return None
    if m == 0:
        return ("from-empty",)
    if m == n:
        return ("same-size",)
    return ref_subproof_shape(m, n, True)


# --- the stored tree: rows as the audit log keeps them ---------------------------------------
MAX_SIZE = 300
LEAVES = [f"audit entry {i}".encode() for i in range(MAX_SIZE)]


def build_rows(leaves: list[bytes]) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
    """Per leaf: (leaf hash, completed nodes concatenated); and the root after each size."""
    frontier = Frontier()
    rows, roots = [], [frontier.root()]
    for leaf in leaves:
        lh = leaf_hash(leaf)
        completed = frontier.append(lh)
        rows.append((lh, b"".join(completed)))
        roots.append(frontier.root())
    return rows, roots


ROWS, TREE_ROOTS = build_rows(LEAVES)


def fetch(
    size: int, ids: list[NodeId], rows: list[tuple[bytes, bytes]] = ROWS
) -> dict[NodeId, bytes]:
    """What the one `WHERE seq IN (...)` query yields, limited to the rows of a tree of size."""
    assert len(set(ids)) == len(ids), "node ids must be deduplicated"
    found = {}
    for level, index in ids:
        seq = node_row(level, index)
        assert 0 <= seq < size, f"node {(level, index)} is not complete at size {size}"
        stored_leaf, completed = rows[seq]
        value = (
            stored_leaf if level == 0 else completed[(level - 1) * HASH_SIZE : level * HASH_SIZE]
        )
        assert len(value) == HASH_SIZE, f"row {seq} has no slot {level}"
        found[(level, index)] = value
    return found


def built_inclusion(index: int, size: int, rows: list[tuple[bytes, bytes]] = ROWS) -> list[bytes]:
    return inclusion_proof(index, size, fetch(size, inclusion_nodes(index, size), rows))


def built_consistency(old: int, new: int, rows: list[tuple[bytes, bytes]] = ROWS) -> list[bytes]:
    return consistency_proof(old, new, fetch(new, consistency_nodes(old, new), rows))


def rejected_inclusion(lh: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    try:
        verify_inclusion(lh, index, size, proof, root)
    except ProofError:
        return True
    return False


def rejected_consistency(old: int, new: int, r1: bytes, r2: bytes, proof: list[bytes]) -> bool:
    try:
        verify_consistency(old, new, r1, r2, proof)
    except ProofError:
        return True
    return False


# --- vectors -----------------------------------------------------------------------------------
VECTOR_ROWS, VECTOR_ROOTS = build_rows(LEAF_INPUTS)


def test_vector_roots_for_every_size() -> None:
    assert ROOT_HASHES[0] == EMPTY_ROOT
    assert VECTOR_ROOTS == ROOT_HASHES
    assert ROOT_HASHES[1:] == ROOTS  # the two upstream files agree
    for size in range(len(LEAF_INPUTS) + 1):
        nodes = fetch(size, root_nodes(size), VECTOR_ROWS)
        assert root_from_nodes(size, nodes) == ROOT_HASHES[size]
        assert ref_mth(LEAF_INPUTS[:size]) == ROOT_HASHES[size]


def test_vector_node_hashes_are_what_the_rows_store() -> None:
    stored = {}
    for seq, (lh, completed) in enumerate(VECTOR_ROWS):
        stored[(0, seq)] = lh
        assert len(completed) == completed_levels(seq) * HASH_SIZE
        for level in range(1, completed_levels(seq) + 1):
            index = ((seq + 1) >> level) - 1
            assert node_row(level, index) == seq
            stored[(level, index)] = completed[(level - 1) * HASH_SIZE : level * HASH_SIZE]
    expected = {
        (level, index): value
        for level, row in enumerate(NODE_HASHES)
        for index, value in enumerate(row)
    }
    assert stored == expected


def test_vector_compact_trees_are_the_frontier() -> None:
    frontier = Frontier()
    assert frontier.hashes == COMPACT_TREES[0]
    for size, leaf in enumerate(LEAF_INPUTS, start=1):
        frontier.append(leaf_hash(leaf))
        assert frontier.hashes == COMPACT_TREES[size]
        assert Frontier.from_bytes(size, frontier.to_bytes()).root() == ROOT_HASHES[size]


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION_PROOFS)
def test_vector_inclusion_proofs(leaf: int, size: int, proof: list[bytes]) -> None:
    index = leaf - 1
    if leaf == 0:  # upstream's "invalid path" entry: there is no leaf 0 in a tree of 0
        with pytest.raises(ValueError, match="not in a tree"):
            inclusion_nodes(index, size)
        with pytest.raises(ProofError):
            verify_inclusion(EMPTY_ROOT, index, size, proof, EMPTY_ROOT)
        return
    assert built_inclusion(index, size, VECTOR_ROWS) == proof
    assert ref_path(index, LEAF_INPUTS[:size]) == proof
    lh = leaf_hash(LEAF_INPUTS[index])
    verify_inclusion(lh, index, size, proof, ROOTS[size - 1])
    for probe in inclusion_mutations(lh, index, size, proof, ROOTS[size - 1]):
        assert rejected_inclusion(*probe), probe


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY_PROOFS)
def test_vector_consistency_proofs(size1: int, size2: int, proof: list[bytes]) -> None:
    assert built_consistency(size1, size2, VECTOR_ROWS) == proof
    assert ref_proof(size1, LEAF_INPUTS[:size2]) == proof
    root1, root2 = ROOTS[size1 - 1], ROOTS[size2 - 1]
    verify_consistency(size1, size2, root1, root2, proof)
    for probe in consistency_mutations(size1, size2, root1, root2, proof):
        assert rejected_consistency(*probe), probe


# Upstream's corruption probes (corruptInclusionProof / corruptConsistencyProof), restated.
SOME_HASH = hd("abacaba000000000000000000000000000000000000000000060061e00123456")


def inclusion_mutations(
    lh: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> Iterator[tuple[bytes, int, int, list[bytes], bytes]]:
    yield lh, index - 1, size, proof, root
    yield lh, index + 1, size, proof, root
    if index ^ 2 < size:  # within the tree the other leaf has another path
        yield lh, index ^ 2, size, proof, root
    yield lh, index, size * 2, proof, root
    yield lh, index, size // 2, proof, root
    yield b"WrongLeaf", index, size, proof, root
    yield lh, index, size, proof, EMPTY_ROOT
    yield lh, index, size, proof, SOME_HASH
    yield lh, index, size, [*proof, b""], root
    yield lh, index, size, [*proof, root], root
    yield lh, index, size, [b"", *proof], root
    yield lh, index, size, [root, *proof], root
    for at in range(len(proof)):
        flipped = bytes([proof[at][0] ^ 8]) + proof[at][1:]
        yield lh, index, size, [*proof[:at], flipped, *proof[at + 1 :]], root
    if proof:
        yield lh, index, size, proof[:-1], root
    if len(proof) > 1:
        yield lh, index, size, [proof[0], SOME_HASH, *proof[1:]], root


def consistency_mutations(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> Iterator[Probe]:
    if not proof:  # upstream only corrupts non-trivial proofs
        yield size1, size2, root1, SOME_HASH, proof
        yield size1, size2, root1, root2, [root1]
        return
    yield size1 - 1, size2, root1, root2, proof
    yield size1 + 1, size2, root1, root2, proof
    yield size1 ^ 2, size2, root1, root2, proof
    yield size1, size2 * 2, root1, root2, proof
    yield size1, size2 // 2, root1, root2, proof
    yield size1, size2, b"WrongRoot", root2, proof
    yield size1, size2, root1, b"WrongRoot", proof
    yield size1, size2, root2, root1, proof
    yield size1, size2, root1, root2, []
    for extra in (b"", root1, root2):
        yield size1, size2, root1, root2, [*proof, extra]
    for extra in (b"", root1, root2, proof[0]):
        yield size1, size2, root1, root2, [extra, *proof]
    yield size1, size2, root1, root2, proof[:-1]
    for at in range(len(proof)):
        flipped = bytes([proof[at][0] ^ 16]) + proof[at][1:]
        yield size1, size2, root1, root2, [*proof[:at], flipped, *proof[at + 1 :]]


# --- storage layout ------------------------------------------------------------------------------
def test_node_row_and_completed_levels_match_the_appends() -> None:
    assert [completed_levels(s) for s in range(8)] == [0, 1, 0, 2, 0, 1, 0, 3]
    assert node_row(0, 5) == 5
    assert node_row(3, 0) == 7
    assert node_row(2, 3) == 15
    for seq, (_, completed) in enumerate(ROWS):
        assert len(completed) == completed_levels(seq) * HASH_SIZE
        for level in range(1, completed_levels(seq) + 1):
            assert node_row(level, ((seq + 1) >> level) - 1) == seq
    with pytest.raises(ValueError, match="non-negative"):
        node_row(-1, 0)
    with pytest.raises(ValueError, match="non-negative"):
        completed_levels(-1)


def test_frontier_root_matches_reference_for_every_size() -> None:
    for size in range(MAX_SIZE + 1):
        assert TREE_ROOTS[size] == ref_mth(LEAVES[:size]), size
        nodes = root_nodes(size)
        assert root_from_nodes(size, fetch(size, nodes)) == TREE_ROOTS[size]
        assert len(nodes) == size.bit_count()


def test_frontier_round_trips_and_rejects_wrong_lengths() -> None:
    frontier = Frontier()
    for size, leaf in enumerate(LEAVES[:37], start=1):
        frontier.append(leaf_hash(leaf))
        blob = frontier.to_bytes()
        assert len(blob) == size.bit_count() * HASH_SIZE
        again = Frontier.from_bytes(size, blob)
        assert again == frontier
        assert again.root() == TREE_ROOTS[size]
        with pytest.raises(ValueError, match="bytes"):
            Frontier.from_bytes(size, blob + bytes(HASH_SIZE))
        with pytest.raises(ValueError, match="bytes"):
            Frontier.from_bytes(size, blob[:-1])
    assert Frontier.from_bytes(0, b"") == Frontier()
    assert Frontier.from_bytes(0, b"").root() == EMPTY_ROOT
    with pytest.raises(ValueError, match="bytes"):
        Frontier.from_bytes(0, bytes(HASH_SIZE))
    with pytest.raises(ValueError, match="non-negative"):
        Frontier.from_bytes(-1, b"")
    # A restored frontier keeps appending where the original left off.
    restored = Frontier.from_bytes(37, frontier.to_bytes())
    for leaf in LEAVES[37:64]:
        assert restored.append(leaf_hash(leaf)) == frontier.append(leaf_hash(leaf))
    assert restored.root() == TREE_ROOTS[64]


def test_frontier_refuses_inconsistent_state() -> None:
    with pytest.raises(ValueError, match="peaks"):
        Frontier(3, [bytes(HASH_SIZE)])
    with pytest.raises(ValueError, match="bytes"):
        Frontier(1, [b"short"])
    with pytest.raises(ValueError, match="bytes"):
        Frontier().append(b"not a hash")


def test_hashes_are_domain_separated() -> None:
    left, right = sha256(b"l"), sha256(b"r")
    assert node_hash(left, right) == sha256(b"\x01" + left + right)
    assert leaf_hash(left + right) == sha256(b"\x00" + left + right)
    assert leaf_hash(left + right) != node_hash(left, right)


def test_requests_outside_the_tree_are_value_errors() -> None:
    for index, size in ((0, 0), (5, 5), (-1, 3)):
        with pytest.raises(ValueError, match="not in a tree"):
            inclusion_nodes(index, size)
        with pytest.raises(ValueError, match="not in a tree"):
            inclusion_proof(index, size, {})
    for old, new in ((0, 5), (0, 0), (6, 5), (-1, 2)):
        with pytest.raises(ValueError, match="no consistency proof"):
            consistency_nodes(old, new)
        with pytest.raises(ValueError, match="no consistency proof"):
            consistency_proof(old, new, {})
    assert consistency_nodes(5, 5) == []
    assert consistency_proof(5, 5, {}) == []
    assert root_nodes(0) == []
    assert root_from_nodes(0, {}) == EMPTY_ROOT
    with pytest.raises(ValueError, match="non-negative"):
        root_nodes(-1)


def test_a_missing_node_is_a_key_error() -> None:
    needed = inclusion_nodes(5, 13)
    nodes = fetch(13, needed)
    del nodes[needed[-1]]
    with pytest.raises(KeyError):
        inclusion_proof(5, 13, nodes)
    with pytest.raises(KeyError):
        consistency_proof(3, 13, {})
    with pytest.raises(KeyError):
        root_from_nodes(13, {})


def test_every_proof_of_small_trees_matches_the_reference() -> None:
    for size in range(1, 34):
        leaves = LEAVES[:size]
        for index in range(size):
            proof = built_inclusion(index, size)
            assert proof == ref_path(index, leaves), (index, size)
            verify_inclusion(leaf_hash(leaves[index]), index, size, proof, TREE_ROOTS[size])
        for old in range(1, size + 1):
            proof = built_consistency(old, size)
            assert proof == ref_proof(old, leaves), (old, size)
            verify_consistency(old, size, TREE_ROOTS[old], TREE_ROOTS[size], proof)


def test_trivial_consistency_claims() -> None:
    r5, r9 = TREE_ROOTS[5], TREE_ROOTS[9]
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 9, EMPTY_ROOT, r9, [])
    verify_consistency(5, 5, r5, r5, [])
    refused: list[Probe] = [
        (0, 9, r5, r9, []),  # the empty tree has exactly one root
        (0, 9, EMPTY_ROOT, r9, [r9]),  # nothing to prove from the empty tree
        (0, 0, EMPTY_ROOT, r5, []),
        (5, 5, r5, r9, []),
        (5, 5, r5, r5, [r5]),
        (9, 5, r9, r5, []),  # time travel
        (-1, 5, EMPTY_ROOT, r5, []),
        (5, 9, r5, r9, []),  # a real step needs a proof
        (5, 9, r5[:-1], r9, built_consistency(5, 9)),  # hash of the wrong length
    ]
    for probe in refused:
        assert rejected_consistency(*probe), probe


def test_inclusion_edge_claims() -> None:
    lh = leaf_hash(LEAVES[0])
    verify_inclusion(lh, 0, 1, [], lh)
    assert issubclass(ProofError, CryptoError)
    for probe in (
        (lh, 0, 0, [], EMPTY_ROOT),
        (lh, 1, 1, [], lh),
        (lh, -1, 1, [], lh),
        (lh[:-1], 0, 1, [], lh[:-1]),
        (lh, 0, 1, [], TREE_ROOTS[2]),
    ):
        assert rejected_inclusion(*probe), probe


# --- properties against the reference, up to MAX_SIZE leaves ------------------------------------
sizes = st.integers(min_value=1, max_value=MAX_SIZE)


@st.composite
def leaf_in_tree(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes, label="size")
    return draw(st.integers(0, size - 1), label="index"), size


@st.composite
def size_pair(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(sizes, label="new_size")
    return draw(st.integers(1, new), label="old_size"), new


def flip_one_byte(data: st.DataObject, proof: list[bytes], at: int) -> list[bytes]:
    position = data.draw(st.integers(0, HASH_SIZE - 1), label="byte")
    mask = data.draw(st.integers(1, 255), label="mask")
    changed = bytearray(proof[at])
    changed[position] ^= mask
    return [*proof[:at], bytes(changed), *proof[at + 1 :]]


@settings(max_examples=150, deadline=None, database=None)
@given(case=leaf_in_tree())
def test_inclusion_proofs_match_reference_and_verify(case: tuple[int, int]) -> None:
    index, size = case
    ids = inclusion_nodes(index, size)
    # Perfect subtrees fully inside the tree (fetch checks), each once, one hash per level.
    assert len(ids) <= 2 * size.bit_length()
    proof = built_inclusion(index, size)
    assert proof == ref_path(index, LEAVES[:size])
    verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, TREE_ROOTS[size])


@settings(max_examples=100, deadline=None, database=None)
@given(case=leaf_in_tree(), data=st.data())
def test_inclusion_verifier_rejects_tampering(case: tuple[int, int], data: st.DataObject) -> None:
    index, size = case
    lh, root = leaf_hash(LEAVES[index]), TREE_ROOTS[size]
    proof = built_inclusion(index, size)
    for at in range(len(proof)):
        assert rejected_inclusion(lh, index, size, flip_one_byte(data, proof, at), root)
        assert rejected_inclusion(lh, index, size, [*proof[:at], *proof[at + 1 :]], root)
    extra = data.draw(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), label="extra")
    for at in range(len(proof) + 1):
        for added in (extra, root, lh):
            assert rejected_inclusion(lh, index, size, [*proof[:at], added, *proof[at:]], root)
    # Another leaf's position, even with a proof of the right length.
    for other in (-1, *range(size + 1)):
        if other != index:
            assert rejected_inclusion(lh, other, size, proof, root)
    wrong_root = data.draw(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), label="root")
    assert rejected_inclusion(lh, index, size, proof, wrong_root)
    assert rejected_inclusion(leaf_hash(LEAVES[index] + b"!"), index, size, proof, root)
    for other_size in range(MAX_SIZE + 1):
        if other_size == size:
            continue
        other_root = TREE_ROOTS[other_size]
        # Against the true root of the claimed size: never.
        assert rejected_inclusion(lh, index, other_size, proof, other_root)
        # Against this root the size is only bound by the root itself: a claimed size that
        # gives the leaf the same path makes the verifier do identical hashing, any other
        # size must fail.
        same_path = ref_path_sides(index, other_size) == ref_path_sides(index, size)
        assert rejected_inclusion(lh, index, other_size, proof, root) != same_path


@settings(max_examples=150, deadline=None, database=None)
@given(case=size_pair())
def test_consistency_proofs_match_reference_and_verify(case: tuple[int, int]) -> None:
    old, new = case
    ids = consistency_nodes(old, new)
    assert len(ids) <= 2 * new.bit_length()
    proof = built_consistency(old, new)
    assert proof == ref_proof(old, LEAVES[:new])
    verify_consistency(old, new, TREE_ROOTS[old], TREE_ROOTS[new], proof)


@settings(max_examples=100, deadline=None, database=None)
@given(case=size_pair(), data=st.data())
def test_consistency_verifier_rejects_tampering(case: tuple[int, int], data: st.DataObject) -> None:
    old, new = case
    r1, r2 = TREE_ROOTS[old], TREE_ROOTS[new]
    proof = built_consistency(old, new)
    for at in range(len(proof)):
        assert rejected_consistency(old, new, r1, r2, flip_one_byte(data, proof, at))
        assert rejected_consistency(old, new, r1, r2, [*proof[:at], *proof[at + 1 :]])
    extra = data.draw(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), label="extra")
    for at in range(len(proof) + 1):
        for added in (extra, r1, r2):
            assert rejected_consistency(old, new, r1, r2, [*proof[:at], added, *proof[at:]])
    wrong = data.draw(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), label="root")
    assert rejected_consistency(old, new, wrong, r2, proof)
    assert rejected_consistency(old, new, r1, wrong, proof)
    if old != new:
        assert rejected_consistency(old, new, r2, r1, proof)
    shape = ref_consistency_shape(old, new)
    claims = [(o, new) for o in range(-1, new + 2) if o != old]
    claims += [(old, n) for n in range(old - 1, MAX_SIZE + 1) if n != new]
    for claimed_old, claimed_new in claims:
        # Against these roots the sizes are only bound by the roots themselves: claimed
        # sizes that hash the same way make the verifier do identical work, others fail.
        same_shape = ref_consistency_shape(claimed_old, claimed_new) == shape
        assert rejected_consistency(claimed_old, claimed_new, r1, r2, proof) != same_shape
        if 0 <= claimed_old <= claimed_new:
            # Against the true roots of the claimed sizes: only if this very proof is the
            # honest one for them (the empty proof of a same-size tree, from size 0).
            true_roots = (TREE_ROOTS[claimed_old], TREE_ROOTS[claimed_new])
            honest = honest_consistency(claimed_old, claimed_new) == proof
            assert rejected_consistency(claimed_old, claimed_new, *true_roots, proof) != honest


def honest_consistency(old: int, new: int) -> list[bytes]:
    return built_consistency(old, new) if old else []

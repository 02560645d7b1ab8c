"""Tests for events.merkle against plain recursive RFC 6962 / RFC 9162 definitions."""

from __future__ import annotations

import hashlib
import json

import pytest

from events.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# --------------------------------------------------------------------------
# Reference implementation: the RFC's recursive definitions, written plainly
# with list slicing and hashlib only (independent of the module under test).
# --------------------------------------------------------------------------


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """Largest power of two strictly smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(entries: list[bytes]) -> bytes:
    """MTH(D[n]) over raw entries, exactly as RFC 9162 2.1.1 defines it."""
    n = len(entries)
    if n == 0:
        return _sha(b"")
    if n == 1:
        return _sha(b"\x00" + entries[0])
    k = _k(n)
    return _sha(b"\x01" + ref_mth(entries[:k]) + ref_mth(entries[k:]))


def ref_path(m: int, entries: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) from RFC 9162 2.1.3.1."""
    n = len(entries)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, entries[:k]), ref_mth(entries[k:])]
    return [*ref_path(m - k, entries[k:]), ref_mth(entries[:k])]


def ref_subproof(m: int, entries: list[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) from RFC 9162 2.1.4.1."""
    n = len(entries)
    if m == n:
        return [] if whole else [ref_mth(entries)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, entries[:k], whole), ref_mth(entries[k:])]
    return [*ref_subproof(m - k, entries[k:], False), ref_mth(entries[:k])]


def entries_for(n: int) -> list[bytes]:
    return [f"entry-{i}".encode() for i in range(n)]


def leaves_for(n: int) -> list[bytes]:
    return [leaf_hash(e) for e in entries_for(n)]


def flip(h: bytes) -> bytes:
    """Return h with its first bit flipped."""
    return bytes([h[0] ^ 0x01]) + h[1:]


MAX_PROOF_SIZE = 40
ALL_LEAVES = leaves_for(MAX_PROOF_SIZE)

# Roots of the standard certificate-transparency test tree (sizes 1..8).
CT_ENTRIES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# --------------------------------------------------------------------------
# Hashing primitives and roots
# --------------------------------------------------------------------------


def test_empty_root_is_sha256_of_empty_string() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert root([]) == EMPTY_ROOT
    assert Frontier().root() == EMPTY_ROOT


def test_leaf_and_node_hashes_use_domain_separation_prefixes() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = leaf_hash(b"l"), leaf_hash(b"r")
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert len(leaf_hash(b"")) == 32
    assert leaf_hash(b"x") != hashlib.sha256(b"x").digest()


def test_root_of_single_leaf_is_that_leaf_hash() -> None:
    leaf = leaf_hash(b"only")
    assert root([leaf]) == leaf


@pytest.mark.parametrize("size", range(1, len(CT_ROOTS) + 1))
def test_root_matches_published_certificate_transparency_vectors(size: int) -> None:
    leaves = [leaf_hash(e) for e in CT_ENTRIES[:size]]
    assert root(leaves).hex() == CT_ROOTS[size - 1]


def test_root_and_frontier_root_match_recursive_rfc_definition_for_sizes_0_to_70() -> None:
    entries = entries_for(70)
    frontier = Frontier()
    for n in range(71):
        expected = ref_mth(entries[:n])
        leaves = [leaf_hash(e) for e in entries[:n]]
        assert root(leaves) == expected, n
        assert frontier.size == n
        assert frontier.root() == expected, n
        if n < 70:
            frontier.append(leaf_hash(entries[n]))


def test_root_handles_a_large_tree_without_recursion() -> None:
    leaves = leaves_for(2**17 + 3)
    frontier = Frontier()
    frontier.extend(leaves)
    assert root(leaves) == frontier.root()


# --------------------------------------------------------------------------
# Frontier
# --------------------------------------------------------------------------


def test_frontier_hashes_are_perfect_subtree_roots_largest_first() -> None:
    leaves = leaves_for(13)  # 13 = 8 + 4 + 1
    frontier = Frontier()
    frontier.extend(leaves)
    assert frontier.size == 13
    assert frontier.hashes == (root(leaves[:8]), root(leaves[8:12]), leaves[12])
    assert isinstance(frontier.hashes, tuple)


def test_frontier_has_one_hash_per_set_bit_of_size_at_every_step() -> None:
    frontier = Frontier()
    for leaf in leaves_for(100):
        frontier.append(leaf)
        assert len(frontier.hashes) == frontier.size.bit_count()


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 16, 33, 100])
def test_extend_in_chunks_gives_same_root_as_all_at_once(chunk: int) -> None:
    leaves = leaves_for(100)
    whole = Frontier()
    whole.extend(leaves)
    chunked = Frontier()
    for start in range(0, len(leaves), chunk):
        chunked.extend(iter(leaves[start : start + chunk]))
    assert chunked == whole
    assert chunked.root() == whole.root() == root(leaves)


def test_extend_accepts_a_generator() -> None:
    frontier = Frontier()
    frontier.extend(leaf_hash(e) for e in entries_for(9))
    assert frontier.root() == ref_mth(entries_for(9))


@pytest.mark.parametrize("size", [0, 1, 2, 5, 8, 13, 64, 99])
def test_frontier_json_round_trip_preserves_state_and_root(size: int) -> None:
    leaves = leaves_for(size)
    frontier = Frontier()
    frontier.extend(leaves)
    obj = frontier.to_json()
    restored = Frontier.from_json(json.loads(json.dumps(obj)))
    assert restored == frontier
    assert restored.size == size
    assert restored.hashes == frontier.hashes
    assert restored.root() == root(leaves)
    assert obj["size"] == size
    assert obj["hashes"] == [h.hex() for h in frontier.hashes]


def test_frontier_restored_from_json_keeps_growing_like_the_original() -> None:
    leaves = leaves_for(77)
    first = Frontier()
    first.extend(leaves[:45])
    resumed = Frontier.from_json(first.to_json())
    resumed.extend(leaves[45:])
    assert resumed.root() == root(leaves)


def test_frontier_constructed_from_size_and_hashes_continues_correctly() -> None:
    leaves = leaves_for(30)
    prefix = Frontier()
    prefix.extend(leaves[:11])
    rebuilt = Frontier(11, prefix.hashes)
    rebuilt.extend(leaves[11:])
    assert rebuilt.root() == root(leaves)


@pytest.mark.parametrize(
    ("size", "count"),
    [(0, 1), (1, 0), (1, 2), (3, 1), (4, 2), (13, 2), (13, 4)],
)
def test_frontier_rejects_hash_count_different_from_popcount_of_size(size: int, count: int) -> None:
    with pytest.raises(ValueError, match=f"size {size}"):
        Frontier(size, [leaf_hash(b"x")] * count)


def test_frontier_rejects_negative_size_and_wrong_length_hashes() -> None:
    with pytest.raises(ValueError, match="-1"):
        Frontier(-1, [])
    with pytest.raises(ValueError, match="32 bytes"):
        Frontier(1, [b"short"])
    with pytest.raises(ValueError, match="32 bytes"):
        Frontier().append(b"short")


@pytest.mark.parametrize(
    "obj",
    [
        [],
        {},
        {"size": 1},
        {"size": "1", "hashes": ["00" * 32]},
        {"size": True, "hashes": ["00" * 32]},
        {"size": 1, "hashes": "00" * 32},
        {"size": 1, "hashes": ["zz" * 32]},
        {"size": 1, "hashes": [32]},
        {"size": 1, "hashes": ["00" * 31]},
        {"size": 3, "hashes": ["00" * 32]},
    ],
)
def test_frontier_from_json_rejects_malformed_input(obj: object) -> None:
    with pytest.raises(ValueError):
        Frontier.from_json(obj)


# --------------------------------------------------------------------------
# Inclusion proofs
# --------------------------------------------------------------------------


@pytest.mark.parametrize("size", range(1, MAX_PROOF_SIZE + 1))
def test_inclusion_proofs_match_rfc_path_and_verify_for_every_index(size: int) -> None:
    leaves = ALL_LEAVES[:size]
    tree_root = root(leaves)
    entries = entries_for(size)
    for index in range(size):
        proof = inclusion_proof(index, leaves)
        assert proof == ref_path(index, entries), (index, size)
        assert verify_inclusion(index, size, leaves[index], proof, tree_root)


@pytest.mark.parametrize("size", range(1, MAX_PROOF_SIZE + 1))
def test_inclusion_fails_for_tampered_leaf_or_path_element(size: int) -> None:
    leaves = ALL_LEAVES[:size]
    tree_root = root(leaves)
    for index in range(size):
        proof = inclusion_proof(index, leaves)
        assert not verify_inclusion(index, size, flip(leaves[index]), proof, tree_root)
        assert not verify_inclusion(index, size, leaves[index], proof, flip(tree_root))
        for position in range(len(proof)):
            bad = list(proof)
            bad[position] = flip(bad[position])
            assert not verify_inclusion(index, size, leaves[index], bad, tree_root)


@pytest.mark.parametrize("size", range(1, MAX_PROOF_SIZE + 1))
def test_inclusion_fails_for_truncated_or_extended_path(size: int) -> None:
    leaves = ALL_LEAVES[:size]
    tree_root = root(leaves)
    for index in range(size):
        proof = inclusion_proof(index, leaves)
        if proof:
            assert not verify_inclusion(index, size, leaves[index], proof[:-1], tree_root)
        extra = [*proof, leaf_hash(b"extra")]
        assert not verify_inclusion(index, size, leaves[index], extra, tree_root)


@pytest.mark.parametrize("size", range(2, MAX_PROOF_SIZE + 1))
def test_inclusion_fails_for_wrong_index(size: int) -> None:
    leaves = ALL_LEAVES[:size]
    tree_root = root(leaves)
    for index in range(size):
        proof = inclusion_proof(index, leaves)
        for other in range(size):
            if other != index:
                assert not verify_inclusion(other, size, leaves[index], proof, tree_root)


@pytest.mark.parametrize("size", range(1, MAX_PROOF_SIZE + 1))
def test_inclusion_fails_for_wrong_tree_size(size: int) -> None:
    leaves = ALL_LEAVES[:size]
    tree_root = root(leaves)
    for index in range(size):
        proof = inclusion_proof(index, leaves)
        for other_size in range(index + 1, MAX_PROOF_SIZE + 1):
            if other_size == size:
                continue
            # Claimed against the genuine root of a tree of the other size.
            other_root = root(ALL_LEAVES[:other_size])
            assert not verify_inclusion(index, other_size, leaves[index], proof, other_root)
            # Against the same root, any size whose audit path has a different
            # length is rejected by the size bookkeeping alone.
            if len(inclusion_proof(index, ALL_LEAVES[:other_size])) != len(proof):
                assert not verify_inclusion(index, other_size, leaves[index], proof, tree_root)


def test_inclusion_proof_for_large_tree_is_short_and_verifies() -> None:
    leaves = leaves_for(2**16 + 5)
    tree_root = root(leaves)
    for index in (0, 1, 2**15, 2**16 - 1, 2**16, len(leaves) - 1):
        proof = inclusion_proof(index, leaves)
        assert len(proof) <= 17
        assert verify_inclusion(index, len(leaves), leaves[index], proof, tree_root)


def test_out_of_range_inclusion_arguments_raise_for_provers_and_fail_for_verifiers() -> None:
    leaves = leaves_for(5)
    with pytest.raises(ValueError, match=r"index 5 .* size 5"):
        inclusion_proof(5, leaves)
    with pytest.raises(ValueError, match="-1"):
        inclusion_proof(-1, leaves)
    with pytest.raises(ValueError, match=r"index 0 .* size 0"):
        inclusion_proof(0, [])
    # Proofs are untrusted input: out-of-range claims fail verification, not the caller.
    assert not verify_inclusion(7, 5, leaves[0], [], root(leaves))
    assert not verify_inclusion(0, -3, leaves[0], [], root(leaves))


# --------------------------------------------------------------------------
# Consistency proofs
# --------------------------------------------------------------------------


def _roots_by_size() -> list[bytes]:
    return [root(ALL_LEAVES[:n]) for n in range(MAX_PROOF_SIZE + 1)]


ROOTS = _roots_by_size()


@pytest.mark.parametrize("new_size", range(1, MAX_PROOF_SIZE + 1))
def test_consistency_proofs_match_rfc_proof_and_verify_for_every_pair(new_size: int) -> None:
    leaves = ALL_LEAVES[:new_size]
    entries = entries_for(new_size)
    for old_size in range(1, new_size + 1):
        proof = consistency_proof(old_size, leaves)
        assert proof == ref_subproof(old_size, entries, True), (old_size, new_size)
        assert verify_consistency(old_size, new_size, ROOTS[old_size], ROOTS[new_size], proof)


@pytest.mark.parametrize("new_size", range(1, MAX_PROOF_SIZE + 1))
def test_consistency_fails_for_tampered_roots_or_proof(new_size: int) -> None:
    leaves = ALL_LEAVES[:new_size]
    new_root = ROOTS[new_size]
    for old_size in range(1, new_size + 1):
        old_root = ROOTS[old_size]
        proof = consistency_proof(old_size, leaves)
        assert not verify_consistency(old_size, new_size, flip(old_root), new_root, proof)
        assert not verify_consistency(old_size, new_size, old_root, flip(new_root), proof)
        for position in range(len(proof)):
            bad = list(proof)
            bad[position] = flip(bad[position])
            assert not verify_consistency(old_size, new_size, old_root, new_root, bad)
        if proof:
            assert not verify_consistency(old_size, new_size, old_root, new_root, proof[:-1])
        extra = [*proof, leaf_hash(b"extra")]
        assert not verify_consistency(old_size, new_size, old_root, new_root, extra)


@pytest.mark.parametrize("new_size", range(2, MAX_PROOF_SIZE + 1))
def test_consistency_fails_for_wrong_old_size(new_size: int) -> None:
    leaves = ALL_LEAVES[:new_size]
    new_root = ROOTS[new_size]
    for old_size in range(1, new_size):
        proof = consistency_proof(old_size, leaves)
        for other in range(1, new_size):
            if other != old_size:
                assert not verify_consistency(other, new_size, ROOTS[other], new_root, proof)


def test_consistency_from_empty_tree_is_an_empty_proof() -> None:
    leaves = leaves_for(6)
    assert consistency_proof(0, leaves) == []
    assert consistency_proof(0, []) == []
    assert verify_consistency(0, 6, EMPTY_ROOT, root(leaves), [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 6, EMPTY_ROOT, root(leaves), [leaves[0]])
    assert not verify_consistency(0, 6, flip(EMPTY_ROOT), root(leaves), [])


def test_consistency_of_equal_sizes_requires_equal_roots_and_empty_proof() -> None:
    leaves = leaves_for(6)
    tree_root = root(leaves)
    assert consistency_proof(6, leaves) == []
    assert verify_consistency(6, 6, tree_root, tree_root, [])
    assert not verify_consistency(6, 6, tree_root, flip(tree_root), [])
    assert not verify_consistency(6, 6, tree_root, tree_root, [leaves[0]])


def test_consistency_fails_when_old_tree_is_not_a_prefix() -> None:
    leaves = leaves_for(20)
    forked = list(leaves)
    forked[3] = leaf_hash(b"rewritten history")
    old_root = root(leaves[:7])
    proof = consistency_proof(7, forked)
    assert not verify_consistency(7, 20, old_root, root(forked), proof)


def test_consistency_proof_for_large_tree_verifies() -> None:
    leaves = leaves_for(2**16 + 5)
    new_root = root(leaves)
    for old_size in (1, 2**10, 2**15 + 7, 2**16, len(leaves) - 1):
        proof = consistency_proof(old_size, leaves)
        old_root = root(leaves[:old_size])
        assert verify_consistency(old_size, len(leaves), old_root, new_root, proof)


def test_invalid_consistency_sizes_raise_for_provers_and_fail_for_verifiers() -> None:
    leaves = leaves_for(5)
    with pytest.raises(ValueError, match=r"old_size 6 .* new_size 5"):
        consistency_proof(6, leaves)
    with pytest.raises(ValueError, match="-1"):
        consistency_proof(-1, leaves)
    assert not verify_consistency(9, 4, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(1, -2, EMPTY_ROOT, EMPTY_ROOT, [])

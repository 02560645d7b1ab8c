"""RFC 6962 / RFC 9162 (section 2.1) Merkle tree hashing with SHA-256.

Hashing rules (domain separated so a leaf can never be confused with a node):

* leaf hash  = SHA-256(0x00 || data)
* node hash  = SHA-256(0x01 || left || right)
* empty tree = SHA-256("")  (the hash of the empty string)

A tree of ``n > 1`` leaves splits at ``k``, the largest power of two
smaller than ``n``: its root is ``node_hash(MTH(D[0:k]), MTH(D[k:n]))``.
Computing it bottom-up, hashing adjacent pairs and carrying an odd last
node up unchanged, yields the same root; that is what this module does.

Every function that takes ``leaves`` expects already-computed *leaf hashes*
(the output of :func:`leaf_hash`), not raw entry data. All hashes are
32-byte ``bytes``. The module is pure: no I/O and no state beyond
:class:`Frontier` objects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Self

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash SHA-256(0x00 || data)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


EMPTY_ROOT: bytes = _sha256(b"").digest()


def _split(n: int) -> int:
    """Return the largest power of two strictly smaller than ``n`` (``n > 1``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_root(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """Return MTH(leaves[lo:hi]) without copying the input range."""
    count = hi - lo
    if count <= 0:
        return EMPTY_ROOT
    if count == 1:
        return leaves[lo]
    sha, prefix = _sha256, _NODE_PREFIX
    # First level straight from the input, later levels from our own lists.
    level = [sha(prefix + leaves[i] + leaves[i + 1]).digest() for i in range(lo, hi - 1, 2)]
    if count & 1:
        level.append(leaves[hi - 1])
    while len(level) > 1:
        paired = [
            sha(prefix + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) & 1:
            paired.append(level[-1])
        level = paired
    return level[0]


def _check_size(name: str, value: int) -> None:
    """Raise ValueError unless ``value`` is a non-negative int."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")


def _check_index(index: int, size: int) -> None:
    """Raise ValueError unless ``0 <= index < size``."""
    _check_size("index", index)
    _check_size("size", size)
    if index >= size:
        raise ValueError(f"index {index} is out of range for tree size {size}")


def _check_sizes(old_size: int, new_size: int) -> None:
    """Raise ValueError unless ``0 <= old_size <= new_size``."""
    _check_size("old_size", old_size)
    _check_size("new_size", new_size)
    if old_size > new_size:
        raise ValueError(f"old_size {old_size} is greater than new_size {new_size}")


def root(leaves: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash (MTH) of a sequence of leaf hashes."""
    return _range_root(leaves, 0, len(leaves))


class Frontier:
    """Right edge of an append-only Merkle tree: one perfect-subtree root per set bit of size."""

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Create a frontier for a tree of ``size`` leaves from its subtree roots."""
        _check_size("size", size)
        hashes = tuple(hashes)
        expected = size.bit_count()
        if len(hashes) != expected:
            raise ValueError(
                f"frontier of size {size} needs {expected} hashes (one per set bit), "
                f"got {len(hashes)}"
            )
        for position, value in enumerate(hashes):
            if not isinstance(value, bytes) or len(value) != HASH_SIZE:
                raise ValueError(f"frontier hash {position} is not {HASH_SIZE} bytes: {value!r}")
        self._size = size
        self._hashes = list(hashes)

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees, largest first."""
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash, merging equal-sized subtrees (amortized O(1) hashing)."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf)}")
        carry = leaf
        size = self._size
        # Each trailing 1 bit of size is a subtree as large as the carry: merge it.
        while size & 1:
            carry = node_hash(self._hashes.pop(), carry)
            size >>= 1
        self._hashes.append(carry)
        self._size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append every leaf hash from ``leaves`` in order."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """Return the RFC 6962 root of the current tree (EMPTY_ROOT when empty)."""
        if not self._hashes:
            return EMPTY_ROOT
        result = self._hashes[-1]
        for subtree in reversed(self._hashes[:-1]):
            result = node_hash(subtree, result)
        return result

    def to_json(self) -> dict[str, object]:
        """Return a JSON-serialisable dict with the size and hex-encoded hashes."""
        return {"size": self._size, "hashes": [h.hex() for h in self._hashes]}

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Rebuild a frontier from the output of :meth:`to_json`, validating it."""
        if not isinstance(obj, dict):
            raise ValueError(f"frontier JSON must be an object, got {type(obj).__name__}")
        size = obj.get("size")
        hex_hashes = obj.get("hashes")
        if isinstance(size, bool) or not isinstance(size, int):
            raise ValueError(f"frontier JSON 'size' must be an int, got {size!r}")
        if not isinstance(hex_hashes, list):
            raise ValueError(f"frontier JSON 'hashes' must be a list, got {hex_hashes!r}")
        hashes: list[bytes] = []
        for position, text in enumerate(hex_hashes):
            if not isinstance(text, str):
                raise ValueError(f"frontier JSON hash {position} must be a hex string: {text!r}")
            try:
                hashes.append(bytes.fromhex(text))
            except ValueError:
                raise ValueError(
                    f"frontier JSON hash {position} is not valid hex: {text!r}"
                ) from None
        return cls(size, hashes)

    def __eq__(self, other: object) -> bool:
        """Frontiers are equal when they describe the same size and subtree roots."""
        if not isinstance(other, Frontier):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable, so unhashable

    def __repr__(self) -> str:
        """Show size and root for debugging."""
        return f"Frontier(size={self._size}, root={self.root().hex()})"


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Return the RFC 9162 audit path PATH(index, D[n]) for leaf ``index``, leaf-side first."""
    _check_index(index, len(leaves))
    # Walk from the root down to the leaf using index ranges; each step records
    # the root of the sibling range. Sibling ranges are disjoint, so the total
    # hashing is O(n). The RFC lists the path bottom-up, hence the reversal.
    siblings: list[bytes] = []
    lo, hi = 0, len(leaves)
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            siblings.append(_range_root(leaves, mid, hi))
            hi = mid
        else:
            siblings.append(_range_root(leaves, lo, mid))
            lo = mid
    siblings.reverse()
    return siblings


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check the audit path of leaf hash ``leaf`` at ``index`` against ``root`` (RFC 9162).

    Proofs are untrusted input: an out-of-range index or size is a proof that
    does not verify, so it yields False rather than an exception.
    """
    try:
        _check_index(index, size)
    except ValueError:
        return False
    fn, sn = index, size - 1
    result = leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            # Skip levels where this node is carried up without a sibling.
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Return the RFC 9162 consistency proof PROOF(old_size, D[n]) with n = len(leaves)."""
    new_size = len(leaves)
    _check_sizes(old_size, new_size)
    if old_size in (0, new_size):
        return []
    # Iterative SUBPROOF(m, D[lo:hi], b): each step records one subtree root,
    # the recursion's innermost result comes first, hence the reversal.
    nodes: list[bytes] = []
    lo, hi, m, whole_old_tree = 0, new_size, old_size, True
    while m != hi - lo:
        mid = lo + _split(hi - lo)
        if m <= mid - lo:
            nodes.append(_range_root(leaves, mid, hi))
            hi = mid
        else:
            nodes.append(_range_root(leaves, lo, mid))
            m -= mid - lo
            lo = mid
            whole_old_tree = False
    if not whole_old_tree:
        nodes.append(_range_root(leaves, lo, hi))
    nodes.reverse()
    return nodes


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check that the tree ``new_root`` extends the tree ``old_root`` (RFC 9162 2.1.4.2).

    Like :func:`verify_inclusion`, invalid sizes give False, not an exception.
    """
    try:
        _check_sizes(old_size, new_size)
    except ValueError:
        return False
    if old_size == 0:
        # Every tree extends the empty tree; the proof is empty by definition.
        return not proof and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is a perfect subtree of the new one; its root starts the path.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_result = new_result = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            old_result = node_hash(node, old_result)
            new_result = node_hash(node, new_result)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            new_result = node_hash(new_result, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and old_result == old_root and new_result == new_root

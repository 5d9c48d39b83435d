"""A naive RFC 9162 reference (MTH, PATH, PROOF over a leaf list) and one tree shared by tests."""

from dataclasses import dataclass
from functools import cache

from hypothesis import settings

from audittrail.integrity.hashing import EMPTY_ROOT, leaf_hash, node_hash
from audittrail.integrity.tree import Frontier, Node

MAX_SIZE = 300
LEAVES = tuple(leaf_hash(f"record {i}".encode()) for i in range(MAX_SIZE))

# No deadline: the first example of a run pays for building the shared tree.
property_test = settings(deadline=None)


def split_point(n: int) -> int:
    """The largest power of two smaller than n, as RFC 9162 section 2.1.1 words it."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def mth(start: int, end: int) -> bytes:
    """MTH(D[start:end]) over LEAVES."""
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return LEAVES[start]
    k = split_point(n)
    return node_hash(mth(start, start + k), mth(start + k, end))


def path(m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end]), RFC 9162 section 2.1.3.1."""
    n = end - start
    if n == 1:
        return []
    k = split_point(n)
    if m < k:
        return [*path(m, start, start + k), mth(start + k, end)]
    return [*path(m - k, start + k, end), mth(start, start + k)]


def subproof(m: int, start: int, end: int, whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b), RFC 9162 section 2.1.4.1."""
    n = end - start
    if m == n:
        return [] if whole else [mth(start, end)]
    k = split_point(n)
    if m <= k:
        return [*subproof(m, start, start + k, whole), mth(start + k, end)]
    return [*subproof(m - k, start + k, end, False), mth(start, start + k)]


def proof(m: int, n: int) -> list[bytes]:
    """PROOF(m, D[n])."""
    return subproof(m, 0, n, True)


@dataclass(frozen=True)
class BuiltTree:
    nodes: dict[Node, bytes]
    roots: tuple[bytes, ...]


@cache
def built_tree() -> BuiltTree:
    """LEAVES appended one by one, keeping every node created and the root at every size."""
    frontier = Frontier()
    nodes: dict[Node, bytes] = {}
    roots = [frontier.root()]
    for leaf in LEAVES:
        for level, index, digest in frontier.append([leaf]):
            nodes[level, index] = digest
        roots.append(frontier.root())
    return BuiltTree(nodes, tuple(roots))


def flip_bit(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)

"""Merkle tree math over a store of perfect subtree hashes: appends, roots, proofs and tiles.

Node ``(level, index)`` is the root of the perfect subtree covering leaves
``[index * 2**level, (index + 1) * 2**level)``. Only such nodes are ever stored: any other
hash the tree needs (a root, the right-edge element of a proof) is folded from a few of them,
so a caller can fetch everything one answer needs in a single lookup.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from audittrail.integrity.hashing import EMPTY_ROOT, HASH_SIZE, node_hash

Node = tuple[int, int]
"""A perfect subtree: (level, index)."""

NodeStore = Mapping[Node, bytes]
"""Perfect subtree hashes by node."""

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_TILE_LEVEL = 63
# A tree size fits in 63 bits (a BIGINT), so no perfect subtree is higher.
MAX_LEVEL = 62


class MissingNodeError(LookupError):
    """A node the computation needs is not in the store given to it."""


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 section 2.1.1, straight from the recursive definition."""
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = _largest_power_of_two_below(len(hashes))
    return node_hash(root_from_leaf_hashes(hashes[:k]), root_from_leaf_hashes(hashes[k:]))


class Frontier:
    """The right edge of a tree: the perfect subtrees that make up its leaves, largest first."""

    def __init__(self) -> None:
        self._size = 0
        self._edge: list[tuple[int, bytes]] = []

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf_hashes: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        """Add leaves; return every perfect node this created as (level, index, hash)."""
        created: list[tuple[int, int, bytes]] = []
        for leaf in leaf_hashes:
            for level, digest in enumerate(self._add(leaf)):
                created.append((level, (self._size >> level) - 1, digest))
        return created

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Add leaves, keeping nothing but the right edge: what a verifier needs.

        The leaves go in as the largest perfect subtrees the tree's size allows, each folded
        level by level: a third cheaper than one leaf at a time.
        """
        leaves = list(leaf_hashes)
        for leaf in leaves:
            _check_hash_size(leaf)
        start = 0
        while start < len(leaves):
            aligned = (self._size & -self._size).bit_length() - 1 if self._size else MAX_LEVEL
            level = min(aligned, (len(leaves) - start).bit_length() - 1)
            block = leaves[start : start + (1 << level)]
            while len(block) > 1:
                block = [node_hash(block[i], block[i + 1]) for i in range(0, len(block), 2)]
            self._push(level, block[0])
            start += 1 << level

    def append_completed(self, leaf_hashes: Iterable[bytes]) -> list[bytes]:
        """Add leaves; for each, its own hash and those of the perfect nodes it completes,
        level by level, concatenated: what its record stores (:func:`completing_leaf`)."""
        return [b"".join(self._add(leaf)) for leaf in leaf_hashes]

    def root(self) -> bytes:
        return _fold([digest for _, digest in self._edge])

    def copy(self) -> "Frontier":
        """An independent frontier to append to, leaving this one as it is."""
        clone = Frontier()
        clone._size = self._size
        clone._edge = list(self._edge)
        return clone

    @staticmethod
    def nodes_needed(size: int) -> list[Node]:
        """The perfect nodes that make up a tree of this size (one per set bit of it)."""
        if size < 0:
            raise ValueError(f"tree size must not be negative, got {size}")
        return subtree_nodes(0, size) if size else []

    @classmethod
    def from_nodes(cls, size: int, nodes: NodeStore) -> "Frontier":
        """The frontier of the tree of this size, from stored nodes (see :meth:`nodes_needed`)."""
        frontier = cls()
        frontier._size = size
        frontier._edge = [
            (level, _lookup(nodes, (level, index))) for level, index in cls.nodes_needed(size)
        ]
        return frontier

    def _add(self, leaf: bytes) -> list[bytes]:
        """Append one leaf; the hashes of the nodes it completes, from its own (level 0) up."""
        _check_hash_size(leaf)
        completed = [leaf]
        self._push(0, leaf, completed)
        return completed

    def _push(self, level: int, digest: bytes, completed: list[bytes] | None = None) -> None:
        """Append a perfect subtree of this level, which the size must be a multiple of; the
        nodes this completes go to ``completed``."""
        self._edge.append((level, digest))
        self._size += 1 << level
        while len(self._edge) > 1 and self._edge[-1][0] == self._edge[-2][0]:
            merged, right = self._edge.pop()
            _, left = self._edge.pop()
            parent = node_hash(left, right)
            self._edge.append((merged + 1, parent))
            if completed is not None:
                completed.append(parent)


def completing_leaf(node: Node) -> int:
    """The index of the leaf whose append completes the node: its last leaf.

    The leaf at index i completes exactly the nodes of levels 0 up to the number of trailing
    zero bits of i + 1, so each of them is found at its level's place among that leaf's.
    """
    level, index = node
    return ((index + 1) << level) - 1


def subtree_nodes(start: int, end: int) -> list[Node]:
    """The perfect nodes, left to right, whose fold is MTH(D[start:end]).

    ``start`` must be a multiple of the largest power of two not above ``end - start``, as it
    is for every subtree an RFC 9162 proof refers to.
    """
    width = end - start
    if start < 0 or width <= 0:
        raise ValueError(f"not a leaf range: [{start}, {end})")
    if start % (1 << (width.bit_length() - 1)):
        raise ValueError(f"[{start}, {end}) does not split into perfect subtrees of the tree")
    nodes: list[Node] = []
    for level in reversed(range(width.bit_length())):
        if width >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def range_root(start: int, end: int, nodes: NodeStore) -> bytes:
    """MTH(D[start:end]) from the perfect nodes of :func:`subtree_nodes`."""
    return _fold([_lookup(nodes, node) for node in subtree_nodes(start, end)])


def tree_root(size: int, nodes: NodeStore) -> bytes:
    """The root of the tree of this size, which may be any size up to the current one."""
    return _fold([_lookup(nodes, node) for node in Frontier.nodes_needed(size)])


def inclusion_proof_nodes(index: int, size: int) -> list[Node]:
    """Every perfect node :func:`inclusion_proof` reads: fetch these, then build the proof."""
    return _nodes_of_ranges(_inclusion_ranges(index, size))


def inclusion_proof(index: int, size: int, nodes: NodeStore) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 section 2.1.3.1, ordered from the leaf up."""
    return [range_root(start, end, nodes) for start, end in _inclusion_ranges(index, size)]


def consistency_proof_nodes(size1: int, size2: int) -> list[Node]:
    """Every perfect node :func:`consistency_proof` reads: fetch these, then build the proof."""
    return _nodes_of_ranges(_consistency_ranges(size1, size2))


def consistency_proof(size1: int, size2: int, nodes: NodeStore) -> list[bytes]:
    """PROOF(size1, D[size2]) of RFC 9162 section 2.1.4.1; empty when the sizes are equal."""
    return [range_root(start, end, nodes) for start, end in _consistency_ranges(size1, size2)]


def range_proof_nodes(start: int, end: int, size: int) -> list[Node]:
    """Every perfect node :func:`range_proof` reads: fetch these, then build the proof."""
    return _nodes_of_ranges(range_proof_ranges(start, end, size))


def range_proof(start: int, end: int, size: int, nodes: NodeStore) -> list[bytes]:
    """The hashes of :func:`range_proof_ranges`, in its order."""
    return [range_root(lo, hi, nodes) for lo, hi in range_proof_ranges(start, end, size)]


def range_proof_ranges(start: int, end: int, size: int) -> list[tuple[int, int]]:
    """The largest subtrees of RFC 9162's recursion over ``[0, size)`` that hold no leaf of
    ``[start, end)``, left to right: with the leaves of ``[start, end)``, their hashes make the
    root (``verify.root_from_range``)."""
    if not 0 <= start <= end <= size:
        raise ValueError(f"[{start}, {end}) is not a leaf range of a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    # Subtrees still to look at, leftmost on top.
    pending = [(0, size)] if size else []
    while pending:
        lo, hi = pending.pop()
        if hi <= start or end <= lo or start == end:
            ranges.append((lo, hi))
        elif not (start <= lo and hi <= end):
            k = _largest_power_of_two_below(hi - lo)
            pending += [(lo + k, hi), (lo, lo + k)]
    return ranges


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    offset, width = 0, size
    while width > 1:
        k = _largest_power_of_two_below(width)
        if index - offset < k:
            ranges.append((offset + k, offset + width))
            width = k
        else:
            ranges.append((offset, offset + k))
            offset, width = offset + k, width - k
    # The walk went top-down; proofs list the hashes bottom-up.
    return ranges[::-1]


def _consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    # RFC 9162 defines proofs for 0 < size1 < size2 only; an empty tree proves nothing.
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    ranges: list[tuple[int, int]] = []
    offset, width, whole_old_tree = 0, size2, True
    while size1 - offset != width:
        k = _largest_power_of_two_below(width)
        if size1 - offset <= k:
            ranges.append((offset + k, offset + width))
            width = k
        else:
            ranges.append((offset, offset + k))
            offset, width, whole_old_tree = offset + k, width - k, False
    # SUBPROOF(m, D[m], false): the verifier cannot know this subtree's hash on its own.
    if not whole_old_tree:
        ranges.append((offset, offset + width))
    return ranges[::-1]


def _nodes_of_ranges(ranges: Iterable[tuple[int, int]]) -> list[Node]:
    # Proof ranges are disjoint, so their nodes are too.
    return [node for start, end in ranges for node in subtree_nodes(start, end)]


def _fold(hashes: Sequence[bytes]) -> bytes:
    """The root of perfect subtrees laid side by side, each smaller than the one before."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


def _lookup(nodes: NodeStore, node: Node) -> bytes:
    try:
        digest = nodes[node]
    except KeyError:
        raise MissingNodeError(f"tree node (level {node[0]}, index {node[1]}) is missing") from None
    _check_hash_size(digest)
    return digest


def _check_hash_size(digest: bytes) -> None:
    if len(digest) != HASH_SIZE:
        raise ValueError(f"a tree hash has {HASH_SIZE} bytes, got {len(digest)}")


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


# C2SP tlog-tiles: https://c2sp.org/tlog-tiles


@dataclass(frozen=True)
class TileAddress:
    """A tile (``level`` set) or an entry bundle (``level`` None); ``width`` None when full."""

    level: int | None
    index: int
    width: int | None = None


_TILE_PATH = re.compile(
    r"tile/(?P<level>entries|0|[1-9][0-9]?)/(?P<index>(?:x[0-9]{3}/)*[0-9]{3})"
    r"(?:\.p/(?P<width>[1-9][0-9]{0,2}))?"
)


def tile_path(level: int, index: int, width: int | None = None) -> str:
    """``tile/<L>/<N>[.p/<W>]``, e.g. ``tile/0/x001/x234/067.p/5``."""
    if not 0 <= level <= MAX_TILE_LEVEL:
        raise ValueError(f"tile level must be within 0..{MAX_TILE_LEVEL}, got {level}")
    return f"tile/{level}/{_tile_suffix(index, width)}"


def entries_path(index: int, width: int | None = None) -> str:
    """``tile/entries/<N>[.p/<W>]``: the bundle of the entries under level-0 tile N."""
    return f"tile/entries/{_tile_suffix(index, width)}"


def parse_tile_path(path: str) -> TileAddress:
    """The reverse of :func:`tile_path` / :func:`entries_path`; only canonical paths parse."""
    match = _TILE_PATH.fullmatch(path)
    if match is None:
        raise ValueError(f"not a tile path: {path!r}")
    level_text, width_text = match["level"], match["width"]
    level = None if level_text == "entries" else int(level_text)
    index = int(match["index"].replace("x", "").replace("/", ""))
    width = None if width_text is None else int(width_text)
    address = TileAddress(level, index, width)
    # Round-tripping rejects what the pattern lets through: x000 padding, out-of-range numbers.
    try:
        canonical = _address_path(address)
    except ValueError as error:
        raise ValueError(f"not a tile path: {path!r} ({error})") from None
    if canonical != path:
        raise ValueError(f"not a canonical tile path: {path!r}, expected {canonical!r}")
    return address


def tile_nodes(level: int, index: int, width: int | None = None) -> list[Node]:
    """The tree nodes whose hashes a tile holds, in order."""
    if not 0 <= level <= MAX_TILE_LEVEL:
        raise ValueError(f"tile level must be within 0..{MAX_TILE_LEVEL}, got {level}")
    count = _tile_width(width)
    first = index * TILE_WIDTH
    return [(level * TILE_HEIGHT, first + offset) for offset in range(count)]


def tile_tree_size(address: TileAddress) -> int:
    """The least tree size that holds every hash of the tile, or every entry of the bundle: any
    address parses, so this says whether the log has grown to it before anything is looked up."""
    first_level_node = address.index * TILE_WIDTH + _tile_width(address.width)
    return first_level_node << ((address.level or 0) * TILE_HEIGHT)


def _address_path(address: TileAddress) -> str:
    if address.level is None:
        return entries_path(address.index, address.width)
    return tile_path(address.level, address.index, address.width)


def _tile_suffix(index: int, width: int | None) -> str:
    if index < 0:
        raise ValueError(f"tile index must not be negative, got {index}")
    _tile_width(width)
    digits = str(index)
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    path = "/".join([*(f"x{group}" for group in groups[:-1]), groups[-1]])
    return path if width is None else f"{path}.p/{width}"


def _tile_width(width: int | None) -> int:
    if width is None:
        return TILE_WIDTH
    if not 0 < width < TILE_WIDTH:
        raise ValueError(f"a partial tile is 1..{TILE_WIDTH - 1} wide, got {width}")
    return width

"""The log's Merkle tree in the database: extended inside each append, read for proofs and tiles.

Every perfect subtree hash is stored, with the record whose append completed it: a record's
``tree_hashes`` is its leaf hash followed by the hashes of the nodes it completes, level by
level (`tree.completing_leaf`), 64 bytes on average. So a proof or a root at any size is one
indexed lookup of O(log n) records, and the tree adds no row or index entry of its own to an
append: it had been two rows per record in a table of their own, most of its cost on the write
path. The right edge of the tree (the frontier) is cached per process and checked against the
log head's size and root under the append lock, so another process's appends or a rolled-back
transaction can never leave it stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast
from weakref import WeakKeyDictionary

from sqlalchemy import (
    CTE,
    ColumnElement,
    FromClause,
    Integer,
    LargeBinary,
    Row,
    Table,
    func,
    literal_column,
    select,
    true,
    union,
)
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.db.models import Record
from audittrail.integrity.canonical import record_leaf_hash
from audittrail.integrity.hashing import HASH_SIZE
from audittrail.integrity.tree import Frontier, Node, NodeStore, completing_leaf

_frontiers: WeakKeyDictionary[Engine, Frontier] = WeakKeyDictionary()
RECORDS = cast(Table, Record.__table__)
TREE_HASHES = RECORDS.c.tree_hashes


def stored_hash(tree_hashes: ColumnElement[bytes], level: Any) -> ColumnElement[bytes]:
    """The hash of the level's node among a record's tree_hashes (empty where it has none)."""
    return func.substr(tree_hashes, level * HASH_SIZE + 1, HASH_SIZE, type_=LargeBinary)


async def nodes(session: AsyncSession, wanted: Iterable[Node]) -> dict[Node, bytes]:
    keys = list(dict.fromkeys(wanted))
    if not keys:
        return {}
    holders = {completing_leaf(node) for node in keys}
    rows = await session.execute(
        select(RECORDS.c.seq, TREE_HASHES).where(RECORDS.c.seq.in_(holders))
    )
    stored: dict[int, bytes | None] = {seq: tree_hashes for seq, tree_hashes in rows}
    found: dict[Node, bytes] = {}
    for node in keys:
        level = node[0]
        digest = (stored.get(completing_leaf(node)) or b"")[level * HASH_SIZE :][:HASH_SIZE]
        if digest:
            found[node] = digest
    return found


# A BIGINT size has no bit above 62.
LEVELS = 63


def proof_nodes(
    leaf: ColumnElement[int],
    first_size: ColumnElement[int],
    size: ColumnElement[int],
    *,
    inputs: FromClause | None = None,
) -> CTE:
    """The nodes a proof reads, as (level, node_index) rows worked out in SQL, so a proof's
    inputs (a record's seq, the latest checkpoint) and its nodes are one statement.

    The leaf, the siblings of it and of its ancestors that lie within size, and the nodes that
    make up the trees of first_size and size: with first_size = size, exactly what an inclusion
    proof of the leaf and its root read; with leaf = first_size - 1, what a consistency proof
    from first_size to size and both roots read, and a few of the old tree's nodes besides.
    ``inputs`` is the one-row FROM the expressions are columns of, if any.
    """
    levels = _levels()
    level = levels.c.level
    source = levels if inputs is None else levels.join(inputs, true())
    ancestor = leaf.bitwise_rshift(level)
    # ancestor XOR 1, in the arithmetic both databases have.
    sibling = ancestor + 1 - 2 * ancestor.bitwise_and(1)
    siblings = (
        select(level, sibling).select_from(source).where(sibling < size.bitwise_rshift(level))
    )
    return union(
        select(literal_column("0", Integer).label("level"), leaf.label("node_index")),
        siblings,
        *(
            select(level, tree_size.bitwise_rshift(level) - 1)
            .select_from(source)
            .where(tree_size.bitwise_rshift(level).bitwise_and(1) == 1)
            for tree_size in (first_size, size)
        ),
    ).cte("proof_nodes")


def _levels() -> CTE:
    levels = select(literal_column("0", Integer).label("level")).cte("levels", recursive=True)
    return levels.union_all(select(levels.c.level + 1).where(levels.c.level < LEVELS - 1))


def with_hashes(wanted: CTE) -> list[ColumnElement[Any]]:
    """The wanted nodes' columns and their stored hash (NULL or empty where the tree has no
    such node).

    A subquery per node keeps every lookup on the seq index whatever a planner thinks of the
    join's size.
    """
    holder = (wanted.c.node_index + 1).bitwise_lshift(wanted.c.level) - 1
    stored = select(stored_hash(TREE_HASHES, wanted.c.level)).where(RECORDS.c.seq == holder)
    return [wanted.c.level, wanted.c.node_index, stored.scalar_subquery().label("hash")]


def found(rows: Iterable[Row[Any]]) -> dict[Node, bytes]:
    """The nodes of rows selected with :func:`with_hashes` that the tree has."""
    return {(row.level, row.node_index): row.hash for row in rows if row.hash}


async def _frontier(session: AsyncSession, size: int, root: bytes) -> Frontier:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    cached = _frontiers.get(engine)
    if cached is not None and cached.size == size and cached.root() == root:
        return cached
    found: NodeStore = await nodes(session, Frontier.nodes_needed(size))
    return Frontier.from_nodes(size, found)


class LeafSource(Protocol):
    def leaf_fields(self) -> Mapping[str, Any]:
        """The record's leaf fields, as canonical.record_leaf_hash takes them."""


@dataclass(frozen=True)
class Extension:
    root: bytes
    tree_hashes: Sequence[bytes | None]
    """Each record's, in order: what its ``tree_hashes`` column stores."""


async def extend(
    session: AsyncSession, size: int, root: bytes, records: Sequence[LeafSource]
) -> Extension:
    """Add the records' leaves (records as appended) to the tree of this size and root: the
    new root and what each record stores of the tree.

    Call with the log head locked, in the transaction that then inserts the records.
    """
    frontier = await _frontier(session, size, root)
    extended = frontier.copy()
    tree_hashes = extended.append_completed(
        record_leaf_hash(record.leaf_fields()) for record in records
    )
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    _frontiers[engine] = extended
    return Extension(extended.root(), tree_hashes)

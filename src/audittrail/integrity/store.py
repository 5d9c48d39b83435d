"""The log's Merkle tree in the database: extended inside each append, read for proofs and tiles.

Every perfect subtree hash is stored (about two rows per record), so a proof or a root at any
size is one indexed lookup of O(log n) rows. The right edge of the tree (the frontier) is
cached per process and checked against the log head's size and root under the append lock,
so another process's appends or a rolled-back transaction can never leave it stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, cast
from weakref import WeakKeyDictionary

from sqlalchemy import (
    CTE,
    ColumnElement,
    FromClause,
    Integer,
    Row,
    Table,
    and_,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    union,
)
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.db import bulk
from audittrail.db.models import TreeNode
from audittrail.integrity import canonical
from audittrail.integrity.hashing import leaf_hash
from audittrail.integrity.tree import Frontier, Node, NodeStore

_frontiers: WeakKeyDictionary[Engine, Frontier] = WeakKeyDictionary()
TREE_NODES = cast(Table, TreeNode.__table__)


async def nodes(session: AsyncSession, wanted: Iterable[Node]) -> dict[Node, bytes]:
    keys = list(dict.fromkeys(wanted))
    if not keys:
        return {}
    rows = await session.execute(
        select(TreeNode.level, TreeNode.node_index, TreeNode.hash).where(
            _any_of(keys, session.get_bind().dialect.name)
        )
    )
    return {(level, index): digest for level, index, digest in rows}


def _any_of(keys: list[Node], dialect: str) -> ColumnElement[bool]:
    """WHERE (level, node_index) is one of the keys, in the form each planner serves by index.

    PostgreSQL turns a row-value IN into a bitmap OR over the primary key; SQLite 3.40 plans it
    as a scan of the whole table (200 ms at a million records), but uses the key for one
    `level = ? AND node_index IN (...)` per level.
    """
    if dialect != "sqlite":
        return tuple_(TreeNode.level, TreeNode.node_index).in_(keys)
    by_level: dict[int, list[int]] = {}
    for level, index in keys:
        by_level.setdefault(level, []).append(index)
    return or_(
        *(
            and_(TreeNode.level == level, TreeNode.node_index.in_(indexes))
            for level, indexes in by_level.items()
        )
    )


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
    """The wanted nodes' columns and their stored hash (NULL where the tree has no such node).

    A subquery per node keeps every lookup on the primary key whatever a planner thinks of
    the join's size.
    """
    stored = select(TREE_NODES.c.hash).where(
        TREE_NODES.c.level == wanted.c.level, TREE_NODES.c.node_index == wanted.c.node_index
    )
    return [wanted.c.level, wanted.c.node_index, stored.scalar_subquery().label("hash")]


def found(rows: Iterable[Row[Any]]) -> dict[Node, bytes]:
    """The nodes of rows selected with :func:`with_hashes` that the tree has."""
    return {(row.level, row.node_index): row.hash for row in rows if row.hash is not None}


async def _frontier(session: AsyncSession, size: int, root: bytes) -> Frontier:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    cached = _frontiers.get(engine)
    if cached is not None and cached.size == size and cached.root() == root:
        return cached
    found: NodeStore = await nodes(session, Frontier.nodes_needed(size))
    return Frontier.from_nodes(size, found)


class LeafSource(Protocol):
    def leaf_members(self) -> list[Any]:
        """The leaf's members in canonical.MEMBERS order, as canonical.stored_leaf_bytes
        takes them."""


async def extend(
    session: AsyncSession, size: int, root: bytes, records: Sequence[LeafSource]
) -> bytes:
    """Add the records' leaves (records as appended) to the tree of this size and root; the
    new root.

    Call with the log head locked, in the transaction that inserts the records.
    """
    frontier = await _frontier(session, size, root)
    extended = frontier.copy()
    created = extended.append(
        leaf_hash(canonical.stored_leaf_bytes(record.leaf_members())) for record in records
    )
    await bulk.insert_rows(session, TREE_NODES, ("level", "node_index", "hash"), created)
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    _frontiers[engine] = extended
    return extended.root()

"""The log's Merkle tree in the database: extended inside each append, read for proofs and tiles.

Every perfect subtree hash is stored (about two rows per record), so a proof or a root at any
size is one indexed lookup of O(log n) rows. The right edge of the tree (the frontier) is
cached per process and checked against the log head's size and root under the append lock,
so another process's appends or a rolled-back transaction can never leave it stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import ColumnElement, Table, and_, insert, or_, select, tuple_
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.db.models import TreeNode
from audittrail.integrity import entries
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


async def _frontier(session: AsyncSession, size: int, root: bytes) -> Frontier:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    cached = _frontiers.get(engine)
    if cached is not None and cached.size == size and cached.root() == root:
        return cached
    found: NodeStore = await nodes(session, Frontier.nodes_needed(size))
    return Frontier.from_nodes(size, found)


async def extend(session: AsyncSession, size: int, root: bytes, records: Sequence[Any]) -> bytes:
    """Add the records' leaves (records rows: loaded or as appended) to the tree of this size
    and root; the new root.

    Call with the log head locked, in the transaction that inserts the records.
    """
    frontier = await _frontier(session, size, root)
    extended = frontier.copy()
    created = extended.append(entries.record_leaf_hash(record) for record in records)
    # A Core insert: the ORM's bulk path adds per-row work and nothing needed here.
    await session.execute(
        insert(TREE_NODES),
        [{"level": level, "node_index": index, "hash": digest} for level, index, digest in created],
    )
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    _frontiers[engine] = extended
    return extended.root()

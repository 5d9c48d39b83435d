"""The log's Merkle tree in the database: extended inside each append, read for proofs and tiles.

Every perfect subtree hash is stored (about two rows per record), so a proof or a root at any
size is one indexed lookup of O(log n) rows. The right edge of the tree (the frontier) is
cached per process and checked against the log head's size and root under the append lock,
so another process's appends or a rolled-back transaction can never leave it stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from weakref import WeakKeyDictionary

from sqlalchemy import insert, select, tuple_
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.db.models import Record, TreeNode
from audittrail.integrity import entries
from audittrail.integrity.tree import Frontier, Node, NodeStore

_frontiers: WeakKeyDictionary[Engine, Frontier] = WeakKeyDictionary()


async def nodes(session: AsyncSession, wanted: Iterable[Node]) -> dict[Node, bytes]:
    keys = list(dict.fromkeys(wanted))
    if not keys:
        return {}
    rows = await session.execute(
        select(TreeNode.level, TreeNode.node_index, TreeNode.hash).where(
            tuple_(TreeNode.level, TreeNode.node_index).in_(keys)
        )
    )
    return {(level, index): digest for level, index, digest in rows}


async def _frontier(session: AsyncSession, size: int, root: bytes) -> Frontier:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    cached = _frontiers.get(engine)
    if cached is not None and cached.size == size and cached.root() == root:
        return cached
    found: NodeStore = await nodes(session, Frontier.nodes_needed(size))
    return Frontier.from_nodes(size, found)


async def extend(session: AsyncSession, size: int, root: bytes, records: Sequence[Record]) -> bytes:
    """Add the records' leaves to the tree of this size and root; the new root.

    Call with the log head locked, in the transaction that inserts the records.
    """
    frontier = await _frontier(session, size, root)
    extended = frontier.copy()
    created = extended.append(entries.record_leaf_hash(record) for record in records)
    await session.execute(
        insert(TreeNode),
        [{"level": level, "node_index": index, "hash": digest} for level, index, digest in created],
    )
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    _frontiers[engine] = extended
    return extended.root()

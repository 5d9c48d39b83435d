"""Queries for the log: its head, checkpoints, and records by sequence number."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.db.models import LogHead, Record, SignedCheckpoint, TreeNode
from audittrail.integrity.canonical import LEAF_FIELDS
from audittrail.records.sequencer import LOG_HEAD_ID, Head

STORED_LEAF_HASH = "stored_leaf_hash"


async def head(session: AsyncSession) -> Head:
    row = (
        await session.execute(
            select(
                LogHead.size, LogHead.root_hash, LogHead.last_created_at, LogHead.registry_version
            ).where(LogHead.id == LOG_HEAD_ID)
        )
    ).one()
    return Head(*row)


async def seq_and_latest_checkpoint(
    session: AsyncSession, record_id: str
) -> tuple[int, SignedCheckpoint | None] | None:
    """The record's seq and the latest checkpoint, in one round trip (a proof's hot path)."""
    latest = (
        select(SignedCheckpoint.tree_size)
        .order_by(SignedCheckpoint.tree_size.desc())
        .limit(1)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(Record.seq, SignedCheckpoint)
            .outerjoin(SignedCheckpoint, SignedCheckpoint.tree_size == latest)
            .where(Record.id == record_id)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def latest_checkpoint(session: AsyncSession) -> SignedCheckpoint | None:
    result = await session.execute(
        select(SignedCheckpoint).order_by(SignedCheckpoint.tree_size.desc()).limit(1)
    )
    return result.scalar_one_or_none()


async def checkpoint_at(session: AsyncSession, tree_size: int) -> SignedCheckpoint | None:
    return await session.get(SignedCheckpoint, tree_size)


async def checkpoints_page(
    session: AsyncSession, *, offset: int, limit: int, ascending: bool = False
) -> tuple[list[SignedCheckpoint], int]:
    total = (await session.execute(select(func.count(SignedCheckpoint.tree_size)))).scalar_one()
    order = SignedCheckpoint.tree_size.asc() if ascending else SignedCheckpoint.tree_size.desc()
    rows = await session.execute(
        select(SignedCheckpoint).order_by(order).offset(offset).limit(limit)
    )
    return list(rows.scalars()), total


def _leaf_columns() -> list[Any]:
    columns = [column for column in Record.__table__.c if column.name != "metadata"]
    return [*columns, Record.__table__.c.metadata.label("metadata_")]


async def record_rows(session: AsyncSession, start: int, end: int) -> Sequence[Row[Any]]:
    """Records with start <= seq < end in seq order, as Core rows (fast to turn into leaves)."""
    result = await session.execute(
        select(*_leaf_columns()).where(Record.seq >= start, Record.seq < end).order_by(Record.seq)
    )
    return result.all()


async def record_count(session: AsyncSession) -> int:
    return (await session.execute(select(func.count(Record.id)))).scalar_one()


async def leaf_entries(session: AsyncSession, start: int, end: int) -> list[dict[str, Any]]:
    """Records with start <= seq < end in seq order, for the verifier: each a dict of the leaf
    fields and STORED_LEAF_HASH, the tree's leaf for that seq (None where the tree lacks it).

    One joined Core query made into plain dicts: at a million records, a second query for the
    leaves, ORM result handling and attribute access on rows would cost more than the hashing.
    """
    records, nodes = Record.__table__, TreeNode.__table__
    leaf = and_(nodes.c.level == 0, nodes.c.node_index == records.c.seq)
    query = (
        select(*(records.c[name] for name in LEAF_FIELDS), nodes.c.hash.label(STORED_LEAF_HASH))
        .select_from(records.outerjoin(nodes, leaf))
        .where(records.c.seq >= start, records.c.seq < end)
        .order_by(records.c.seq)
    )
    result = await (await session.connection()).execute(query)
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]

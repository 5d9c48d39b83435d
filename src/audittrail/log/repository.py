"""Queries for the log: proofs' inputs, checkpoints, and records by sequence number."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Row, Select, bindparam, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.db.models import LogHead, Record, SignedCheckpoint
from audittrail.integrity.canonical import LEAF_FIELDS
from audittrail.integrity.tree import Node
from audittrail.log import head as log_head
from audittrail.log import tree_store as store
from audittrail.log.head import LOG_HEAD_ID

# Sizes are BIGINT: a larger one is looked up as the largest, which no log reaches.
MAX_SIZE = 2**63 - 1


@dataclass(frozen=True)
class InclusionInputs:
    """What a record's inclusion proof is made of."""

    seq: int
    application_id: str | None
    head_size: int
    checkpoint_size: int | None
    """Of the checkpoint at the tree_size asked for, or of the latest one."""
    checkpoint_note: str | None
    nodes: dict[Node, bytes]
    """Those the proof and its root read at the tree_size asked for, or the checkpoint's."""


async def inclusion_inputs(
    session: AsyncSession, record_id: str, tree_size: int | None
) -> InclusionInputs | None:
    """Read in one statement: each one more is a round trip (on SQLite, thread hops) on a
    proof's hot path. None for an unknown record."""
    connection = await session.connection()
    size = None if tree_size is None else min(tree_size, MAX_SIZE)
    result = await connection.execute(
        _INCLUSION_INPUTS, {"record_id": record_id, "tree_size": size}
    )
    rows = result.all()
    if not rows:
        return None
    row = rows[0]
    return InclusionInputs(
        row.seq, row.application_id, row.head_size, row.checkpoint_size, row.note, store.found(rows)
    )


def _inclusion_inputs() -> Select[Any]:
    records, head, checkpoints = Record.__table__, LogHead.__table__, SignedCheckpoint.__table__
    tree_size = bindparam("tree_size", type_=BigInteger)
    latest = select(func.max(checkpoints.c.tree_size)).scalar_subquery()
    asked = (
        select(
            records.c.seq,
            records.c.application_id,
            head.c.size.label("head_size"),
            checkpoints.c.tree_size.label("checkpoint_size"),
            checkpoints.c.note,
            func.coalesce(tree_size, checkpoints.c.tree_size).label("proof_size"),
        )
        .select_from(
            records.join(head, head.c.id == LOG_HEAD_ID).outerjoin(
                checkpoints, checkpoints.c.tree_size == func.coalesce(tree_size, latest)
            )
        )
        .where(records.c.id == bindparam("record_id"))
        .cte("asked")
    )
    size = asked.c.proof_size
    wanted = store.proof_nodes(asked.c.seq, size, size, inputs=asked)
    return select(asked, *store.with_hashes(wanted)).select_from(asked.outerjoin(wanted, true()))


_INCLUSION_INPUTS = _inclusion_inputs()


@dataclass(frozen=True)
class ConsistencyInputs:
    head_size: int
    nodes: dict[Node, bytes]
    """Those the proof between the two sizes and both roots read."""


async def consistency_inputs(session: AsyncSession, first: int, second: int) -> ConsistencyInputs:
    """One statement; first must be at least 1 and at most second."""
    connection = await session.connection()
    result = await connection.execute(
        _CONSISTENCY_INPUTS, {"first": min(first, MAX_SIZE), "second": min(second, MAX_SIZE)}
    )
    rows = result.all()
    return ConsistencyInputs(rows[0].head_size, store.found(rows))


def _consistency_inputs() -> Select[Any]:
    head = LogHead.__table__
    first = bindparam("first", type_=BigInteger)
    wanted = store.proof_nodes(first - 1, first, bindparam("second", type_=BigInteger))
    return (
        select(head.c.size.label("head_size"), *store.with_hashes(wanted))
        .select_from(head.outerjoin(wanted, true()))
        .where(head.c.id == LOG_HEAD_ID)
    )


_CONSISTENCY_INPUTS = _consistency_inputs()


async def latest_checkpoint(session: AsyncSession) -> SignedCheckpoint | None:
    result = await session.execute(
        select(SignedCheckpoint).order_by(SignedCheckpoint.tree_size.desc()).limit(1)
    )
    return result.scalar_one_or_none()


@dataclass(frozen=True)
class Coverage:
    """How much of the log its latest checkpoint covers (readiness and the metrics read it)."""

    size: int
    covered: int
    signed_at: datetime | None
    """When the latest checkpoint was signed; None before the first."""
    first_waiting_at: datetime | None
    """When the oldest record no checkpoint covers was appended; None when none waits."""


async def coverage(session: AsyncSession) -> Coverage:
    size = (await log_head.read(session)).size
    checkpoint = await latest_checkpoint(session)
    covered = checkpoint.tree_size if checkpoint else 0
    first_waiting_at: datetime | None = None
    if size > covered:
        first_waiting_at = (
            await session.execute(select(Record.created_at).where(Record.seq == covered))
        ).scalar()
    signed_at = checkpoint.created_at if checkpoint else None
    return Coverage(size, covered, signed_at, first_waiting_at)


async def latest_checkpoint_size(session: AsyncSession) -> int | None:
    size: int | None = (
        await session.execute(select(func.max(SignedCheckpoint.tree_size)))
    ).scalar()
    return size


async def add_checkpoint(
    session: AsyncSession, size: int, root_hash: bytes, note: str, created_at: datetime
) -> None:
    session.add(
        SignedCheckpoint(tree_size=size, root_hash=root_hash, note=note, created_at=created_at)
    )
    await session.flush()  # a checkpoint of this size signed first by another process: here


async def checkpoints_page(
    session: AsyncSession, *, offset: int, limit: int, ascending: bool = False
) -> tuple[list[SignedCheckpoint], int]:
    total = (await session.execute(select(func.count(SignedCheckpoint.tree_size)))).scalar_one()
    order = SignedCheckpoint.tree_size.asc() if ascending else SignedCheckpoint.tree_size.desc()
    rows = await session.execute(
        select(SignedCheckpoint).order_by(order).offset(offset).limit(limit)
    )
    return list(rows.scalars()), total


async def leaf_rows(session: AsyncSession, start: int, end: int) -> Sequence[Row[Any]]:
    """The leaf fields of the records with start <= seq < end, in seq order, as Core rows (fast
    to turn into leaves: each row's _asdict() is a record as canonical.record_leaf_bytes takes
    it)."""
    records = Record.__table__
    result = await session.execute(
        select(*(records.c[name] for name in LEAF_FIELDS))
        .where(records.c.seq >= start, records.c.seq < end)
        .order_by(records.c.seq)
    )
    return result.all()


async def record_count(session: AsyncSession) -> int:
    return (await session.execute(select(func.count(Record.id)))).scalar_one()

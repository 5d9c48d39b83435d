"""The log head: the one row that holds the log's size, root and registry version, and its lock.

Every append locks this row first (SELECT ... FOR UPDATE on PostgreSQL; on SQLite the writer's
BEGIN IMMEDIATE already serialises writers). The lock is held until the caller's transaction
commits, so sequence numbers are handed out in commit order and a rolled-back transaction gives
its numbers back. Everything else reads the head through `read`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.db.models import LogHead

LOG_HEAD_ID = 1
LOG_HEAD = cast(Table, LogHead.__table__)


@dataclass(frozen=True)
class Head:
    size: int
    root_hash: bytes
    last_created_at: datetime | None
    registry_version: int
    """Bumped by every change to what records are checked against (records/registry.py)."""


_SELECT_HEAD = select(
    LOG_HEAD.c.size,
    LOG_HEAD.c.root_hash,
    LOG_HEAD.c.last_created_at,
    LOG_HEAD.c.registry_version,
).where(LOG_HEAD.c.id == LOG_HEAD_ID)
_LOCK_HEAD = _SELECT_HEAD.with_for_update()
_UPDATE_HEAD = update(LOG_HEAD).where(LOG_HEAD.c.id == LOG_HEAD_ID)


async def read(session: AsyncSession) -> Head:
    """The head as committed (no lock taken)."""
    return await _head(session, _SELECT_HEAD)


async def lock(session: AsyncSession) -> Head:
    """Take the log's write lock for the rest of the transaction; the head as it stands."""
    return await _head(session, _LOCK_HEAD)


async def _head(session: AsyncSession, query: Select[Any]) -> Head:
    # Core on the session's connection: the ORM's statement handling costs more than the
    # statement, and every group commit runs these.
    connection = await session.connection()
    return Head(*(await connection.execute(query)).one())


async def advance(session: AsyncSession, moved: Head) -> None:
    """Write the head as an append moved it, in the transaction that holds the lock."""
    connection = await session.connection()
    values = {
        "size": moved.size,
        "root_hash": moved.root_hash,
        "last_created_at": moved.last_created_at,
        "registry_version": moved.registry_version,
    }
    await connection.execute(_UPDATE_HEAD, values)

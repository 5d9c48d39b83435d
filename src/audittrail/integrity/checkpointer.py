"""Signs a checkpoint of the log head at most once per interval while the log grows."""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from audittrail import clock
from audittrail.db.engine import Database
from audittrail.db.models import LogHead, SignedCheckpoint
from audittrail.integrity.signer import LogSigner
from audittrail.records.sequencer import LOG_HEAD_ID

log = structlog.get_logger(__name__)


async def checkpoint_head(database: Database, signer: LogSigner) -> int | None:
    """Sign the current head if no checkpoint covers it yet; the new checkpoint's size, if any."""
    async with database.read_session() as session:
        head = (
            await session.execute(
                select(LogHead.size, LogHead.root_hash).where(LogHead.id == LOG_HEAD_ID)
            )
        ).one()
        latest = (await session.execute(select(func.max(SignedCheckpoint.tree_size)))).scalar()
    if latest is not None and latest >= head.size:
        return None
    row = {
        "tree_size": head.size,
        "root_hash": head.root_hash,
        "created_at": clock.now(),
        "note": signer.sign(head.size, head.root_hash),
    }
    try:
        async with database.write_session() as session:
            await session.execute(insert(SignedCheckpoint), [row])
    except IntegrityError:  # another process signed this very size first
        return None
    return int(head.size)


async def run(database: Database, signer: LogSigner, interval: float) -> None:
    """Until cancelled: checkpoint, sleep, repeat. A failure is logged and retried next round."""
    while True:
        try:
            await checkpoint_head(database, signer)
        except (DBAPIError, OSError) as error:  # the database is away: expected, say it briefly
            log.warning(
                "checkpoint skipped: database unavailable", error=str(error).splitlines()[0]
            )
        except Exception:
            log.exception("checkpoint failed; retrying", interval=interval)
        await asyncio.sleep(interval)

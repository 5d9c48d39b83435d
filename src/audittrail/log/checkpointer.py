"""Signs a checkpoint of the log head at most once per interval while the log grows."""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.exc import DBAPIError, IntegrityError

from audittrail import clock
from audittrail.db.engine import Database
from audittrail.log import head as log_head
from audittrail.log import repository as repo
from audittrail.log.signer import LogSigner

log = structlog.get_logger(__name__)


async def checkpoint_head(database: Database, signer: LogSigner) -> int | None:
    """Sign the current head if no checkpoint covers it yet; the new checkpoint's size, if any."""
    async with database.read_session() as session:
        head = await log_head.read(session)
        latest = await repo.latest_checkpoint_size(session)
    if latest is not None and latest >= head.size:
        return None
    note = signer.sign(head.size, head.root_hash)
    try:
        async with database.write_session() as session:
            await repo.add_checkpoint(session, head.size, head.root_hash, note, clock.now())
    except IntegrityError:  # another process signed this very size first
        return None
    return head.size


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

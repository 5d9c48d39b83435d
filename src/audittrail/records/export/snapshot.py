"""The checkpoint an export is taken against: what makes it a snapshot anyone can check."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from audittrail.db.engine import Database
from audittrail.db.models import SignedCheckpoint
from audittrail.errors import NotFound, ServiceUnavailable
from audittrail.log import head as log_head
from audittrail.log import repository as log_repo

# How many checkpoint intervals an export waits for the checkpoint that covers its start.
WAIT_INTERVALS = 5
# However short the interval: a busy machine's checkpointer round can lag a few tenths of a
# second, and an export refused for it would be a false 503.
MIN_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.05
MIN_POLL_SECONDS = 0.01
# How many times the wait the clock allows it when every poll's read is slow.
SLOW_READS = 3


@dataclass(frozen=True)
class Snapshot:
    """A signed checkpoint: the export holds records with seq below its size."""

    tree_size: int
    root_hash: bytes
    note: str


def _of(checkpoint: SignedCheckpoint) -> Snapshot:
    return Snapshot(checkpoint.tree_size, checkpoint.root_hash, checkpoint.note)


async def pinned(database: Database, tree_size: int) -> Snapshot:
    """The signed checkpoint of this size; 404 if the log never signed one."""
    async with database.read_session() as session:
        found = await session.get(SignedCheckpoint, tree_size)
    if found is None:
        raise NotFound(
            f"No signed checkpoint of tree size {tree_size}; see /api/audit-trail/log/checkpoints.",
            code="CHECKPOINT_NOT_FOUND",
        )
    return _of(found)


async def covering(database: Database, interval: float) -> Snapshot:
    """The first checkpoint that covers the log as it is now: the latest, once the checkpointer
    has signed the head (it does every interval while the log grows). 503 if it does not come."""
    async with database.read_session() as session:
        size = (await log_head.read(session)).size
    wait = max(WAIT_INTERVALS * interval, MIN_WAIT_SECONDS)
    poll = max(min(POLL_SECONDS, interval), MIN_POLL_SECONDS)
    # Counted in polls, not read off the clock: a process that stalls (a machine paused for
    # seconds) stalls its checkpointer too, and must not wake past a deadline it had no time
    # for. The clock still bounds it, generously, when the reads themselves are slow.
    polls, deadline = math.ceil(wait / poll), time.monotonic() + SLOW_READS * wait
    for attempt in range(polls + 1):
        async with database.read_session() as session:
            latest = await log_repo.latest_checkpoint(session)
        if latest is not None and latest.tree_size >= size:
            return _of(latest)
        if attempt == polls or time.monotonic() > deadline:
            break
        await asyncio.sleep(poll)
    raise ServiceUnavailable(
        "No checkpoint covers the log yet, so an export could not be taken against one; "
        "retry shortly.",
        code="CHECKPOINT_PENDING",
        headers={"Retry-After": str(max(1, round(interval)))},
    )

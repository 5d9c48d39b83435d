"""Reads a streaming replica may serve (lists, statistics, exports, proofs), and why a lagging
one never makes a 201 look lost (docs/operations.md#read-replica).

A replica replays the primary's changes in commit order: what it shows is the whole database as
it was a moment ago, never a mix. Records, the log head that counts them, checkpoints, and every
change made through the API (whose system record is appended in the same transaction) commit
together, so the log's size says how far a replica has come. Three rules:

- A read the replica refuses (a record not found, no checkpoint covering it yet, a tree size
  past its head: any AppError), or that its replay cancelled (a conflict with recovery), is
  asked again of the primary, whose answer is the one sent. So a
  record that has had its 201 is found, and proved, whatever the replica has replayed.
- A read may name the log size it must include: the Min-Log-Size request header (a 201 says in
  Log-Size the size its records are within). A replica that has not reached it leaves the whole
  read to the primary. A read the replica served says in Log-Size how far it had come.
- What must hold every record below a size (an export's checkpoint, an entry range) reads the
  replica only once it has reached that size, else the primary.

Everything else never comes here, and reads the primary: writes, authentication, idempotent
replays, the registry the intake checks against, the checkpointer, the latest checkpoint and
the log head.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Header, Request, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.db.engine import Database
from audittrail.deps import ReadSession, get_database
from audittrail.errors import AppError
from audittrail.log import head as log_head

LOG_SIZE_HEADER = "Log-Size"
MIN_LOG_SIZE_HEADER = "Min-Log-Size"

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class ReplicaReads:
    """A request's reads that may lag the primary."""

    session: AsyncSession
    """The replica's, if it has reached the log size the request needs; else the primary's."""
    primary: AsyncSession

    async def answer(
        self,
        read: Callable[Concatenate[AsyncSession, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """The read's answer; where the replica refuses, the primary's (module docstring)."""
        try:
            return await read(self.session, *args, **kwargs)
        except (AppError, DBAPIError) as error:
            if self.session is self.primary or not _asked_again(error):
                raise
        return await read(self.primary, *args, **kwargs)


# A standby cancels a query whose rows its replay must remove ("conflict with recovery"):
# serialization_failure. The primary has no such conflict.
_RECOVERY_CONFLICT = "40001"


def _asked_again(error: AppError | DBAPIError) -> bool:
    """Whether the primary is asked what the replica refused or could not answer."""
    if isinstance(error, AppError):
        return True
    return getattr(error.orig, "sqlstate", None) == _RECOVERY_CONFLICT


async def _log_size(session: AsyncSession) -> int:
    return (await log_head.read(session)).size


MinLogSize = Annotated[
    int | None,
    Header(
        alias=MIN_LOG_SIZE_HEADER,
        ge=0,
        description="Read from a database holding at least the log's first N records: a 201's "
        "Log-Size, to see what it stored. A replica behind it leaves the read to the primary.",
    ),
]


async def replica_reads(
    request: Request, response: Response, primary: ReadSession, min_log_size: MinLogSize = None
) -> AsyncIterator[ReplicaReads]:
    """The replica, if one is configured and has reached Min-Log-Size; Log-Size then says how
    far the database read had come. Without a replica, the request's one read session, and no
    query more than before."""
    database = get_database(request)
    if database.replica is None:
        yield ReplicaReads(primary, primary)
        return
    async with database.replica_session() as replica:
        session, size = replica, await _log_size(replica)
        if min_log_size is not None and size < min_log_size:
            session, size = primary, await _log_size(primary)
        response.headers[LOG_SIZE_HEADER] = str(size)
        yield ReplicaReads(session, primary)


async def holding(database: Database, size: int) -> Database:
    """Where to read the log's first ``size`` records (and what was committed with them): the
    replica, once it has reached them; else the primary. The caller has checked on the primary
    that the log holds them (a signed checkpoint, a range within the head)."""
    if database.replica is None:
        return database
    replica = database.on_replica()
    async with replica.read_session() as session:
        reached = await _log_size(session)
    return replica if reached >= size else database


FromReplica = Annotated[ReplicaReads, Depends(replica_reads, scope="function")]

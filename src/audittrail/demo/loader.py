"""Writes the demo history into an empty log: through the log's own append, a chunk at a time.

Each chunk is one transaction, as a group commit's batch is: the log is whole after every one,
so an interrupted seed leaves a shorter log that still verifies. The records go in through
`log.append.append`, as ingested ones do: numbered, hashed into the Merkle tree, inserted (COPY
on PostgreSQL), their search words written, the head moved.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock
from audittrail.db import migrate
from audittrail.db.engine import Database
from audittrail.demo.catalog import Registered
from audittrail.demo.generator import History, Timed
from audittrail.log import checkpointer
from audittrail.log import head as log_head
from audittrail.log.append import append
from audittrail.log.signer import LogSigner

# Records per transaction. On PostgreSQL, 300,000 records took 38.5-42 s in chunks of anything
# from 2,000 to 20,000 (docs/NOTES.md), within the machine's noise; this many keeps a chunk's
# memory to tens of MB and the progress bar moving.
CHUNK = 10_000


class LogNotEmpty(Exception):
    """The log holds records already: a history cannot go in before them."""


@dataclass(frozen=True)
class Seeded:
    records: int
    applications: int
    start: datetime
    end: datetime


async def seed(
    database_url: str,
    *,
    count: int,
    seed: int,
    progress: Callable[[int], None],
    signer: LogSigner,
    until: datetime | None = None,
    chunk: int = CHUNK,
) -> Seeded:
    """Migrate the database, then fill its empty log with ``count`` records of demo history
    from ``seed``, and sign a checkpoint of it with the log's key (as the server's checkpointer
    would), so that `audittrail verify` accepts it at once. ``until``: the history's end (not
    in the future: the log's time never runs backwards); now by default. LogNotEmpty, with
    nothing written, if the log holds any record when it starts."""
    if until is not None and until > clock.now():
        raise ValueError("the history cannot end in the future")
    await asyncio.to_thread(migrate.upgrade, database_url)
    database = Database.connect(database_url, pool_size=2)
    upcoming: asyncio.Task[list[Timed]] | None = None
    try:
        async with database.read_session() as session:
            await _check_empty(session)
        history = History(seed, count, until or clock.now())
        records = history.records()
        written = 0
        # The next chunk is made in a thread while this one is written: the database's work on
        # a chunk (its indexes, mostly) leaves this process idle, and making a chunk is about a
        # third of what this process does.
        upcoming = asyncio.create_task(asyncio.to_thread(_take, records, chunk))
        while batch := await upcoming:
            upcoming = asyncio.create_task(asyncio.to_thread(_take, records, chunk))
            # The applications go in with the first chunk, whose records announce them.
            await _write(database, batch, written, history.registered if not written else [])
            written += len(batch)
            progress(len(batch))
        upcoming = None
        await checkpointer.checkpoint_head(database, signer)
        await _analyze(database)
        return Seeded(written, len(history.registered), history.start, history.end)
    finally:
        if upcoming is not None:
            upcoming.cancel()
        await database.dispose()


async def _write(
    database: Database, batch: list[Timed], written: int, registered: list[Registered]
) -> None:
    """One chunk in one transaction, after the ``written`` records before it."""
    async with database.write_session() as session:
        head = await log_head.lock(session)
        if head.size != written:
            raise LogNotEmpty(
                _not_empty(head.size)
                if not written
                else f"another writer appended to the log during the seed, which stopped after "
                f"{written:,} records"
            )
        for application in registered:
            session.add(application.application)
            session.add_all(application.definitions)
        await session.flush()
        new_records = [record for record, _ in batch]
        times = [moment for _, moment in batch]
        await append(session, new_records, locked=head, times=times)


def _take(records: Iterator[Timed], count: int) -> list[Timed]:
    return list(itertools.islice(records, count))


async def _check_empty(session: AsyncSession) -> None:
    head = await log_head.read(session)
    if head.size > 0:
        raise LogNotEmpty(_not_empty(head.size))


def _not_empty(size: int) -> str:
    return (
        f"the log holds {size:,} records already; demo data goes only into an empty database "
        "(its history would come before them, and the log never runs backwards in time)"
    )


async def _analyze(database: Database) -> None:
    """Fresh planner statistics for the new rows; on PostgreSQL also the visibility map, which
    lets counts read the indexes alone. VACUUM must run outside a transaction: the reader's
    connections are in autocommit."""
    statement = "VACUUM ANALYZE records" if database.dialect == "postgresql" else "ANALYZE"
    async with database.reader.connect() as connection:
        await connection.exec_driver_sql(statement)

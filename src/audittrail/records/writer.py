"""Group commit: one writer per process turns concurrent requests into one transaction each.

Requests validate their records, then hand them to the writer and wait. The writer takes what
has queued up (until batch_max records, or batch_wait after the first), appends it all in one
transaction (sequence numbers, rows, tree) and only after the commit answers every request in
the batch. So a 201 means committed, and the log's lock and the disk's flush are paid once per
batch instead of once per record. If the commit fails, every request of the batch fails with
503 and nothing of it is stored. The queue is bounded: when it is full, a request waits up to
enqueue_timeout for room, then gets 503 — memory never grows without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from audittrail.db.engine import Database
from audittrail.db.models import Record
from audittrail.errors import ServiceUnavailable
from audittrail.records.sequencer import NewRecord, append

log = structlog.get_logger(__name__)


@dataclass
class _Pending:
    records: Sequence[NewRecord]
    done: asyncio.Future[list[Record]]


@dataclass
class WriterStats:
    """Counters a test or an operator can read: how well batching is working."""

    batches: int = 0
    records: int = 0
    failed_batches: int = 0
    largest_batch: int = 0


@dataclass
class GroupCommitWriter:
    database: Database
    batch_max: int = 500
    batch_wait: float = 0.002
    queue_max: int = 10_000
    enqueue_timeout: float = 5.0
    retry_after: int = 1
    stats: WriterStats = field(default_factory=WriterStats)

    def __post_init__(self) -> None:
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=self.queue_max)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="group-commit-writer")

    async def stop(self) -> None:
        """Commit what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def submit(self, records: Sequence[NewRecord]) -> list[Record]:
        """Append these records, all in one transaction with others; return them once committed."""
        pending = _Pending(records, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(self._queue.put(pending), self.enqueue_timeout)
        except TimeoutError:
            raise self._unavailable("OVERLOADED", "The service is at capacity.") from None
        return await pending.done

    def _unavailable(self, code: str, message: str) -> ServiceUnavailable:
        return ServiceUnavailable(
            f"{message} Nothing was stored; retry shortly.",
            code=code,
            headers={"Retry-After": str(self.retry_after)},
        )

    async def _run(self) -> None:
        while True:
            batch = await self._gather()
            try:
                await self._commit(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _gather(self) -> list[_Pending]:
        batch = [await self._queue.get()]
        count = len(batch[0].records)
        deadline = asyncio.get_running_loop().time() + self.batch_wait
        while count < self.batch_max:
            if self._queue.empty():
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    pending = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            else:
                pending = self._queue.get_nowait()
            batch.append(pending)
            count += len(pending.records)
        return batch

    async def _commit(self, batch: list[_Pending]) -> None:
        live = [pending for pending in batch if not pending.done.cancelled()]
        records = [record for pending in live for record in pending.records]
        try:
            async with self.database.write_session() as session:
                appended = await append(session, records)
        except (DBAPIError, SQLAlchemyError, OSError) as error:
            self.stats.failed_batches += 1
            log.warning(
                "batch commit failed", records=len(records), error=str(error).splitlines()[0]
            )
            self._fail(live, self._unavailable("COMMIT_FAILED", "The commit failed."))
            return
        except Exception as error:  # a bug: let each request report it as such
            self.stats.failed_batches += 1
            log.exception("batch failed")
            self._fail(live, error)
            return
        self.stats.batches += 1
        self.stats.records += len(records)
        self.stats.largest_batch = max(self.stats.largest_batch, len(records))
        offset = 0
        for pending in live:
            mine = appended[offset : offset + len(pending.records)]
            offset += len(pending.records)
            if not pending.done.done():
                pending.done.set_result(mine)

    @staticmethod
    def _fail(batch: list[_Pending], error: BaseException) -> None:
        for pending in batch:
            if not pending.done.done():
                pending.done.set_exception(error)

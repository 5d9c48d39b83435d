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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import instruments
from audittrail.config import Settings
from audittrail.db.engine import Database
from audittrail.errors import Conflict, ServiceUnavailable
from audittrail.log import append as log_append
from audittrail.log import head as log_head
from audittrail.log.append import AppendedRecord, NewRecord
from audittrail.records import idempotency
from audittrail.records import repository as repo
from audittrail.records.idempotency import Claim

log = structlog.get_logger(__name__)

# Almost always the transaction rolled back; but a connection lost just after the database
# committed leaves the client unable to know, so the remedy is said, not a false certainty.
COMMIT_FAILED = (
    "The commit did not complete. Retry shortly, with the same Idempotency-Key: "
    "a retry never stores a record twice."
)


@dataclass(frozen=True)
class Written:
    """What one request gets back: its records, and which were replays of an earlier request."""

    records: list[AppendedRecord]
    replayed: list[bool]


class RegistryChanged(Exception):
    """The records were checked against credentials or applications that have changed since:
    nothing was stored; check them again (records/service.py, `ingest`)."""


@dataclass
class _Pending:
    records: Sequence[NewRecord]
    claims: Sequence[Claim | None]
    registry_version: int | None
    done: asyncio.Future[Written]


@dataclass
class WriterStats:
    """Counters a test or an operator can read: how well batching is working."""

    batches: int = 0
    records: int = 0
    failed_batches: int = 0
    largest_batch: int = 0


class Append(Protocol):
    """log.append.append's shape: what the writer appends with."""

    async def __call__(
        self, session: AsyncSession, new_records: Sequence[NewRecord], *, locked: log_head.Head
    ) -> list[AppendedRecord]: ...


def _ignore_version(_version: int) -> None:
    """No registry to tell."""


@dataclass
class GroupCommitWriter:
    """The process's writer, configured by the settings' batch_max, batch_wait_ms,
    write_queue_max and write_queue_timeout."""

    database: Database
    settings: Settings
    # Told the registry version the log head holds at every commit (records/registry.py).
    on_registry_version: Callable[[int], None] = _ignore_version
    # What the records are appended with: log.append.append; a test may wrap it.
    append: Append = log_append.append
    stats: WriterStats = field(default_factory=WriterStats)
    retry_after: int = 1

    def __post_init__(self) -> None:
        self.batch_max = self.settings.batch_max
        self.batch_wait = self.settings.batch_wait_ms / 1000
        self.enqueue_timeout = self.settings.write_queue_timeout
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=self.settings.write_queue_max)
        self._task: asyncio.Task[None] | None = None
        self._last_batch_shared = False
        self._closing = False  # clients' records refused (records/service.py, `ingest`)
        self._closed = False  # every record refused: the shutdown's deadline has passed

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    @property
    def alive(self) -> bool:
        """Whether its task is running: started, not stopped, and not ended by a bug."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="group-commit-writer")

    def close(self, timeout: float) -> None:
        """Stop taking clients' records, for a graceful shutdown: from now on `refuse_if_closing`
        refuses them (503 SHUTTING_DOWN, nothing stored); what is queued is committed and
        answered as usual for up to ``timeout`` seconds, as are the records the service writes
        itself (a failed login's, an export's). At the deadline whatever is still queued is
        refused, and so is every submission after it. The commit in flight always finishes: its
        requests are answered with what it did."""
        if self._closing:
            return
        self._closing = True
        log.info("intake closed: committing what is queued", queued=self.queued, timeout=timeout)
        asyncio.get_running_loop().call_later(timeout, self._deadline)

    def refuse_if_closing(self) -> None:
        """For a client's records: 503 SHUTTING_DOWN once the intake is closed."""
        if self._closing:
            raise self._shutting_down()

    def _deadline(self) -> None:
        self._closed = True
        self._refuse_queued()

    def _refuse_queued(self) -> None:
        refused = 0
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.done.done():
                pending.done.set_exception(self._shutting_down())
                refused += len(pending.records)
            self._queue.task_done()
        if refused:
            log.warning("refused records still queued at the shutdown deadline", records=refused)

    def _shutting_down(self) -> ServiceUnavailable:
        return self.unavailable(
            "SHUTTING_DOWN", "The service is shutting down. Nothing was stored; retry shortly."
        )

    def abandon(self) -> None:
        """Past the shutdown's bound: refuse what is queued and stop where the writer is."""
        self._closing = self._closed = True
        self._refuse_queued()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def stop(self) -> None:
        """Commit what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def submit(
        self,
        records: Sequence[NewRecord],
        claims: Sequence[Claim | None] | None = None,
        *,
        registry_version: int | None = None,
    ) -> Written:
        """Append these records in one transaction (with others' records); return once committed.

        A record whose idempotency claim was already made with the same request comes back as
        the original; one made with another request fails the whole submission with 409.
        ``registry_version``: what the records were checked against; if the log head has moved
        past it, nothing is stored and RegistryChanged is raised.
        """
        if self._closed:
            raise self._shutting_down()
        claims = claims if claims is not None else [None] * len(records)
        future = asyncio.get_running_loop().create_future()
        pending = _Pending(records, claims, registry_version, future)
        started = time.perf_counter()
        try:
            # Waiting is for a full queue only: wait_for makes a task of the put, every time.
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            await self._wait_for_room(pending)
        written = await pending.done
        instruments.commit_wait_seconds.observe(time.perf_counter() - started)
        return written

    async def _wait_for_room(self, pending: _Pending) -> None:
        try:
            await asyncio.wait_for(self._queue.put(pending), self.enqueue_timeout)
        except TimeoutError:
            raise self.unavailable(
                "OVERLOADED", "The service is at capacity. Nothing was stored; retry shortly."
            ) from None

    def unavailable(self, code: str, message: str) -> ServiceUnavailable:
        return ServiceUnavailable(
            message,
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
        """What is queued, and what arrives within batch_wait if the last batch was shared.

        A lone client would only ever wait the full batch_wait for nobody; under concurrency
        the wait gathers the requests that are a moment away.
        """
        batch = [await self._queue.get()]
        count = len(batch[0].records)
        wait = self.batch_wait if self._last_batch_shared else 0.0
        deadline = asyncio.get_running_loop().time() + wait
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
        self._last_batch_shared = len(batch) > 1
        return batch

    async def _commit(self, batch: list[_Pending]) -> None:
        live = [pending for pending in batch if not pending.done.cancelled()]
        try:
            async with self.database.write_session() as session:
                outcomes = await _append_batch(session, live, self.append, self.on_registry_version)
        except (DBAPIError, SQLAlchemyError, OSError) as error:
            self.stats.failed_batches += 1
            instruments.failed_batches.inc()
            log.warning("batch commit failed", requests=len(live), error=str(error).splitlines()[0])
            self._fail(live, self.unavailable("COMMIT_FAILED", COMMIT_FAILED))
            return
        except Exception as error:  # a bug: let each request report it as such
            self.stats.failed_batches += 1
            instruments.failed_batches.inc()
            log.exception("batch failed")
            self._fail(live, error)
            return
        appended = sum(o.replayed.count(False) for o in outcomes if isinstance(o, Written))
        self.stats.batches += 1
        self.stats.records += appended
        self.stats.largest_batch = max(self.stats.largest_batch, appended)
        instruments.observe_commit(appended, self.stats.largest_batch)
        self._settle(live, outcomes)

    @staticmethod
    def _settle(batch: list[_Pending], outcomes: list[Written | Exception]) -> None:
        for pending, outcome in zip(batch, outcomes, strict=True):
            if pending.done.done():
                continue
            if isinstance(outcome, Written):
                pending.done.set_result(outcome)
            else:
                pending.done.set_exception(outcome)

    @staticmethod
    def _fail(batch: list[_Pending], error: BaseException) -> None:
        for pending in batch:
            if not pending.done.done():
                pending.done.set_exception(error)


async def _append_batch(
    session: AsyncSession,
    submitted: list[_Pending],
    append: Append,
    on_registry_version: Callable[[int], None],
) -> list[Written | Exception]:
    """Under the log's lock: send back what was checked against a changed registry, settle
    idempotency claims, append what is new, keep new claims.

    Claims are settled here rather than before queueing because only under the lock can no
    other request, of this process or another, be making the same claim at the same time.
    """
    head = await log_head.lock(session)
    on_registry_version(head.registry_version)
    current = [p.registry_version in (None, head.registry_version) for p in submitted]
    batch = [pending for pending, ok in zip(submitted, current, strict=True) if ok]
    made = await repo.claims(session, [c.identity for p in batch for c in p.claims if c])
    planned = idempotency.plan([pending.claims for pending in batch], made)
    fresh = [batch[request].records[record] for request, record in planned.fresh]
    appended = await append(session, fresh, locked=head)
    await repo.add_claims(session, [(c, appended[a.position].id) for c, a in planned.claims])
    earlier = await _earlier_records(session, planned)
    results = iter([_written(p, appended, earlier) for p in planned.requests])
    return [next(results) if ok else RegistryChanged() for ok in current]


async def _earlier_records(
    session: AsyncSession, planned: idempotency.BatchPlan
) -> dict[str, AppendedRecord]:
    """The records that earlier requests created and this batch's replays return."""
    ids = {
        outcome.record
        for request in planned.requests
        if isinstance(request, idempotency.RequestPlan)
        for outcome in request.outcomes
        if isinstance(outcome, idempotency.Replayed) and isinstance(outcome.record, str)
    }
    records = await repo.by_ids(session, ids)
    return {record_id: AppendedRecord.of(record) for record_id, record in records.items()}


def _written(
    request: idempotency.RequestPlan | Conflict,
    appended: list[AppendedRecord],
    earlier: dict[str, AppendedRecord],
) -> Written | Conflict:
    if isinstance(request, Conflict):
        return request

    def record(outcome: idempotency.Appended | idempotency.Replayed) -> AppendedRecord:
        source = outcome.record if isinstance(outcome, idempotency.Replayed) else outcome
        return earlier[source] if isinstance(source, str) else appended[source.position]

    return Written(
        records=[record(outcome) for outcome in request.outcomes],
        replayed=[isinstance(outcome, idempotency.Replayed) for outcome in request.outcomes],
    )

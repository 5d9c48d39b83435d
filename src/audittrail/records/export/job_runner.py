"""The export jobs' runner: one task per process claims queued jobs and writes them, one at a
time, and sweeps: jobs whose process died go back to the queue, expired files are removed.

A job is claimed with a token of that claim (stored in `runner`), and every later change to it
names the token: two processes never run one job, and a process that lost its claim changes
nothing. While a job runs, its progress is written every PROGRESS_SECONDS, which also says its
process is alive; a job not heard of for LEASE_SECONDS is taken as its process's death and
queued again. A process that stops puts its job back in the queue itself, for the next one."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import structlog
from sqlalchemy.exc import DBAPIError

from audittrail import clock
from audittrail.config import Settings
from audittrail.db.engine import Database
from audittrail.db.models import ExportJob
from audittrail.errors import AppError
from audittrail.ids import new_id
from audittrail.log import replica
from audittrail.log.append import append
from audittrail.log.signer import LogSigner
from audittrail.records.export import job_repository as repo
from audittrail.records.export import jobs, pack, written
from audittrail.records.export.job_schemas import ExportStatus
from audittrail.records.export.service import Export

log = structlog.get_logger(__name__)

# How often to look for jobs other processes queued (this process's own wake it at once).
POLL_SECONDS = 1.0
# How often a running job's progress is written: also the sign that its process is alive.
PROGRESS_SECONDS = 1.0
# A running job not heard of this long: its process died.
LEASE_SECONDS = 30.0
SWEEP_SECONDS = 60.0
ERROR_CHARACTERS = 500


class ExportRunner:
    """The process's runner of export jobs (app.state.export_runner)."""

    def __init__(self, database: Database, signer: LogSigner, settings: Settings) -> None:
        self.database = database
        self.signer = signer
        self.directory = settings.export_directory
        self.retention = timedelta(seconds=settings.export_retention_seconds)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop; a job running is put back in the queue."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._wake.set()

    async def _run(self) -> None:
        swept: float | None = None
        while True:
            self._wake.clear()
            try:
                if swept is None or time.monotonic() - swept >= SWEEP_SECONDS:
                    await self.sweep()
                    swept = time.monotonic()
                while await self._run_next():
                    pass
            except (DBAPIError, OSError) as error:  # the database or the disk is away: retry
                log.warning("export jobs paused", error=str(error).splitlines()[0])
            except Exception:
                log.exception("export jobs: unexpected error; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def sweep(self) -> None:
        """Queue again the jobs whose process died; remove the files of expired ones, and the
        direct packs a process died before it sent them."""
        now = clock.now()
        async with self.database.read_session() as session:
            stale = await repo.stale(session, now - timedelta(seconds=LEASE_SECONDS))
            expiring = await repo.expiring(session, now)
        for job in stale:
            assert job.runner is not None
            async with self.database.write_session() as session:
                if await repo.requeue(session, job.id, job.runner):
                    jobs.Files.of(self.directory, job).discard(job.runner)
                    log.warning("export job queued again: its process stopped", job_id=job.id)
        pack.remove_abandoned(self.directory)
        for job in expiring:
            jobs.Files.of(self.directory, job).remove()
            async with self.database.write_session() as session:
                await repo.expire(session, job.id)

    async def _run_next(self) -> bool:
        """Claim the oldest queued job and run it; False if none is queued."""
        async with self.database.read_session() as session:
            job_id = await repo.next_queued(session)
        if job_id is None:
            return False
        token = new_id()
        async with self.database.write_session() as session:
            if not await repo.claim(session, job_id, token, clock.now()):
                return True  # another process was first: look again
            job = await repo.by_id(session, job_id)
        assert job is not None
        await self._execute(job, token)
        return True

    async def _execute(self, job: ExportJob, token: str) -> None:
        files = jobs.Files.of(self.directory, job)
        try:
            export = await jobs.export_of(self.database, job)
            source = await replica.holding(self.database, job.tree_size)
            self.directory.mkdir(parents=True, exist_ok=True)
            async with self._reporting(job, token, export):
                manifest = await written.write(export, source, self.signer, files.partial(token))
            await self._finish(job, token, export, files, manifest)
        except asyncio.CancelledError:  # the process stops: the next one runs the job
            await self._release(job, token, files)
            raise
        except Exception as error:
            files.discard(token)
            await self._fail(job, token, error, files)

    async def _release(self, job: ExportJob, token: str, files: jobs.Files) -> None:
        """Put the job back in the queue. Never raises: the process is stopping, and must (if
        this fails, the job's lease runs out instead)."""
        try:
            files.discard(token)
            async with self.database.write_session() as session:
                await repo.requeue(session, job.id, token)
        except Exception:
            log.exception("export job not put back in the queue", job_id=job.id)

    @contextlib.asynccontextmanager
    async def _reporting(self, job: ExportJob, token: str, export: Export) -> AsyncIterator[None]:
        task = asyncio.create_task(self._report(job, token, export))
        try:
            yield
        finally:
            task.cancel()
            await asyncio.wait([task])

    async def _report(self, job: ExportJob, token: str, export: Export) -> None:
        """Write how many records are written, and so that this process is alive, until the
        claim is lost (`_finish` then finds out too)."""
        while True:
            await asyncio.sleep(PROGRESS_SECONDS)
            try:
                async with self.database.write_session() as session:
                    held = await repo.running(
                        session,
                        job.id,
                        token,
                        records_written=export.records,
                        heartbeat_at=clock.now(),
                    )
            except (DBAPIError, OSError) as error:
                log.warning("export job progress not written", error=str(error).splitlines()[0])
                continue
            if not held:
                return

    async def _finish(
        self, job: ExportJob, token: str, export: Export, files: jobs.Files, manifest: str
    ) -> None:
        """In one transaction: the job done, its files in place, the export's system record
        appended; or, if the claim was lost, none of it."""
        now = clock.now()
        async with self.database.write_session() as session:
            held = await repo.running(
                session,
                job.id,
                token,
                status=ExportStatus.DONE,
                records_written=export.records,
                heartbeat_at=now,
                finished_at=now,
                expires_at=now + self.retention,
            )
            if not held:
                files.discard(token)
                log.warning("export job was taken over by another process", job_id=job.id)
                return
            files.place(token, manifest)
            await append(session, [export.record(job.ip_address, job_id=job.id)])

    async def _fail(self, job: ExportJob, token: str, error: Exception, files: jobs.Files) -> None:
        """Mark the job failed, with a reason fit for its maker, and remove its files."""
        if isinstance(error, AppError):  # the export's own refusal: a pack of masked records
            reason = error.message
            log.warning("export job failed", job_id=job.id, error=reason)
        else:
            reason = "The export failed on the server; its log says why."
            log.exception("export job failed", job_id=job.id)
        async with self.database.write_session() as session:
            held = await repo.running(
                session,
                job.id,
                token,
                status=ExportStatus.FAILED,
                error=reason[:ERROR_CHARACTERS],
                finished_at=clock.now(),
            )
        if held:
            files.remove()

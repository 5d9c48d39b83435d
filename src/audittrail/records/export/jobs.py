"""Export jobs: an export written to a file in the background, for exports too big to wait for;
seen by whoever made it (and admins), downloaded once done, removed once expired
(docs/export.md, "Export jobs"). The runner is records/export/job_runner.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock
from audittrail.access import Principal, Visibility
from audittrail.db.engine import Database
from audittrail.db.models import ExportJob
from audittrail.errors import Conflict, Gone, NotFound, TooManyRequests
from audittrail.ids import new_id
from audittrail.records.export import job_repository as repo
from audittrail.records.export import parameters, reader
from audittrail.records.export.formats import EXTENSIONS, Format
from audittrail.records.export.job_schemas import ExportJobResponse, ExportStatus
from audittrail.records.export.service import Export, ExportRequest
from audittrail.records.export.snapshot import Snapshot, pinned

# How long a client polling a job not yet done is asked to wait.
RETRY_AFTER_SECONDS = 2
# Queued or running at once, per owner: one owner cannot fill the queue and the disk.
MAX_UNFINISHED = 4


async def create(
    database: Database,
    wanted: ExportRequest,
    snapshot: Snapshot,
    spelt: dict[str, list[str]],
    ip: str | None,
) -> ExportJob:
    """Queue the export, pinned to its checkpoint. Refused as the direct export would be (a
    sensitive filter: 403) before anything is stored."""
    query = Export(wanted, snapshot).query
    types = await reader.filter_types(database, query)
    async with database.read_session() as session:
        if await repo.unfinished(session, wanted.exporter) >= MAX_UNFINISHED:
            raise TooManyRequests(
                f"{MAX_UNFINISHED} of your export jobs are queued or running: wait for one to "
                "finish.",
                retry_after=RETRY_AFTER_SECONDS,
                code="EXPORT_JOBS_BUSY",
            )
        total = await repo.matching(session, query, types)
    visibility = query.visibility
    job_id = new_id()
    job = ExportJob(
        id=job_id,
        owner=wanted.exporter,
        application_ids=None
        if visibility.application_ids is None
        else sorted(visibility.application_ids),
        sees_sensitive=visibility.sees_sensitive,
        ip_address=ip,
        format=wanted.format.value,
        filters=wanted.filters,
        parameters=spelt,
        tree_size=snapshot.tree_size,
        estimated_total=total,
        file_name=f"{job_id}.{EXTENSIONS[wanted.format]}",
        status=ExportStatus.QUEUED,
        records_written=0,
    )
    async with database.write_session() as session:
        await repo.add(session, job)
    return job


async def get(session: AsyncSession, job_id: str, principal: Principal) -> ExportJob:
    """The job, if it is the principal's to see (its maker's, or an admin's) and holds nothing
    the principal may no longer see (its maker lost a role or an application since); else
    404."""
    job = await repo.by_id(session, job_id)
    if job is None or not (principal.is_admin or job.owner == principal.actor):
        raise NotFound(f"No export job {job_id}.", code="EXPORT_NOT_FOUND")
    if not _covered(principal.visibility, job):
        raise NotFound(f"No export job {job_id}.", code="EXPORT_NOT_FOUND")
    return job


def _covered(now: Visibility, job: ExportJob) -> bool:
    """Whether what the job was made to see is still within what the reader sees."""
    if job.sees_sensitive and not now.sees_sensitive:
        return False
    if now.application_ids is None:
        return True
    return job.application_ids is not None and set(job.application_ids) <= now.application_ids


async def page(
    session: AsyncSession, principal: Principal, *, offset: int, limit: int
) -> tuple[list[ExportJob], int]:
    """The principal's jobs (an admin's: everyone's), newest first."""
    owner = None if principal.is_admin else principal.actor
    return await repo.page(session, owner, offset=offset, limit=limit)


def status_of(job: ExportJob) -> ExportStatus:
    """The job's status now: a done job past its expiry is expired, to the second, before the
    runner's sweep removes its file."""
    if job.status == ExportStatus.DONE and job.expires_at and job.expires_at <= clock.now():
        return ExportStatus.EXPIRED
    return ExportStatus(job.status)


def response(job: ExportJob) -> ExportJobResponse:
    return ExportJobResponse(
        id=job.id,
        status=status_of(job),
        format=Format(job.format),
        owner=job.owner,
        filters=job.filters,
        records_written=job.records_written,
        estimated_total=job.estimated_total,
        tree_size=job.tree_size,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        expires_at=job.expires_at,
        error=job.error,
    )


@dataclass(frozen=True)
class Files:
    """A job's files in the export directory: its data, its signed manifest beside it, and the
    file each claim writes until it is done (its own: two claims never write one file)."""

    directory: Path
    job_id: str
    file_name: str

    @classmethod
    def of(cls, directory: Path, job: ExportJob) -> Files:
        return cls(directory, job.id, job.file_name)

    @property
    def data(self) -> Path:
        return self.directory / self.file_name

    @property
    def manifest(self) -> Path:
        return self.directory / f"{self.job_id}.manifest.txt"

    def partial(self, token: str) -> Path:
        """Where the claim of this token writes the file."""
        return self.directory / f".{self.job_id}.{token}.part"

    def place(self, token: str, manifest: str) -> None:
        """The claim's file, written, in its place; its manifest beside it."""
        self.manifest.write_text(manifest)
        self.partial(token).replace(self.data)

    def discard(self, token: str) -> None:
        self.partial(token).unlink(missing_ok=True)

    def remove(self) -> None:
        self.data.unlink(missing_ok=True)
        self.manifest.unlink(missing_ok=True)


def ready(job: ExportJob, directory: Path) -> Files:
    """The files of a done job; 409 before it is done (or when it failed), 410 once expired."""
    status = status_of(job)
    if status == ExportStatus.EXPIRED:
        raise Gone(
            f"Export job {job.id} expired: its file was removed. Start the export again.",
            code="EXPORT_EXPIRED",
        )
    if status == ExportStatus.FAILED:
        raise Conflict(f"Export job {job.id} failed: {job.error}", code="EXPORT_FAILED")
    if status != ExportStatus.DONE:
        raise Conflict(
            f"Export job {job.id} is {status.value}; its file is not ready yet.",
            code="EXPORT_NOT_READY",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    files = Files.of(directory, job)
    if not files.data.is_file():
        raise Gone(f"Export job {job.id}'s file is gone from the server.", code="EXPORT_EXPIRED")
    return files


async def export_of(database: Database, job: ExportJob) -> Export:
    """The job's export, as its maker asked for it and could see it, at its checkpoint."""
    application_ids = None if job.application_ids is None else frozenset(job.application_ids)
    visibility = Visibility(application_ids, sees_sensitive=job.sees_sensitive)
    wanted = parameters.parsed_again(job.parameters, visibility, job.owner, job.filters)
    return Export(wanted, await pinned(database, job.tree_size))

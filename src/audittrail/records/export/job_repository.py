"""Queries for export jobs: their rows, and the state changes of the runner, each made only by
the process whose claim it is (the claim's token, in `runner`), so that no two processes run one
job."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Update, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.applications.service import ParamType
from audittrail.db.models import ExportJob, Record
from audittrail.records import query as q
from audittrail.records.export.job_schemas import ExportStatus

# A job put back in the queue, as if it had never run.
_AS_QUEUED: dict[str, Any] = {
    "status": ExportStatus.QUEUED,
    "runner": None,
    "heartbeat_at": None,
    "started_at": None,
    "records_written": 0,
}


async def add(session: AsyncSession, job: ExportJob) -> None:
    session.add(job)
    await session.flush()


async def by_id(session: AsyncSession, job_id: str) -> ExportJob | None:
    return await session.get(ExportJob, job_id)


async def unfinished(session: AsyncSession, owner: str) -> int:
    """How many of the owner's jobs are queued or running."""
    return (
        await session.execute(
            select(func.count())
            .select_from(ExportJob)
            .where(
                ExportJob.owner == owner,
                ExportJob.status.in_((ExportStatus.QUEUED, ExportStatus.RUNNING)),
            )
        )
    ).scalar_one()


async def page(
    session: AsyncSession, owner: str | None, *, offset: int, limit: int
) -> tuple[list[ExportJob], int]:
    """One page of the jobs of `owner` (None: everyone's), newest first, and their total."""
    where = [] if owner is None else [ExportJob.owner == owner]
    total = (
        await session.execute(select(func.count()).select_from(ExportJob).where(*where))
    ).scalar_one()
    statement = (
        select(ExportJob)
        .where(*where)
        .order_by(ExportJob.created_at.desc(), ExportJob.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars()), total


async def matching(session: AsyncSession, query: q.RecordQuery, types: dict[str, ParamType]) -> int:
    """How many records an export of `query` (bound by its tree size) holds: the tree size
    itself for every record, else counted."""
    assert query.tree_size is not None
    if query.visibility.application_ids is None and not q.is_filtered(query):
        return query.tree_size
    where = q.conditions(query, session.get_bind().dialect.name, types)
    count = select(func.count()).select_from(Record).where(*where)
    return (await session.execute(count)).scalar_one()


async def next_queued(session: AsyncSession) -> str | None:
    """The oldest queued job's id."""
    statement = (
        select(ExportJob.id)
        .where(ExportJob.status == ExportStatus.QUEUED)
        .order_by(ExportJob.created_at, ExportJob.id)
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def claim(session: AsyncSession, job_id: str, token: str, now: datetime) -> bool:
    """Take a queued job to run; False if another process took it first."""
    return await _changed(
        session,
        update(ExportJob)
        .where(ExportJob.id == job_id, ExportJob.status == ExportStatus.QUEUED)
        .values(status=ExportStatus.RUNNING, runner=token, started_at=now, heartbeat_at=now),
    )


async def running(session: AsyncSession, job_id: str, token: str, **values: Any) -> bool:
    """Change a job this claim still holds (its progress, its end); False if it lost it."""
    return await _changed(
        session,
        update(ExportJob)
        .where(
            ExportJob.id == job_id,
            ExportJob.runner == token,
            ExportJob.status == ExportStatus.RUNNING,
        )
        .values(**values),
    )


async def requeue(session: AsyncSession, job_id: str, token: str) -> bool:
    """Put a running job back in the queue: its process stopped, or died."""
    return await running(session, job_id, token, **_AS_QUEUED)


async def stale(session: AsyncSession, quiet_since: datetime) -> list[ExportJob]:
    """Running jobs whose runner has not reported since then: its process died."""
    statement = select(ExportJob).where(
        ExportJob.status == ExportStatus.RUNNING, ExportJob.heartbeat_at < quiet_since
    )
    return list((await session.execute(statement)).scalars())


async def expiring(session: AsyncSession, now: datetime) -> list[ExportJob]:
    """Done jobs whose files are past keeping."""
    statement = select(ExportJob).where(
        ExportJob.status == ExportStatus.DONE, ExportJob.expires_at <= now
    )
    return list((await session.execute(statement)).scalars())


async def expire(session: AsyncSession, job_id: str) -> None:
    await session.execute(
        update(ExportJob)
        .where(ExportJob.id == job_id, ExportJob.status == ExportStatus.DONE)
        .values(status=ExportStatus.EXPIRED)
    )


async def _changed(session: AsyncSession, statement: Update) -> bool:
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]

"""GET /healthz and GET /readyz: for load balancers and orchestrators, unauthenticated.

/healthz says the process answers. /readyz says it can do its work: the database answers
and is migrated to this release's head, the group-commit writer runs, and no record has waited
for a checkpoint longer than a few intervals. Either answer says nothing more than that: what
failed is logged, never sent (an attacker learns nothing of the database or the code).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from audittrail import clock
from audittrail.config import Settings
from audittrail.db import migrate
from audittrail.db.engine import Database
from audittrail.errors import ServiceUnavailable
from audittrail.handlers import error_response
from audittrail.log import repository as log_repo
from audittrail.records.writer import GroupCommitWriter

router = APIRouter(tags=["operations"])
log = structlog.get_logger()

# How long the database may take to answer a readiness check.
DATABASE_SECONDS = 2.0
# A record may wait this many checkpoint intervals (and a little more) for its checkpoint.
CHECKPOINT_INTERVALS = 3
CHECKPOINT_SLACK = timedelta(seconds=5)
NOT_READY = ServiceUnavailable(
    "Not ready to serve.", code="NOT_READY", headers={"Retry-After": "1"}
)
READY = {"status": "ready"}


@router.get("/healthz", summary="The process answers", responses={200: {"description": "Alive."}})
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The service can do its work",
    responses={
        200: {"description": "Ready."},
        503: {"description": "Not ready (NOT_READY): the reason is logged, not sent."},
    },
)
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    problem = await why_not_ready(state.database, state.writer, state.settings, state.started_at)
    if problem is not None:
        log.warning("not ready", reason=problem)
        return error_response(NOT_READY)
    return JSONResponse(READY)


async def why_not_ready(
    database: Database, writer: GroupCommitWriter, settings: Settings, started_at: datetime
) -> str | None:
    """What keeps the service from its work, in words for the log; None: ready."""
    if not writer.alive:
        return "the group-commit writer is not running"
    try:
        async with asyncio.timeout(DATABASE_SECONDS), database.read_session() as session:
            current = await session.run_sync(lambda sync: migrate.current_heads(sync.connection()))
            coverage = await log_repo.coverage(session)
    except Exception as error:  # any failure to read is the database's: not ready, say why
        return f"the database does not answer: {type(error).__name__}: {error}"
    if current != migrate.heads():
        return f"the database is at {sorted(current)}, not {sorted(migrate.heads())}"
    if coverage.first_waiting_at is not None:  # counted from then, or from this process's start
        waiting_since = max(coverage.first_waiting_at, started_at)
        allowed = timedelta(seconds=CHECKPOINT_INTERVALS * settings.checkpoint_interval)
        if clock.now() - waiting_since > allowed + CHECKPOINT_SLACK:
            return (
                f"records {coverage.covered}..{coverage.size - 1} wait for a checkpoint "
                f"since {waiting_since}"
            )
    return None

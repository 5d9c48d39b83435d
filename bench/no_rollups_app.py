"""The service with the rollups' upkeep switched off: the baseline bench/query.py measures their
ingest cost against (its "no_rollups" variant). Never for use: statistics would be wrong."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import app
from audittrail.log import rollups


async def _counted_nowhere(session: AsyncSession, records: Sequence[rollups.Counted]) -> None:
    return None


def create_app() -> FastAPI:
    rollups.add = _counted_nowhere  # the append calls it through the module
    return app.create_app()

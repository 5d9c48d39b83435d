"""HTTP routes for statistics and parameter analytics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from audittrail.access import StatsReader
from audittrail.deps import ReadSession
from audittrail.records.filters import Filters, record_filters
from audittrail.records.stats import service
from audittrail.records.stats.buckets import Bucket
from audittrail.records.stats.schemas import Stats

router = APIRouter(prefix="/api/audit-trail", tags=["statistics"])

BucketQuery = Annotated[
    Bucket | None,
    Query(description="Default: hour up to 2 days, day up to 120, week up to 3 years, month."),
]
TzQuery = Annotated[
    str,
    Query(
        max_length=64,
        description="An IANA zone: buckets, days, weekdays and hours are counted in it.",
        examples=["Europe/Berlin"],
    ),
]


@router.get(
    "/stats",
    response_model=Stats,
    summary="Statistics of audit records",
    description="Every filter of the record list. Counts per bucket, the most frequent values "
    "of each field, the hour × weekday heat map and the busiest day (docs/stats.md).",
)
async def stats(
    principal: StatsReader,
    filters: Annotated[Filters, Depends(record_filters)],
    session: ReadSession,
    bucket: BucketQuery = None,
    tz: TzQuery = "UTC",
    limit: Annotated[int, Query(ge=1, le=100, description="Values per top list.")] = 10,
) -> Stats:
    query = filters.query(principal.visibility)
    return await service.statistics(session, query, bucket=bucket, tz_name=tz, limit=limit)

"""HTTP routes for statistics and parameter analytics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from audittrail.access import StatsReader
from audittrail.log.replica import FromReplica
from audittrail.records.filters import Filters, record_filters
from audittrail.records.stats import analytics, service
from audittrail.records.stats.buckets import Bucket
from audittrail.records.stats.schemas import ParamAnalytics, Stats

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
    reads: FromReplica,
    bucket: BucketQuery = None,
    tz: TzQuery = "UTC",
    limit: Annotated[int, Query(ge=1, le=100, description="Values per top list.")] = 10,
) -> Stats:
    query = filters.query(principal.visibility)
    return await reads.answer(service.statistics, query, bucket=bucket, tz_name=tz, limit=limit)


@router.get(
    "/applications/{app}/params/{param_key}/analytics",
    response_model=ParamAnalytics,
    summary="Analytics of one param's values",
    description="Every filter of the record list, over the application's records. Per bucket: "
    "how many records hold a value of the param, miss it or hold another type; for numbers "
    "min, max, mean and percentiles, for other values the most frequent; the drift from the "
    "bucket before (docs/stats.md). A sensitive param's analytics are for admins only.",
)
async def param_analytics(
    app: str,
    param_key: str,
    principal: StatsReader,
    filters: Annotated[Filters, Depends(record_filters)],
    reads: FromReplica,
    bucket: BucketQuery = None,
    tz: TzQuery = "UTC",
    limit: Annotated[int, Query(ge=1, le=100, description="Top values per bucket.")] = 10,
    drift_threshold: Annotated[
        float,
        Query(ge=0, allow_inf_nan=False, description="A bucket drifted past this drift."),
    ] = 0.3,
) -> ParamAnalytics:
    query = filters.query(principal.visibility)
    return await reads.answer(
        analytics.param_analytics,
        query,
        app,
        param_key,
        bucket=bucket,
        tz_name=tz,
        limit=limit,
        drift_threshold=drift_threshold,
    )

"""The parameter analytics page: one param's values per bucket, drawn.

It calls the service the API route calls (records/stats/analytics), with the record list's
filters from the URL and the viewer's zone from the `tz` cookie (static/app.js sets it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from audittrail import clock
from audittrail.access import APPLICATIONS_READ, Principal, StatsReader
from audittrail.applications import service as applications
from audittrail.db.models import Application, ParamDefinition
from audittrail.deps import ReadSession
from audittrail.errors import AppError
from audittrail.records import query as q
from audittrail.records.filters import Filters, record_filters
from audittrail.records.stats import analytics
from audittrail.records.stats import buckets as b
from audittrail.records.stats.schemas import ParamAnalytics, ParamBucket
from audittrail.web import charts
from audittrail.web.templating import render
from audittrail.web.views import (
    FILTERS,
    TOP,
    ChosenBucket,
    ViewerZone,
    active_filters,
    bucket_names,
    carried,
    view_filters,
    visible_applications,
)

router = APIRouter(include_in_schema=False)

NUMBERS = frozenset({"integer", "number"})


@dataclass(frozen=True)
class Choice:
    """What the analytics form offers and what it chose. One who may not list applications
    (an auditor) names the application and the param by key."""

    lists: bool
    applications: list[Application]
    application: Application | None
    params: list[ParamDefinition]
    param: ParamDefinition | None

    def ready(self, application: str, param: str) -> bool:
        """Whether the form names a param to analyse: one of the chosen application's (else
        the form is showing a newly chosen application's params), or any typed pair."""
        if self.lists:
            return self.param is not None
        return bool(application and param)


async def choice(
    session: ReadSession, principal: Principal, application: str, param: str
) -> Choice:
    """The applications the reader may list, and the params of the chosen one."""
    listed = await visible_applications(session, principal)
    chosen = next((a for a in listed if application in (a.id, a.key)), None)
    params = await applications.definitions(session, chosen.id) if chosen else []
    named = next((d for d in params if d.key == param), None)
    return Choice(principal.holds(APPLICATIONS_READ), listed, chosen, params, named)


def spread_of(point: ParamBucket, bucket: b.Bucket) -> charts.Spread:
    label, short = bucket_names(point.start, bucket)
    stated = (point.min, point.p5, point.p25, point.p50, point.p75, point.p95, point.max)
    values = tuple(value for value in stated if value is not None)
    return charts.Spread(label, short, values or None, point.drifted)


def number_chart(found: ParamAnalytics) -> charts.Bands:
    return charts.bands([spread_of(point, found.bucket) for point in found.buckets])


def values_chart(found: ParamAnalytics) -> charts.Stacks:
    tallies = []
    for point in found.buckets:
        label, short = bucket_names(point.start, found.bucket)
        values = [(item.value or "null", item.count) for item in point.values or []]
        tallies.append(charts.Tallies(label, short, values, point.other or 0, point.drifted))
    return charts.stacks(tallies)


def counts_chart(found: ParamAnalytics) -> charts.Columns:
    """A json param's analytics are its counts alone."""
    return charts.columns(
        [charts.Point(*bucket_names(p.start, found.bucket), p.count) for p in found.buckets]
    )


def analytics_chart(found: ParamAnalytics) -> charts.Bands | charts.Columns | charts.Stacks:
    """Bands for numbers, stacked values for the rest; a json param's counts alone."""
    kind = found.param.type.value
    if kind in NUMBERS:
        return number_chart(found)
    if kind == "json":
        return counts_chart(found)
    return values_chart(found)


def drift_text(point: ParamBucket) -> str:
    if point.drift is not None:
        return f"drift {point.drift:.2f}"
    return "the median moved where the bucket before had no spread"


# The analytics page's periods, in days back from now (None: the whole log). By default the
# last 14 days: a param's whole history reads every record of its application, 600 ms for
# 233,000 of them (docs/NOTES.md, session 11); a date filter in the URL decides instead.
PERIODS: dict[str, int | None] = {"7d": 7, "14d": 14, "30d": 30, "90d": 90, "all": None}
DEFAULT_PERIOD = "14d"


def analytics_filters(filters: Filters, period: str) -> Filters:
    """The filters, with the period's start where they give no dates of their own."""
    if period not in PERIODS:
        raise q.invalid("period", f"must be one of {', '.join(PERIODS)}.")
    days = PERIODS[period]
    if days is None or filters.values["date_from"] or filters.values["date_to"]:
        return filters
    return Filters({**filters.values, "date_from": clock.now() - timedelta(days=days)})


@router.get("/analytics", response_class=HTMLResponse)
async def analytics_page(
    request: Request,
    principal: StatsReader,
    filters: Annotated[Filters, Depends(record_filters)],
    session: ReadSession,
    tz: ViewerZone,
    bucket: ChosenBucket,
    application: Annotated[str, Query(max_length=100)] = "",
    param: Annotated[str, Query(max_length=100)] = "",
    drift_threshold: Annotated[float, Query(ge=0, allow_inf_nan=False)] = 0.3,
    period: Annotated[str, Query(max_length=8)] = DEFAULT_PERIOD,
) -> HTMLResponse:
    filters = analytics_filters(filters, period)
    chosen = await choice(session, principal, application, param)
    found, refusal = None, None
    if chosen.ready(application, param):
        try:
            found = await analytics.param_analytics(
                session,
                filters.query(principal.visibility),
                application,
                param,
                bucket=bucket,
                tz_name=tz,
                limit=TOP,
                drift_threshold=drift_threshold,
            )
        except AppError as error:  # the API's refusal (a sensitive param, ...), on the page
            refusal = error
    view = view_filters(request)
    return render(
        request,
        "analytics.html",
        principal,
        status_code=refusal.status_code if refusal else 200,
        choice=chosen,
        application=application,
        param=param,
        drift_threshold=drift_threshold,
        period=period,
        periods=PERIODS,
        dated=bool(view["date_from"] or view["date_to"]),
        chosen_bucket=bucket.value if bucket else "",
        buckets=[choice.value for choice in b.Bucket],
        filters=active_filters(view),
        kept=carried(view, *FILTERS),
        found=found,
        chart=found and analytics_chart(found),
        kind=found and found.param.type.value,
        refusal=refusal,
        drift_text=drift_text,
        spread_of=spread_of,
        bucket_names=bucket_names,
    )

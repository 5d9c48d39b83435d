"""The stats page and the parameter analytics page: what the statistics API answers, drawn.

Both call the services the API routes call (records/stats: rollups keep them fast), with the
record list's filters from the URL and the viewer's zone from the `tz` cookie (static/app.js
sets it). Every bar of the stats page links into /records, filtered to what it counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from audittrail import clock
from audittrail.access import APPLICATIONS_READ, RECORDS_READ, Principal, StatsReader
from audittrail.applications import service as applications
from audittrail.db.models import Application, ParamDefinition
from audittrail.deps import ReadSession
from audittrail.errors import AppError, Unprocessable
from audittrail.records import query as q
from audittrail.records.filters import Filters, record_filters
from audittrail.records.stats import analytics, service
from audittrail.records.stats import buckets as b
from audittrail.records.stats.schemas import ParamAnalytics, ParamBucket, SeriesPoint, Top
from audittrail.web import charts
from audittrail.web.records_pages import FILTERS, VIEW_ONLY, view_filters, visible_applications
from audittrail.web.templating import iso, query_string, render

router = APIRouter(include_in_schema=False)

TOP = 10
NUMBERS = frozenset({"integer", "number"})
FILTER_NAMES = {
    "search": "Search",
    "event_types": "Event types",
    "categories": "Categories",
    "actors": "Actors",
    "severities": "Severities",
    "entity_type": "Entity type",
    "entity_id": "Entity id",
    "date_from": "From",
    "date_to": "To",
    "application_id": "Application",
    "application_key": "Application",
    "param_filters": "Param filters",
    "metadata": "Metadata",
}


def viewer_zone(request: Request) -> str:
    """The viewer's zone, from the cookie static/app.js sets (URI-encoded), if the stats accept
    it; else UTC."""
    name = unquote(request.cookies.get("tz", ""))
    try:
        b.zone(name)
    except Unprocessable:
        return "UTC"
    return name


def chosen_bucket(bucket: Annotated[str, Query(max_length=16)] = "") -> b.Bucket | None:
    """The bucket a form chose; empty: the API's choice for the range."""
    if not bucket:
        return None
    try:
        return b.Bucket(bucket)
    except ValueError:
        choices = ", ".join(choice.value for choice in b.Bucket)
        raise q.invalid("bucket", f"must be one of {choices}.") from None


ViewerZone = Annotated[str, Depends(viewer_zone)]
ChosenBucket = Annotated[b.Bucket | None, Depends(chosen_bucket)]


@dataclass(frozen=True)
class RecordsLinks:
    """Links into /records: the page's own filters, with the one a bar stands for."""

    view: dict[str, Any]
    query: q.RecordQuery
    tz: ZoneInfo

    def to(self, **changes: Any) -> str:
        return "/records?" + query_string({**self.view, **changes})

    def within(self, start: datetime, end: datetime, **changes: Any) -> str:
        """The records of [start, end) that the page's own range holds too (the form of
        /records keeps that range "as linked" when other filters change)."""
        if self.query.date_from is not None:
            start = max(start, self.query.date_from)
        last = end - timedelta.resolution
        if self.query.date_to is not None:
            last = min(last, self.query.date_to)
        unset = dict.fromkeys(VIEW_ONLY, "")  # not a preset of the form's: the bar's range
        return self.to(**unset, date_from=iso(start), date_to=iso(last), **changes)

    def bucket(self, start: datetime, bucket: b.Bucket, **changes: Any) -> str:
        utc = start.astimezone(UTC)
        return self.within(utc, b.next_bucket(utc, bucket, self.tz), **changes)


def records_links(
    view: dict[str, Any], principal: Principal, query: q.RecordQuery, tz: str
) -> RecordsLinks | None:
    """Links for a principal who may open /records; None (bars without links) for others."""
    if not principal.holds(RECORDS_READ):
        return None
    return RecordsLinks(view, query, b.zone(tz))


def bucket_names(start: datetime, bucket: b.Bucket) -> tuple[str, str]:
    """A bucket's full name and its short one, for the axis."""
    if bucket is b.Bucket.HOUR:
        return start.strftime("%Y-%m-%d %H:%M"), start.strftime("%m-%d %H:%M")
    if bucket is b.Bucket.MONTH:
        return start.strftime("%B %Y"), start.strftime("%Y-%m")
    day = start.date().isoformat()
    if bucket is b.Bucket.WEEK:
        return f"week of {day}", start.strftime("%m-%d")
    return f"{start:%a} {day}", start.strftime("%m-%d")


def series_chart(
    series: list[SeriesPoint], bucket: b.Bucket, links: RecordsLinks | None
) -> charts.Columns:
    points = []
    for point in series:
        label, short = bucket_names(point.start, bucket)
        href = links.bucket(point.start, bucket) if links and point.count else None
        points.append(charts.Point(label, short, point.count, href))
    return charts.columns(points)


def top_bars(
    found: Top,
    empty: str,
    links: RecordsLinks | None,
    name: str,
    day: datetime | None = None,
) -> list[charts.Share]:
    """The most frequent values as bars, each linking to its records: the filter ``name`` set to
    the value (within the ``day`` that starts then, if one). Records without a value have no
    filter, and no link."""

    def href(value: str | None) -> str | None:
        # A value with a comma (or spaces at its ends) has no filter of its own: the list
        # filters split on commas and trim.
        if links is None or value is None or "," in value or value != value.strip():
            return None
        if day is None:
            return links.to(**{name: value})
        return links.bucket(day, b.Bucket.DAY, **{name: value})

    return charts.shares([(i.value or empty, i.count, href(i.value)) for i in found.items])


def active_filters(view: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The filters in force, as (label, value, name)."""
    return [(FILTER_NAMES[name], value, name) for name, value in carried(view, *FILTER_NAMES)]


def carried(view: dict[str, Any], *names: str) -> list[tuple[str, str]]:
    """The view's values as (name, value) pairs, for the hidden inputs of a form that keeps
    them; a value left empty is no filter, and is not sent."""
    pairs = []
    for name in names:
        values = view[name] if isinstance(view[name], list) else [view[name]]
        pairs += [(name, value) for value in values if value]
    return pairs


@router.get("/stats", response_class=HTMLResponse)
async def stats_page(
    request: Request,
    principal: StatsReader,
    filters: Annotated[Filters, Depends(record_filters)],
    session: ReadSession,
    tz: ViewerZone,
    bucket: ChosenBucket,
) -> HTMLResponse:
    query = filters.query(principal.visibility)
    found = await service.statistics(session, query, bucket=bucket, tz_name=tz, limit=TOP)
    view = view_filters(request)
    links = records_links(view, principal, query, tz)
    busiest = found.busiest_day
    return render(
        request,
        "stats.html",
        principal,
        stats=found,
        filters=active_filters(view),
        kept=carried(view, *FILTERS, *VIEW_ONLY),
        records_query=query_string(view),
        chosen_bucket=bucket.value if bucket else "",
        buckets=[choice.value for choice in b.Bucket],
        series=series_chart(found.series, found.bucket, links),
        actors=top_bars(found.top.actors, "(no actor)", links, "actors"),
        event_types=top_bars(found.top.event_types, "(none)", links, "event_types"),
        heat_map=charts.heat_map(found.heat_map),
        busiest=busiest
        and top_bars(busiest.top_event_types, "(none)", links, "event_types", busiest.start),
        busiest_link=busiest and links and links.bucket(busiest.start, b.Bucket.DAY),
    )


# Parameter analytics.


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

"""The stats page: what the statistics API answers, drawn.

It calls the service the API route calls (records/stats: rollups keep it fast), with the record
list's filters from the URL and the viewer's zone from the `tz` cookie (static/app.js sets it).
Every bar links into /records, filtered to what it counts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from audittrail.access import RECORDS_READ, Principal, StatsReader
from audittrail.log.replica import FromReplica
from audittrail.records import query as q
from audittrail.records.filters import Filters, record_filters
from audittrail.records.stats import buckets as b
from audittrail.records.stats import service
from audittrail.records.stats.schemas import Top
from audittrail.web import charts
from audittrail.web.templating import query_string, render
from audittrail.web.views import (
    FILTERS,
    TOP,
    VIEW_ONLY,
    ChosenBucket,
    RecordsLinks,
    ViewerZone,
    active_filters,
    carried,
    series_chart,
    view_filters,
)

router = APIRouter(include_in_schema=False)


def records_links(
    view: dict[str, Any], principal: Principal, query: q.RecordQuery, tz: str
) -> RecordsLinks | None:
    """Links for a principal who may open /records; None (bars without links) for others."""
    if not principal.holds(RECORDS_READ):
        return None
    return RecordsLinks(view, query, b.zone(tz))


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


@router.get("/stats", response_class=HTMLResponse)
async def stats_page(
    request: Request,
    principal: StatsReader,
    filters: Annotated[Filters, Depends(record_filters)],
    reads: FromReplica,
    tz: ViewerZone,
    bucket: ChosenBucket,
) -> HTMLResponse:
    query = filters.query(principal.visibility)
    found = await reads.answer(service.statistics, query, bucket=bucket, tz_name=tz, limit=TOP)
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

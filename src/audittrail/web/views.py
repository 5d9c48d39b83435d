"""What several pages share: the view's filters from the URL, links into /records, the viewer's
zone, the applications a reader may pick, and the buckets counts are drawn in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from fastapi import Depends, Query, Request

from audittrail.access import APPLICATIONS_READ, Principal
from audittrail.applications import service as applications
from audittrail.db.models import Application
from audittrail.deps import ReadSession
from audittrail.errors import Unprocessable
from audittrail.records import query as q
from audittrail.records.stats import buckets as b
from audittrail.records.stats.schemas import SeriesPoint
from audittrail.web import charts
from audittrail.web.templating import iso, query_string

# The filters a page carries in its URL, as the API names them: a link to a page is a view.
FILTERS = (
    "search",
    "event_types",
    "categories",
    "actors",
    "severities",
    "entity_type",
    "entity_id",
    "date_from",
    "date_to",
    "application_id",
    "application_key",
    "param_filters",
    "metadata",
    "registered_params_only",
    "sort_by",
    "sort_dir",
)
# Where the date fields of the form came from (static/app.js turns them into date_from/date_to).
VIEW_ONLY = ("preset", "from_day", "to_day")
# The filters a page of counts (stats, analytics) says it counts under, by their labels.
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
# The most frequent values a page of counts shows.
TOP = 10


def view_filters(request: Request) -> dict[str, Any]:
    """The page's filters as given, for the form, the links and the export of this view."""
    params = request.query_params
    view: dict[str, Any] = {name: params.get(name, "") for name in FILTERS + VIEW_ONLY}
    view["metadata"] = params.getlist("metadata")
    return view


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


async def visible_applications(
    session: ReadSession, principal: Principal, *, include_archived: bool = False
) -> list[Application]:
    """The applications a reader may pick from (none for one who may not list them)."""
    if not principal.holds(APPLICATIONS_READ):
        return []
    found, _ = await applications.page(
        session, principal.visibility, include_archived=include_archived, offset=0, limit=200
    )
    return found


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

"""The records page: the record list's filters, a dense table, "load more" by cursor, live tail."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from audittrail.access import RecordsReader
from audittrail.log.append import AppendedRecord
from audittrail.log.replica import FromReplica
from audittrail.pagination import Pages
from audittrail.records import query as q
from audittrail.records import service as records
from audittrail.records.filters import record_query
from audittrail.records.routes import responses
from audittrail.records.schemas import Severity
from audittrail.web.templating import query_string, render, render_fragment
from audittrail.web.views import FILTERS, view_filters, visible_applications

router = APIRouter(include_in_schema=False)

NEXT_CURSOR = "X-Next-Cursor"
LAST_CURSOR = "X-Last-Cursor"


def tail_cursor(query: q.RecordQuery, newest: AppendedRecord | None) -> str:
    """Where the live tail starts: after the newest record shown, oldest first (the rows
    route's order then); empty: from the first record of the view (none was shown)."""
    if newest is None or query.cursor is not None:
        return ""
    return records.cursor_after(newest, replace(query, sort_dir=q.SortDir.ASC))


@router.get("/records", response_class=HTMLResponse)
async def records_page(
    request: Request,
    principal: RecordsReader,
    query: Annotated[q.RecordQuery, Depends(record_query)],
    pages: Pages,
    reads: FromReplica,
) -> HTMLResponse:
    found = await reads.answer(
        records.search, query, offset=0, limit=pages.page_size, counted=q.counted_by_head(query)
    )
    shown = responses(found)
    view = view_filters(request)
    return render(
        request,
        "records.html",
        principal,
        records=shown,
        next_cursor=found.next_cursor,
        tail_cursor=tail_cursor(query, found.records[0] if found.records else None),
        total=found.total,
        page_size=pages.page_size,
        view=view,
        # The view's filters alone (not how the form chose them), for its links and exports.
        filters=query_string({name: view[name] for name in FILTERS}),
        # Archived ones too: their records are still there to be found.
        applications=await visible_applications(reads.session, principal, include_archived=True),
        severities=[severity.value for severity in Severity],
        sort_fields=[field.value for field in q.SortField],
    )


@router.get("/records/rows", response_class=HTMLResponse)
async def record_rows(
    _: RecordsReader,
    query: Annotated[q.RecordQuery, Depends(record_query)],
    pages: Pages,
    reads: FromReplica,
) -> HTMLResponse:
    """The rows of a page of the view, for "load more" and the live tail (not counted: a count
    can cost more than the page). The next page's cursor, if more follow, in X-Next-Cursor; the
    cursor after the last row, if any, in X-Last-Cursor (where the tail goes on from)."""
    found = await reads.answer(
        records.search, query, offset=0, limit=pages.page_size, counted=False
    )
    headers = {}
    if found.next_cursor:
        headers[NEXT_CURSOR] = found.next_cursor
    if found.records:
        headers[LAST_CURSOR] = records.cursor_after(found.records[-1], query)
    rows = render_fragment("record_rows.html", records=responses(found))
    return HTMLResponse(rows, headers=headers)

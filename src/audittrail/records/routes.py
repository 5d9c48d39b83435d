"""HTTP routes for records: list with filters, get one (creating them: records/ingest.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from audittrail.access import RecordsReader
from audittrail.applications.service import ApplicationSummary
from audittrail.db.models import Application
from audittrail.deps import ReadSession
from audittrail.log.append import AppendedRecord
from audittrail.pagination import Pages
from audittrail.records import query as q
from audittrail.records import search as full_text
from audittrail.records import service
from audittrail.records.schemas import RecordPage, RecordResponse, Severity
from audittrail.schemas import UtcDatetime

router = APIRouter(prefix="/api/audit-trail/records", tags=["records"])


def to_response(
    record: AppendedRecord,
    visible_params: set[str] | None = None,
    summaries: dict[str, ApplicationSummary] | None = None,
) -> RecordResponse:
    """A stored record as the list and get routes answer it (the intake routes write theirs
    directly: records/answers.py). Built without validation: every value comes from storage.
    ``summaries``: applications already summarised, by id, for a page that names one
    application many times."""
    params = record.params
    if visible_params is not None:
        params = {key: value for key, value in params.items() if key in visible_params}
    return RecordResponse.model_construct(
        id=record.id,
        event_type=record.event_type,
        category=record.category,
        summary=record.summary,
        created_at=record.created_at,
        actor=record.actor,
        application_id=record.application_id,
        application_key=record.application_key,
        application=_summary(record.application, {} if summaries is None else summaries),
        entity_type=record.entity_type,
        entity_id=record.entity_id,
        severity=Severity(record.severity),
        params=params,
        metadata=record.metadata,
        ip_address=record.ip_address,
    )


def _summary(
    application: Application | None, summaries: dict[str, ApplicationSummary]
) -> ApplicationSummary | None:
    if application is None:
        return None
    if application.id not in summaries:
        summaries[application.id] = ApplicationSummary.model_validate(application)
    return summaries[application.id]


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def record_query(
    principal: RecordsReader,
    search: Annotated[
        str | None,
        Query(
            max_length=256,
            description="Full text over summary, event type, category, actor, entity, "
            'application key and param values: words match whole, `refund*` by prefix, `"in '
            'order"` as a phrase, `-word` excludes, all terms must match; `INV-1042` finds the '
            "identifier whole and by its parts.",
            examples=['refund* -test "card declined"'],
        ),
    ] = None,
    event_types: Annotated[str | None, Query(description="Comma-separated.")] = None,
    categories: Annotated[str | None, Query(description="Comma-separated.")] = None,
    actors: Annotated[str | None, Query(description="Comma-separated.")] = None,
    severities: Annotated[str | None, Query(description="Comma-separated.")] = None,
    entity_type: Annotated[str | None, Query(description="Exact.")] = None,
    entity_id: Annotated[str | None, Query(description="Exact.")] = None,
    date_from: Annotated[UtcDatetime | None, Query(description="created_at at or after.")] = None,
    date_to: Annotated[UtcDatetime | None, Query(description="created_at at or before.")] = None,
    application_id: Annotated[str | None, Query()] = None,
    application_key: Annotated[str | None, Query()] = None,
    registered_params_only: Annotated[
        bool,
        Query(description="Only params the record's application has registered count and show."),
    ] = False,
    param_filters: Annotated[
        str | None,
        Query(
            description='A JSON array of {"key", "operator", "value"}; operators eq, ne, gt, gte, '
            "lt, lte, in, contains, exists.",
            examples=['[{"key": "amount", "operator": "gte", "value": 100}]'],
        ),
    ] = None,
    metadata: Annotated[
        list[str] | None,
        Query(
            description="key:value, repeatable: the metadata's top-level key has this value (its "
            "text, or the JSON number, true, false or null it spells).",
            examples=[["region:eu"]],
        ),
    ] = None,
    sort_by: Annotated[q.SortField, Query()] = q.SortField.CREATED_AT,
    sort_dir: Annotated[q.SortDir, Query()] = q.SortDir.DESC,
    cursor: Annotated[
        str | None,
        Query(description="next_cursor of the previous page: keyset paging; page is ignored."),
    ] = None,
) -> q.RecordQuery:
    return q.RecordQuery(
        visibility=principal.visibility,
        search=full_text.parse(search),
        event_types=q.split_list("event_types", event_types),
        categories=q.split_list("categories", categories),
        actors=q.split_list("actors", actors),
        severities=q.parse_severities(severities),
        entity_type=entity_type,
        entity_id=entity_id,
        date_from=_as_utc(date_from),
        date_to=_as_utc(date_to),
        application_id=application_id,
        application_key=application_key,
        registered_params_only=registered_params_only,
        param_filters=q.parse_param_filters(param_filters),
        metadata=q.parse_metadata(metadata),
        sort_by=sort_by,
        sort_dir=sort_dir,
        cursor=q.Cursor.decode(cursor) if cursor else None,
    )


@router.get(
    "",
    response_model=RecordPage,
    summary="List audit records",
    description="Filters combine with AND; comma-separated lists match any of their values.",
)
async def list_records(
    query: Annotated[q.RecordQuery, Depends(record_query)],
    pages: Pages,
    session: ReadSession,
) -> RecordPage:
    found = await service.search(session, query, offset=pages.offset, limit=pages.page_size)
    visible = found.visible_params
    summaries: dict[str, ApplicationSummary] = {}
    records = [
        to_response(
            r, None if visible is None else visible.get(r.application_id or "", set()), summaries
        )
        for r in found.records
    ]
    return RecordPage(records=records, next_cursor=found.next_cursor, **pages.meta(found.total))


@router.get("/{record_uuid}", response_model=RecordResponse, summary="Get an audit record")
async def get_record(
    record_uuid: str, principal: RecordsReader, session: ReadSession
) -> RecordResponse:
    return to_response(await service.get(session, record_uuid, principal.visibility))

"""The record list's filters as query parameters: one dependency for every route that reads
records through them (the list, statistics, parameter analytics)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query

from audittrail.access import RecordsReader, Visibility
from audittrail.records import query as q
from audittrail.records import search as full_text
from audittrail.schemas import UtcDatetime


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Filters:
    """A request's filters, parsed: a RecordQuery once the reader, and so its visibility, is
    known (each route requires its own scope)."""

    values: dict[str, Any]

    def query(self, visibility: Visibility, **more: Any) -> q.RecordQuery:
        return q.RecordQuery(visibility=visibility, **self.values, **more)


def record_filters(
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
) -> Filters:
    return Filters(
        dict(
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
        )
    )


def record_query(
    principal: RecordsReader,
    filters: Annotated[Filters, Depends(record_filters)],
    sort_by: Annotated[q.SortField, Query()] = q.SortField.CREATED_AT,
    sort_dir: Annotated[q.SortDir, Query()] = q.SortDir.DESC,
    cursor: Annotated[
        str | None,
        Query(description="next_cursor of the previous page: keyset paging; page is ignored."),
    ] = None,
) -> q.RecordQuery:
    return filters.query(
        principal.visibility,
        sort_by=sort_by,
        sort_dir=sort_dir,
        cursor=q.Cursor.decode(cursor) if cursor else None,
    )

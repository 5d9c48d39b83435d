"""HTTP routes for records: list with filters, get one (creating them: records/ingest.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from audittrail.access import RecordsReader
from audittrail.applications.service import ApplicationSummary
from audittrail.db.models import Application
from audittrail.deps import ReadSession
from audittrail.log.append import AppendedRecord
from audittrail.log.replica import FromReplica
from audittrail.pagination import Pages
from audittrail.records import query as q
from audittrail.records import service
from audittrail.records.filters import record_query
from audittrail.records.schemas import RecordPage, RecordResponse, Severity

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


@router.get(
    "",
    response_model=RecordPage,
    summary="List audit records",
    description="Filters combine with AND; comma-separated lists match any of their values.",
)
async def list_records(
    query: Annotated[q.RecordQuery, Depends(record_query)],
    pages: Pages,
    reads: FromReplica,
) -> RecordPage:
    found = await reads.answer(service.search, query, offset=pages.offset, limit=pages.page_size)
    assert found.total is not None  # counted, as searches are unless told otherwise
    return RecordPage(
        records=responses(found), next_cursor=found.next_cursor, **pages.meta(found.total)
    )


def responses(found: service.RecordList) -> list[RecordResponse]:
    """A page of found records as the list answers them (the viewer's rows too), each showing
    only its application's registered params where the search asked for those alone."""
    visible = found.visible_params
    summaries: dict[str, ApplicationSummary] = {}
    return [
        to_response(
            r, None if visible is None else visible.get(r.application_id or "", set()), summaries
        )
        for r in found.records
    ]


@router.get("/{record_uuid}", response_model=RecordResponse, summary="Get an audit record")
async def get_record(
    record_uuid: str, principal: RecordsReader, session: ReadSession
) -> RecordResponse:
    """From the primary, never a replica: the get right after a create must find it (a
    primary-key read, as cheap there as anywhere)."""
    return to_response(await service.get(session, record_uuid, principal.visibility))

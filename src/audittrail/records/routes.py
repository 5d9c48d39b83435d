"""HTTP routes for records: create one by hand, list with filters, get one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response, status
from fastapi.routing import APIRoute

from audittrail.applications.schemas import ApplicationSummary
from audittrail.auth.dependencies import Reader, credentials_of, touch_later
from audittrail.auth.principal import WRITER
from audittrail.db.models import Application, Record
from audittrail.deps import ReadSession, client_ip
from audittrail.pagination import Pages
from audittrail.records import answers, batch, bodies, idempotency, limits, service
from audittrail.records import query as q
from audittrail.records.bodies import IDEMPOTENCY_KEY_HEADER
from audittrail.records.intake import Checked, Intake, Registry, commit_checked
from audittrail.records.schemas import (
    BatchItem,
    BatchResponse,
    RecordCreate,
    RecordPage,
    RecordResponse,
    Severity,
)

router = APIRouter(prefix="/api/audit-trail/records", tags=["records"])


def to_response(
    record: Record,
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
        metadata=record.metadata_,
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


async def writer_intake(request: Request, background: BackgroundTasks) -> Intake:
    """The request's checks, its caller authenticated as a writer before its body is read.

    No database session is held by the request: one held while waiting for the group commit
    would starve the writer of connections under load.
    """
    registry: Registry = request.app.state.registry
    intake = Intake(registry, await credentials_of(request))
    touch_later(background, registry.database, await intake.authenticate(WRITER))
    return intake


def created(
    body: bytes,
    replayed: list[bool],
    background: BackgroundTasks,
    headers: dict[str, str] | None = None,
) -> Response:
    """201 with the answer (records/answers.py); 200 with Idempotent-Replayed if every record
    was a replay."""
    headers = dict(headers or {})
    status_code = status.HTTP_201_CREATED
    if all(replayed):
        status_code = status.HTTP_200_OK
        headers["Idempotent-Replayed"] = "true"
    return Response(
        body,
        status_code=status_code,
        headers=headers,
        media_type="application/json",
        background=background,
    )


# The intake routes read their request themselves (records/bodies.py); these document what
# FastAPI would have derived from body, header and security parameters.
_SECURITY: list[dict[str, list[str]]] = [
    {"HTTPBearer": []},
    {"APIKeyHeader": []},
    {"APIKeyCookie": []},
]
_RECORD_SCHEMA = RecordCreate.model_json_schema(ref_template="#/components/schemas/{model}")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RecordResponse,
    summary="Create Manual Audit Record",
    description="Appends a record to the log. The actor is the authenticated principal and the "
    "IP address the client's; params are checked against the application's definitions. "
    "A 201 means the record is committed. params and metadata are JSON objects of at most "
    "64 KiB serialized (413 past that) and 10 levels of nesting (422).",
    openapi_extra={
        "security": _SECURITY,
        "parameters": [
            {
                "name": IDEMPOTENCY_KEY_HEADER,
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "Retrying with the same key and body returns the first record "
                "(200, Idempotent-Replayed: true); the same key with another body is a 409. "
                "Keys are kept for good, per application (per credential for records without "
                "one).",
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _RECORD_SCHEMA}},
        },
    },
)
async def create_record(request: Request) -> Response:
    background = BackgroundTasks()
    intake = await writer_intake(request, background)
    body, idempotency_key = bodies.single_record(
        await request.body(), request.headers.get(IDEMPOTENCY_KEY_HEADER)
    )
    ip = await client_ip(request)

    async def check() -> Checked:
        principal = intake.principal
        new = await service.prepare(intake, body, principal=principal, ip=ip)
        limits.check_text(IDEMPOTENCY_KEY_HEADER, idempotency_key, location="header")
        claim = idempotency.claim(
            idempotency_key, new, body, principal, f"header.{IDEMPOTENCY_KEY_HEADER}"
        )
        return [new], [claim]

    written = await commit_checked(intake, request.app.state.writer, check, WRITER)
    [record] = written.records
    location = {"Location": f"{router.prefix}/{record.id}"}
    return created(answers.record_json(record), written.replayed, background, location)


@router.post(
    "/batch",
    status_code=status.HTTP_201_CREATED,
    response_model=BatchResponse,
    summary="Create up to 1,000 records at once",
    description="A JSON array, or NDJSON with `Content-Type: application/x-ndjson`, of records in "
    "the single-record shape, each with an optional `idempotency_key`. All or nothing: a 422 "
    "names each bad item by index and nothing is stored; 201 returns the records in order "
    "(200 with Idempotent-Replayed: true if every one was a replay). Over 1,000: 413.",
    openapi_extra={
        "security": _SECURITY,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "maxItems": batch.MAX_BATCH,
                        "items": BatchItem.model_json_schema(
                            ref_template="#/components/schemas/{model}"
                        ),
                    }
                },
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        },
    },
)
async def create_batch(request: Request) -> Response:
    background = BackgroundTasks()
    intake = await writer_intake(request, background)
    items = batch.parse(await request.body(), request.headers.get("content-type", ""))
    ip = await client_ip(request)

    async def check() -> Checked:
        return await batch.prepare_all(intake, items, principal=intake.principal, ip=ip)

    written = await commit_checked(intake, request.app.state.writer, check, WRITER)
    return created(answers.batch_json(written.records), written.replayed, background)


def intake_routes() -> list[APIRoute]:
    """The routes that read their own request, which the app serves directly
    (direct_routes.py): what is posted most."""
    intake = (create_record, create_batch)
    return [r for r in router.routes if isinstance(r, APIRoute) and r.endpoint in intake]


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def record_query(
    search: Annotated[str | None, Query(max_length=256, description="Free text.")] = None,
    event_types: Annotated[str | None, Query(description="Comma-separated.")] = None,
    categories: Annotated[str | None, Query(description="Comma-separated.")] = None,
    actors: Annotated[str | None, Query(description="Comma-separated.")] = None,
    severities: Annotated[str | None, Query(description="Comma-separated.")] = None,
    entity_type: Annotated[str | None, Query(description="Exact.")] = None,
    entity_id: Annotated[str | None, Query(description="Exact.")] = None,
    date_from: Annotated[datetime | None, Query(description="created_at at or after.")] = None,
    date_to: Annotated[datetime | None, Query(description="created_at at or before.")] = None,
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
    sort_by: Annotated[q.SortField, Query()] = q.SortField.CREATED_AT,
    sort_dir: Annotated[q.SortDir, Query()] = q.SortDir.DESC,
    cursor: Annotated[
        str | None,
        Query(description="next_cursor of the previous page: keyset paging; page is ignored."),
    ] = None,
) -> q.RecordQuery:
    return q.RecordQuery(
        search=search or None,
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
    _: Reader,
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
async def get_record(record_uuid: str, _: Reader, session: ReadSession) -> RecordResponse:
    return to_response(await service.get(session, record_uuid))

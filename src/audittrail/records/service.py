"""Manual records: resolve the application, check params and limits; search and get."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.applications import params as param_rules
from audittrail.applications import repository as applications_repo
from audittrail.applications.schemas import ParamType
from audittrail.auth.principal import Principal
from audittrail.db.models import Application, ParamDefinition, Record
from audittrail.errors import FieldProblem, NotFound, Unprocessable
from audittrail.records import limits
from audittrail.records import query as q
from audittrail.records import repository as repo
from audittrail.records.schemas import RecordCreate
from audittrail.records.sequencer import NewRecord


class ApplicationLookup(Protocol):
    """Where records find their application and its param definitions (records/intake.py)."""

    async def by_id(self, application_id: str) -> Application | None: ...

    async def by_key(self, key: str) -> Application | None: ...

    async def definitions(self, application_id: str) -> list[ParamDefinition]: ...


async def prepare(
    lookup: ApplicationLookup, request: RecordCreate, *, principal: Principal, ip: str | None
) -> NewRecord:
    """Check a manual record against its application; the record, ready for the writer."""
    for name in (
        "event_type",
        "summary",
        "category",
        "application_id",
        "entity_type",
        "entity_id",
    ):
        limits.check_text(name, getattr(request, name))
    limits.check_json("params", request.params)
    limits.check_json("metadata", request.metadata)
    application = await resolve_application(lookup, request.application_id, request.application_key)
    params = request.params
    if application is not None:
        definitions = await lookup.definitions(application.id)
        params, problems = param_rules.validate(
            definitions, request.params, allow_unknown=application.allow_unknown_params
        )
        if problems:
            raise Unprocessable(
                f"params do not fit application {application.key}.",
                code="PARAM_VALIDATION_FAILED",
                details=problems,
            )
    return NewRecord(
        event_type=request.event_type,
        summary=request.summary,
        source="manual",
        actor=principal.actor,
        category=request.category,
        severity=request.severity.value,
        application=application,
        entity_type=request.entity_type,
        entity_id=request.entity_id,
        params=params,
        metadata=request.metadata,
        ip_address=ip,
    )


async def resolve_application(
    lookup: ApplicationLookup, application_id: str | None, application_key: str | None
) -> Application | None:
    """The application a record names by id, key or both (which must agree); None if neither."""
    by_id = by_key = None
    if application_id is not None:
        by_id = await lookup.by_id(application_id)
        if by_id is None:
            raise _unknown("application_id", application_id)
    if application_key is not None:
        by_key = await lookup.by_key(application_key)
        if by_key is None:
            raise _unknown("application_key", application_key)
    if by_id is not None and by_key is not None and by_id.id != by_key.id:
        problem = FieldProblem(
            "body.application_key",
            "APPLICATION_MISMATCH",
            "names another application than application_id.",
        )
        raise Unprocessable(
            "application_id and application_key name different applications.",
            code="APPLICATION_MISMATCH",
            details=[problem],
        )
    application = by_id or by_key
    if application is not None and application.archived_at is not None:
        problem = FieldProblem(
            "body.application_id" if by_id else "body.application_key",
            "APPLICATION_ARCHIVED",
            f"application {application.key} is archived.",
        )
        raise Unprocessable(
            f"Application {application.key} is archived and takes no new records.",
            code="APPLICATION_ARCHIVED",
            details=[problem],
        )
    return application


def _unknown(field: str, value: str) -> Unprocessable:
    problem = FieldProblem(f"body.{field}", "APPLICATION_NOT_FOUND", f"no application {value}.")
    return Unprocessable(
        f"{field} names no registered application.", code="APPLICATION_NOT_FOUND", details=[problem]
    )


async def get(session: AsyncSession, record_id: str) -> Record:
    record = await repo.by_id(session, record_id)
    if record is None:
        raise NotFound(f"No record {record_id}.", code="RECORD_NOT_FOUND")
    return record


@dataclass(frozen=True)
class RecordList:
    records: list[Record]
    total: int
    next_cursor: str | None
    # With registered_params_only: the registered param keys of each record's application.
    visible_params: dict[str, set[str]] | None


async def search(
    session: AsyncSession, query: q.RecordQuery, *, offset: int, limit: int
) -> RecordList:
    """Filter, sort and page records; params are compared by their registered type."""
    types: dict[str, ParamType] = {}
    filter_keys = {param_filter.key for param_filter in query.param_filters}
    if filter_keys and (query.application_id or query.application_key):
        application = await applications_repo.by_id_or_key(
            session, query.application_id or query.application_key or ""
        )
        if application is not None:
            types = await repo.param_types(session, application.id, filter_keys)
    records, total, more = await repo.page(
        session, query, offset=offset, limit=limit, param_types=types
    )
    next_cursor = None
    if more and records:
        last = records[-1]
        next_cursor = q.Cursor(
            query.sort_by, query.sort_dir, q.cursor_value(last, query.sort_by), last.seq
        ).encode()
    visible = None
    if query.registered_params_only:
        application_ids = {r.application_id for r in records if r.application_id}
        visible = await repo.registered_keys(session, application_ids)
    return RecordList(records, total, next_cursor, visible)

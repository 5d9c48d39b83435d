"""Manual records: check them against their application and commit them; search and get."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import search_words
from audittrail.access import Principal, Visibility
from audittrail.applications import service as applications
from audittrail.applications.service import ParamType
from audittrail.db.models import Application, ParamDefinition, Record
from audittrail.errors import AppError, FieldProblem, Forbidden, NotFound, Unprocessable
from audittrail.log.append import AppendedRecord, NewRecord
from audittrail.records import limits
from audittrail.records import query as q
from audittrail.records import repository as repo
from audittrail.records.idempotency import Claim
from audittrail.records.intake import Intake
from audittrail.records.schemas import RecordCreate
from audittrail.records.writer import GroupCommitWriter, RegistryChanged, Written

# How often a request is checked again when what it was checked against changed before commit.
CHECKS = 3
Checked = tuple[list[NewRecord], list[Claim | None]]


class ApplicationLookup(Protocol):
    """Where records find their application and its param definitions (records/intake.py)."""

    async def by_id(self, application_id: str) -> Application | None: ...

    async def by_key(self, key: str) -> Application | None: ...

    async def definitions(self, application_id: str) -> list[ParamDefinition]: ...


async def prepare(
    lookup: ApplicationLookup,
    request: RecordCreate,
    *,
    principal: Principal,
    ip: str | None,
    source: Literal["manual", "import"] = "manual",
) -> NewRecord:
    """Check a manual record against its application; the record, ready for the writer. Its
    actor is the principal's, its IP address the request's: never the body's. ``source``:
    "import" for records/imports.py's, so that no other writer passes a record off as imported."""
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
    await check_binding(lookup, principal, request.application_id, request.application_key)
    application = await resolve_application(lookup, request.application_id, request.application_key)
    params = request.params
    unsearchable: frozenset[str] = frozenset()
    if application is not None:
        definitions = await lookup.definitions(application.id)
        unsearchable = frozenset(d.key for d in definitions if d.sensitive)
        params, problems = applications.validate_params(
            definitions, request.params, allow_unknown=application.allow_unknown_params
        )
        if problems:
            raise Unprocessable(
                f"params do not fit application {application.key}.",
                code="PARAM_VALIDATION_FAILED",
                details=problems,
            )
    new = NewRecord(
        event_type=request.event_type,
        summary=request.summary,
        source=source,
        actor=principal.actor,
        category=request.category,
        severity=request.severity.value,
        application=application,
        entity_type=request.entity_type,
        entity_id=request.entity_id,
        params=params,
        metadata=request.metadata,
        ip_address=ip,
        unsearchable=unsearchable,
    )
    limits.check_leaf_size(new)
    new.words = search_words.of(new, unsearchable)  # here, not under the log's lock
    return new


async def check_binding(
    lookup: ApplicationLookup,
    principal: Principal,
    application_id: str | None,
    application_key: str | None,
) -> None:
    """403 unless a key bound to applications names one of them (by id, key or both): before
    the application is resolved, so that a bound key learns nothing of others' applications."""
    if principal.applications is None:
        return
    named: list[str | None] = []
    if application_id is not None:
        named.append(application_id)
    if application_key is not None:
        by_key = await lookup.by_key(application_key)
        named.append(by_key.id if by_key else None)
    if not named or not all(principal.may_name(application) for application in named):
        raise Forbidden(
            "This API key is bound to applications: its records must name one of them.",
            code="APPLICATION_NOT_ALLOWED",
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


async def ingest(
    intake: Intake, writer: GroupCommitWriter, check: Callable[[], Awaitable[Checked]]
) -> Written:
    """Check the records and commit them; checked again from the database before a refusal,
    and when what they were checked against changed before their commit. Refused at once
    while the service shuts down (the writer's `close`)."""
    writer.refuse_if_closing()
    for _ in range(CHECKS):
        try:
            records, claims = await check()
        except AppError:
            if not intake.used_kept:
                raise
            await intake.refresh()
            continue
        try:
            return await writer.submit(records, claims, registry_version=intake.version)
        except RegistryChanged:
            await intake.refresh()
    raise writer.unavailable(
        "REGISTRY_CHANGING",
        "Credentials or applications kept changing while this request was checked. "
        "Nothing was stored; retry shortly.",
    )


MASK = "[masked]"


async def get(session: AsyncSession, record_id: str, visibility: Visibility) -> AppendedRecord:
    """The record, as this reader may see it; 404 for one beyond its visibility."""
    return (await get_shown(session, record_id, visibility)).record


@dataclass(frozen=True)
class Shown:
    """A record as a reader may see it, and the keys of the params whose values it masked."""

    record: AppendedRecord
    masked: frozenset[str]


async def get_shown(session: AsyncSession, record_id: str, visibility: Visibility) -> Shown:
    """The record as `get` gives it, with what it masked: the one decision of what a reader
    sees (a page that rebuilds the record's leaf must know which values are not the real ones)."""
    record = await repo.by_id(session, record_id)
    if record is None or not visibility.allows(record.application_id):
        raise NotFound(f"No record {record_id}.", code="RECORD_NOT_FOUND")
    return (await _shown(session, [AppendedRecord.of(record)], visibility))[0]


async def shown(
    session: AsyncSession, records: list[AppendedRecord], visibility: Visibility
) -> list[AppendedRecord]:
    """The records with the values of sensitive params masked, unless the reader sees them.

    Every read of records answers through this (the log's own entries excepted: they are the
    hashed bytes, for holders of log:read).
    """
    return [found.record for found in await _shown(session, records, visibility)]


async def _shown(
    session: AsyncSession, records: list[AppendedRecord], visibility: Visibility
) -> list[Shown]:
    if visibility.sees_sensitive:
        return [Shown(record, frozenset()) for record in records]
    application_ids = {r.application_id for r in records if r.application_id}
    sensitive = await applications.sensitive_keys(session, application_ids)
    return [
        _masked(record, sensitive.get(record.application_id or "", set())) for record in records
    ]


async def _refuse_sensitive_filters(
    session: AsyncSession, keys: set[str], within: frozenset[str] | None
) -> None:
    """403 for a filter on a param registered as sensitive in any application the query reaches:
    comparing a masked value, a reader could find it out a character at a time."""
    sensitive = set().union(*(await applications.sensitive_keys(session, within)).values())
    refused = sorted(keys & sensitive)
    if refused:
        raise Forbidden(
            f"Only an admin may filter by a sensitive param: {', '.join(refused)}.",
            code="SENSITIVE_PARAM",
        )


def _masked(record: AppendedRecord, keys: set[str]) -> Shown:
    masked = frozenset(keys & record.params.keys())
    if not masked:
        return Shown(record, masked)
    return Shown(replace(record, params=masked_params(record.params, keys)), masked)


def masked_params(params: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    """The params with the values of these keys (the sensitive ones) masked."""
    return {key: MASK if key in keys else value for key, value in params.items()}


@dataclass(frozen=True)
class RecordList:
    records: list[AppendedRecord]
    total: int | None
    """None where the search was not to count them (a count can cost more than the page)."""
    next_cursor: str | None
    # With registered_params_only: the registered param keys of each record's application.
    visible_params: dict[str, set[str]] | None


async def filter_types(session: AsyncSession, query: q.RecordQuery) -> dict[str, ParamType]:
    """The registered types of the params the query filters on, where it names an application
    the reader sees (elsewhere a filter's value says its type); 403 for a filter on a param
    that is sensitive where the query reaches, unless the reader sees sensitive values."""
    types: dict[str, ParamType] = {}
    filter_keys = {param_filter.key for param_filter in query.param_filters}
    application = None
    if filter_keys and (query.application_id or query.application_key):
        application = await applications.find(
            session, query.application_id or query.application_key or ""
        )
        if application is not None and not query.visibility.allows(application.id):
            application = None  # as if it did not exist: its records are not found either
        if application is not None:
            types = await applications.param_types(session, application.id, filter_keys)
    if filter_keys and not query.visibility.sees_sensitive:
        within = query.visibility.application_ids
        if application is not None:
            within = frozenset({application.id})
        await _refuse_sensitive_filters(session, filter_keys, within)
    return types


def cursor_after(record: Record | AppendedRecord, query: q.RecordQuery) -> str:
    """The cursor of the records that follow this one in the query's order."""
    return q.Cursor(
        query.sort_by,
        query.sort_dir,
        q.cursor_value(functools.partial(getattr, record), query.sort_by),
        record.seq,
        record.created_at,
    ).encode()


async def search(
    session: AsyncSession,
    query: q.RecordQuery,
    *,
    offset: int,
    limit: int,
    counted: bool = True,
) -> RecordList:
    """Filter, sort and page records; params are compared by their registered type."""
    types = await filter_types(session, query)
    records, total, more = await repo.page(
        session, query, offset=offset, limit=limit, param_types=types, counted=counted
    )
    next_cursor = cursor_after(records[-1], query) if more and records else None
    visible = None
    if query.registered_params_only:
        application_ids = {r.application_id for r in records if r.application_id}
        visible = await applications.registered_keys(session, application_ids)
    appended = await shown(session, [AppendedRecord.of(r) for r in records], query.visibility)
    return RecordList(appended, total, next_cursor, visible)

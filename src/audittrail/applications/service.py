"""The rules for applications and their param definitions; every change leaves a system record.

Other domains use applications through this module alone: the look-ups, the param check and the
types below are what records need of them.
"""

from __future__ import annotations

import colorsys
import hashlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock
from audittrail.access import Visibility
from audittrail.applications import repository as repo
from audittrail.applications.params import format_datetime
from audittrail.applications.params import validate as validate_params
from audittrail.applications.schemas import (
    KEY_PATTERN,
    ApplicationCreate,
    ApplicationSummary,
    ApplicationUpdate,
    ParamDefinitionCreate,
    ParamDefinitionUpdate,
    ParamType,
)
from audittrail.db.models import Application, ParamDefinition
from audittrail.errors import Conflict, FieldProblem, Forbidden, NotFound, Unprocessable
from audittrail.log import head as log_head
from audittrail.log import search_index, system

APPLICATION = "application"
PARAM = "param"
__all__ = ["KEY_PATTERN", "ApplicationSummary", "ParamType", "format_datetime", "validate_params"]


def default_accent_color(key: str) -> str:
    """A stable, readable colour from the key: its hash picks the hue."""
    hue = int.from_bytes(hashlib.sha256(key.encode()).digest()[:2], "big") / 65536
    red, green, blue = colorsys.hls_to_rgb(hue, 0.45, 0.65)
    return "#{:02x}{:02x}{:02x}".format(*(round(channel * 255) for channel in (red, green, blue)))


async def find(session: AsyncSession, id_or_key: str) -> Application | None:
    """The application with this id or key, if any."""
    return await repo.by_id_or_key(session, id_or_key)


async def find_by_id(session: AsyncSession, application_id: str) -> Application | None:
    return await repo.by_id(session, application_id)


async def find_by_key(session: AsyncSession, key: str) -> Application | None:
    return await repo.by_key(session, key)


async def definitions(session: AsyncSession, application_id: str) -> list[ParamDefinition]:
    """The application's param definitions, by key."""
    return await repo.definitions(session, application_id)


async def param_types(
    session: AsyncSession, application_id: str, keys: set[str]
) -> dict[str, ParamType]:
    """The registered type of each of these keys in one application."""
    return await repo.param_types(session, application_id, keys)


async def registered_keys(session: AsyncSession, application_ids: set[str]) -> dict[str, set[str]]:
    """The registered param keys of each of these applications."""
    return await repo.registered_keys(session, application_ids)


async def keys_by_id(session: AsyncSession, application_ids: set[str]) -> dict[str, str]:
    """The key of each of these applications that exists."""
    return await repo.keys_by_id(session, application_ids)


async def sensitive_keys(
    session: AsyncSession, application_ids: set[str] | frozenset[str] | None
) -> dict[str, set[str]]:
    """The keys of the params registered as sensitive, by application, for those of these
    applications (None: of all) that have any."""
    return await repo.sensitive_keys(session, application_ids)


async def page(
    session: AsyncSession,
    visibility: Visibility,
    *,
    include_archived: bool,
    offset: int,
    limit: int,
) -> tuple[list[Application], int]:
    """Applications by key; a key bound to applications sees only its own."""
    return await repo.page(
        session,
        include_archived=include_archived,
        only=visibility.application_ids,
        offset=offset,
        limit=limit,
    )


async def get(
    session: AsyncSession, id_or_key: str, visibility: Visibility | None = None
) -> Application:
    """The application; 404 also where ``visibility`` (the reader's) does not reach it."""
    application = await repo.by_id_or_key(session, id_or_key)
    if application is None or (visibility is not None and not visibility.allows(application.id)):
        raise NotFound(f"No application {id_or_key}.", code="APPLICATION_NOT_FOUND")
    return application


async def get_for_change(session: AsyncSession, id_or_key: str) -> Application:
    """The application, for a change that checks before it writes.

    Taking the log's write lock first (the change's system record takes it anyway) keeps
    what was checked true until commit: a concurrent change waits instead of hitting a
    unique or foreign key constraint.
    """
    await log_head.lock(session)
    return await get(session, id_or_key)


async def create(
    session: AsyncSession, request: ApplicationCreate, *, actor: str, ip: str | None
) -> Application:
    await log_head.lock(session)  # see get_for_change
    if await repo.by_key(session, request.key) is not None:
        raise Conflict(f"An application with key {request.key} exists.", code="APPLICATION_EXISTS")
    _no_repeated_param_keys(request.params)
    now = clock.now()
    application = Application(
        key=request.key,
        name=request.name,
        description=request.description,
        accent_color=request.accent_color or default_accent_color(request.key),
        allow_unknown_params=request.allow_unknown_params,
        # One reading of the clock: a new application was never updated after its creation.
        created_at=now,
        updated_at=now,
    )
    session.add(application)
    await session.flush()
    await system.write(
        session,
        event_type="application.created",
        summary=f"Application {application.key} created",
        actor=actor,
        entity_type=APPLICATION,
        entity_id=application.id,
        changes_registry=True,
        params=system.changes({}, audited(application)),
        ip_address=ip,
    )
    # Params given inline are created like any other: each leaves its own record.
    await _add_definitions(session, application, request.params, actor=actor, ip=ip)
    await repo.refresh_param_count(session, application)
    return application


def _no_repeated_param_keys(params: list[ParamDefinitionCreate]) -> None:
    seen: set[str] = set()
    for index, param in enumerate(params):
        if param.key in seen:
            problem = FieldProblem(f"body.params.{index}.key", "DUPLICATE_KEY", "repeats a key.")
            raise Unprocessable(f"Param {param.key} is defined twice.", details=[problem])
        seen.add(param.key)


def audited(application: Application) -> dict[str, Any]:
    """What the system records of an application's changes say of it (`audittrail seed` too)."""
    return {
        "key": application.key,
        "name": application.name,
        "description": application.description,
        "accent_color": application.accent_color,
        "allow_unknown_params": application.allow_unknown_params,
        "archived": application.archived_at is not None,
    }


async def update(
    session: AsyncSession, id_or_key: str, request: ApplicationUpdate, *, actor: str, ip: str | None
) -> Application:
    application = await get_for_change(session, id_or_key)
    before = audited(application)
    for name, value in request.changes().items():
        if name == "archived":
            if value != (application.archived_at is not None):
                application.archived_at = clock.now() if value else None
        else:
            setattr(application, name, value)
    changed = system.changes(before, audited(application))
    if not changed:
        return application
    application.updated_at = clock.now()
    await session.flush()
    await repo.refresh_param_count(session, application)
    archived = changed.get("archived")
    event_type = (
        "application.updated"
        if archived is None
        else "application.archived"
        if archived["new"]
        else "application.restored"
    )
    await system.write(
        session,
        event_type=event_type,
        summary=f"Application {application.key} changed: {', '.join(sorted(changed))}",
        actor=actor,
        entity_type=APPLICATION,
        entity_id=application.id,
        changes_registry=True,
        params=changed,
        ip_address=ip,
    )
    return application


async def delete(session: AsyncSession, id_or_key: str, *, actor: str, ip: str | None) -> None:
    application = await get_for_change(session, id_or_key)
    if await repo.has_records(session, application.id):
        raise Conflict(
            f"Application {application.key} has records and cannot be deleted; archive it instead.",
            code="APPLICATION_HAS_RECORDS",
        )
    definitions = await repo.definitions(session, application.id)
    before = audited(application)
    await repo.delete_application(session, application.id)
    # Its params go with it, and each leaves its record, as if deleted one by one.
    for definition in definitions:
        await _write_param_record(
            session,
            application,
            definition,
            "param.deleted",
            _removed(audited_definition(definition)),
            actor=actor,
            ip=ip,
        )
    await system.write(
        session,
        event_type="application.deleted",
        summary=f"Application {application.key} deleted",
        actor=actor,
        entity_type=APPLICATION,
        entity_id=application.id,
        changes_registry=True,
        params=_removed(before),
        severity="medium",
        ip_address=ip,
    )


def _removed(before: dict[str, Any]) -> dict[str, Any]:
    """The changes a deletion makes: every audited field that had a value goes to null."""
    return system.changes(before, dict.fromkeys(before))


def _new_definition(application: Application, request: ParamDefinitionCreate) -> ParamDefinition:
    now = clock.now()
    return ParamDefinition(
        application_id=application.id,
        key=request.key,
        label=request.label or request.key,
        type=request.type.value,
        required=request.required,
        description=request.description,
        sensitive=request.sensitive,
        enum_values=request.enum_values,
        created_at=now,
        updated_at=now,
    )


def audited_definition(definition: ParamDefinition) -> dict[str, Any]:
    """What the system records of a param definition's changes say of it."""
    return {
        "key": definition.key,
        "label": definition.label,
        "type": definition.type,
        "required": definition.required,
        "description": definition.description,
        "sensitive": definition.sensitive,
        "enum_values": definition.enum_values,
    }


async def get_definition(
    session: AsyncSession, application: Application, key: str
) -> ParamDefinition:
    definition = await repo.definition(session, application.id, key)
    if definition is None:
        raise NotFound(f"Application {application.key} has no param {key}.", code="PARAM_NOT_FOUND")
    return definition


async def create_definition(
    session: AsyncSession,
    application: Application,
    request: ParamDefinitionCreate,
    *,
    actor: str,
    ip: str | None,
) -> ParamDefinition:
    if await repo.definition(session, application.id, request.key) is not None:
        raise Conflict(
            f"Application {application.key} already has a param {request.key}.", code="PARAM_EXISTS"
        )
    [definition] = await _add_definitions(session, application, [request], actor=actor, ip=ip)
    return definition


async def _add_definitions(
    session: AsyncSession,
    application: Application,
    requests: list[ParamDefinitionCreate],
    *,
    actor: str,
    ip: str | None,
) -> list[ParamDefinition]:
    definitions = [_new_definition(application, request) for request in requests]
    session.add_all(definitions)
    await session.flush()
    for definition in definitions:
        await _write_param_record(
            session,
            application,
            definition,
            "param.created",
            system.changes({}, audited_definition(definition)),
            actor=actor,
            ip=ip,
        )
        if definition.sensitive:
            await _rewrite_search_words(session, application, definition.key)
    return definitions


async def update_definition(
    session: AsyncSession,
    application: Application,
    key: str,
    request: ParamDefinitionUpdate,
    *,
    actor: str,
    may_unmask: bool,
    ip: str | None,
) -> ParamDefinition:
    """Change a definition; ``may_unmask``: whether the caller may stop a sensitive param being
    sensitive (admins: others would read back what masking hides from them)."""
    definition = await get_definition(session, application, key)
    values = request.changes()
    if definition.sensitive and values.get("sensitive") is False and not may_unmask:
        raise _unmasking(key)
    if "enum_values" in values and definition.type != ParamType.ENUM:
        problem = FieldProblem("body.enum_values", "NOT_AN_ENUM", "only enum params have values.")
        raise Unprocessable(f"Param {key} is of type {definition.type}.", details=[problem])
    before = audited_definition(definition)
    for name, value in values.items():
        setattr(definition, name, value)
    changed = system.changes(before, audited_definition(definition))
    if changed:
        definition.updated_at = clock.now()
        await _write_param_record(
            session, application, definition, "param.updated", changed, actor=actor, ip=ip
        )
        if "sensitive" in changed:
            await _rewrite_search_words(session, application, key)
    return definition


async def delete_definition(
    session: AsyncSession,
    application: Application,
    key: str,
    *,
    actor: str,
    may_unmask: bool,
    ip: str | None,
) -> None:
    """Delete a definition; a sensitive one only if ``may_unmask`` (its values would show)."""
    definition = await get_definition(session, application, key)
    if definition.sensitive and not may_unmask:
        raise _unmasking(key)
    before = audited_definition(definition)
    await repo.delete_definition(session, definition.id)
    await _write_param_record(
        session, application, definition, "param.deleted", _removed(before), actor=actor, ip=ip
    )
    if before["sensitive"]:
        await _rewrite_search_words(session, application, key)


async def _rewrite_search_words(session: AsyncSession, application: Application, key: str) -> None:
    """After a change of whether a param is sensitive, and its system record (which took the
    log's lock): search finds its values in none of the application's records, or in all."""
    await session.flush()
    sensitive = await repo.sensitive_keys(session, {application.id})
    await search_index.rewrite(
        session, application.id, key, frozenset(sensitive.get(application.id, set()))
    )


def _unmasking(key: str) -> Forbidden:
    return Forbidden(
        f"Param {key} is sensitive: only an admin may make it not sensitive or delete it.",
        code="SENSITIVE_PARAM",
    )


async def _write_param_record(
    session: AsyncSession,
    application: Application,
    definition: ParamDefinition,
    event_type: str,
    changed: dict[str, Any],
    *,
    actor: str,
    ip: str | None,
) -> None:
    verb = event_type.split(".")[1]
    await system.write(
        session,
        event_type=event_type,
        summary=f"Param {definition.key} of application {application.key} {verb}",
        actor=actor,
        entity_type=PARAM,
        entity_id=f"{application.key}.{definition.key}",
        changes_registry=True,
        params=changed,
        ip_address=ip,
    )

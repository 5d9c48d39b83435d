"""Queries for applications and param definitions."""

from __future__ import annotations

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.applications.schemas import ParamType
from audittrail.db.models import Application, ParamDefinition, Record


async def by_id_or_key(session: AsyncSession, id_or_key: str) -> Application | None:
    result = await session.execute(
        select(Application).where((Application.id == id_or_key) | (Application.key == id_or_key))
    )
    return result.scalars().first()


async def by_id(session: AsyncSession, application_id: str) -> Application | None:
    result = await session.execute(select(Application).where(Application.id == application_id))
    return result.scalar_one_or_none()


async def by_key(session: AsyncSession, key: str) -> Application | None:
    result = await session.execute(select(Application).where(Application.key == key))
    return result.scalar_one_or_none()


async def page(
    session: AsyncSession,
    *,
    include_archived: bool,
    only: frozenset[str] | None,
    offset: int,
    limit: int,
) -> tuple[list[Application], int]:
    query = select(Application)
    if only is not None:
        query = query.where(Application.id.in_(sorted(only)))
    if not include_archived:
        query = query.where(Application.archived_at.is_(None))
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await session.execute(query.order_by(Application.key).offset(offset).limit(limit))
    return list(rows.scalars()), total


async def has_records(session: AsyncSession, application_id: str) -> bool:
    query = select(exists().where(Record.application_id == application_id))
    return bool((await session.execute(query)).scalar())


async def delete_application(session: AsyncSession, application_id: str) -> None:
    await session.execute(
        delete(ParamDefinition).where(ParamDefinition.application_id == application_id)
    )
    await session.execute(delete(Application).where(Application.id == application_id))


async def definitions(session: AsyncSession, application_id: str) -> list[ParamDefinition]:
    result = await session.execute(
        select(ParamDefinition)
        .where(ParamDefinition.application_id == application_id)
        .order_by(ParamDefinition.key)
    )
    return list(result.scalars())


async def definition(
    session: AsyncSession, application_id: str, key: str
) -> ParamDefinition | None:
    result = await session.execute(
        select(ParamDefinition).where(
            ParamDefinition.application_id == application_id, ParamDefinition.key == key
        )
    )
    return result.scalar_one_or_none()


async def delete_definition(session: AsyncSession, definition_id: str) -> None:
    await session.execute(delete(ParamDefinition).where(ParamDefinition.id == definition_id))


async def refresh_param_count(session: AsyncSession, application: Application) -> None:
    await session.refresh(application, ["param_count"])


async def registered_keys(session: AsyncSession, application_ids: set[str]) -> dict[str, set[str]]:
    if not application_ids:
        return {}
    rows = await session.execute(
        select(ParamDefinition.application_id, ParamDefinition.key).where(
            ParamDefinition.application_id.in_(application_ids)
        )
    )
    keys: dict[str, set[str]] = {application_id: set() for application_id in application_ids}
    for application_id, key in rows:
        keys[application_id].add(key)
    return keys


async def keys_by_id(session: AsyncSession, application_ids: set[str]) -> dict[str, str]:
    if not application_ids:
        return {}
    rows = await session.execute(
        select(Application.id, Application.key).where(Application.id.in_(application_ids))
    )
    return {application_id: key for application_id, key in rows}


async def sensitive_keys(
    session: AsyncSession, application_ids: set[str] | frozenset[str] | None
) -> dict[str, set[str]]:
    query = select(ParamDefinition.application_id, ParamDefinition.key).where(
        ParamDefinition.sensitive
    )
    if application_ids is not None:
        if not application_ids:
            return {}
        query = query.where(ParamDefinition.application_id.in_(application_ids))
    rows = await session.execute(query)
    keys: dict[str, set[str]] = {}
    for application_id, key in rows:
        keys.setdefault(application_id, set()).add(key)
    return keys


async def param_types(
    session: AsyncSession, application_id: str, keys: set[str]
) -> dict[str, ParamType]:
    """The registered type of each of these keys in one application."""
    rows = await session.execute(
        select(ParamDefinition.key, ParamDefinition.type).where(
            ParamDefinition.application_id == application_id, ParamDefinition.key.in_(keys)
        )
    )
    return {key: ParamType(param_type) for key, param_type in rows}

"""Queries for records."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from audittrail.applications.schemas import ParamType
from audittrail.db.models import ParamDefinition, Record
from audittrail.records import query as q


async def by_id(session: AsyncSession, record_id: str) -> Record | None:
    result = await session.execute(
        select(Record).where(Record.id == record_id).options(selectinload(Record.application))
    )
    return result.scalar_one_or_none()


async def page(
    session: AsyncSession,
    query: q.RecordQuery,
    *,
    offset: int,
    limit: int,
    param_types: dict[str, ParamType],
) -> tuple[list[Record], int, bool]:
    """One page of records, the total matching the filters, and whether more follow."""
    dialect = session.get_bind().dialect.name
    where = q.conditions(query, dialect, param_types)
    total = (
        await session.execute(select(func.count()).select_from(Record).where(*where))
    ).scalar_one()
    statement = (
        select(Record)
        .where(*q.with_cursor(query, where))
        .order_by(*q.order_by(query))
        .limit(limit + 1)
        .options(selectinload(Record.application))
    )
    if query.cursor is None:
        statement = statement.offset(offset)
    records = list((await session.execute(statement)).scalars())
    return records[:limit], total, len(records) > limit


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

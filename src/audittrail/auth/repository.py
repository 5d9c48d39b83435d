"""Queries for users, sessions and API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.db.models import ApiKey, AuthSession, User


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == email.lower()))
    return result.scalar_one_or_none()


async def user_by_id(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def count_users(session: AsyncSession) -> int:
    return (await session.execute(select(func.count(User.id)))).scalar_one()


async def list_users(session: AsyncSession, *, offset: int, limit: int) -> tuple[list[User], int]:
    total = await count_users(session)
    rows = await session.execute(select(User).order_by(User.email).offset(offset).limit(limit))
    return list(rows.scalars()), total


async def active_session(
    session: AsyncSession,
    *,
    now: datetime,
    session_id: str | None = None,
    token_hash: str | None = None,
) -> tuple[AuthSession, User] | None:
    query = (
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.ended_at.is_(None), AuthSession.expires_at > now, User.is_active)
    )
    if session_id is not None:
        query = query.where(AuthSession.id == session_id)
    if token_hash is not None:
        query = query.where(AuthSession.token_hash == token_hash)
    row = (await session.execute(query)).one_or_none()
    return None if row is None else (row[0], row[1])


async def end_session(session: AsyncSession, session_id: str, now: datetime) -> None:
    await session.execute(
        update(AuthSession).where(AuthSession.id == session_id).values(ended_at=now)
    )


async def end_sessions(session: AsyncSession, user_id: str, now: datetime) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.ended_at.is_(None))
        .values(ended_at=now)
    )


async def api_key_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    result = await session.execute(select(ApiKey).where(ApiKey.key_hash == key_hash))
    return result.scalar_one_or_none()


async def api_key_by_id(session: AsyncSession, key_id: str) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def list_api_keys(
    session: AsyncSession, *, offset: int, limit: int
) -> tuple[list[ApiKey], int]:
    total = (await session.execute(select(func.count(ApiKey.id)))).scalar_one()
    rows = await session.execute(
        select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), total


async def touch_api_key(session: AsyncSession, key_id: str, now: datetime) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))

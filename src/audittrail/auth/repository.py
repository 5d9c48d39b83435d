"""Queries for users, sessions and API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, update
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


def _live(now: datetime, idle_since: datetime) -> ColumnElement[bool]:
    """Not ended, not expired, and used since `idle_since` (sessions from before last_seen_at
    was noted count from their start)."""
    return and_(
        AuthSession.ended_at.is_(None),
        AuthSession.expires_at > now,
        or_(
            AuthSession.last_seen_at > idle_since,
            and_(AuthSession.last_seen_at.is_(None), AuthSession.created_at > idle_since),
        ),
    )


async def active_session(
    session: AsyncSession,
    *,
    now: datetime,
    idle_since: datetime,
    session_id: str | None = None,
    token_hash: str | None = None,
) -> tuple[AuthSession, User] | None:
    query = (
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(_live(now, idle_since), User.is_active)
    )
    if session_id is not None:
        query = query.where(AuthSession.id == session_id)
    if token_hash is not None:
        query = query.where(AuthSession.token_hash == token_hash)
    row = (await session.execute(query)).one_or_none()
    return None if row is None else (row[0], row[1])


async def live_sessions(
    session: AsyncSession,
    user_id: str,
    *,
    now: datetime,
    idle_since: datetime,
    offset: int,
    limit: int,
) -> tuple[list[AuthSession], int]:
    live = and_(AuthSession.user_id == user_id, _live(now, idle_since))
    total = (await session.execute(select(func.count(AuthSession.id)).where(live))).scalar_one()
    rows = await session.execute(
        select(AuthSession)
        .where(live)
        .order_by(AuthSession.created_at.desc(), AuthSession.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows.scalars()), total


async def end_session(
    session: AsyncSession, session_id: str, now: datetime, *, user_id: str | None = None
) -> bool:
    """End a session not yet ended (only if it is this user's, if given); whether one was."""
    query = update(AuthSession).where(AuthSession.id == session_id, AuthSession.ended_at.is_(None))
    if user_id is not None:
        query = query.where(AuthSession.user_id == user_id)
    result = await session.execute(query.values(ended_at=now))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def end_session_by_token(session: AsyncSession, token_hash: str, now: datetime) -> str | None:
    """End the session of this token if it is not ended yet; its id, if it was."""
    found = await session.execute(
        select(AuthSession.id).where(
            AuthSession.token_hash == token_hash, AuthSession.ended_at.is_(None)
        )
    )
    session_id = found.scalar_one_or_none()
    if session_id is not None:
        await end_session(session, session_id, now)
    return session_id


async def end_sessions(
    session: AsyncSession, user_id: str, now: datetime, *, keep: str | None = None
) -> int:
    """End every session of the user not yet ended, but `keep`; how many."""
    query = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.ended_at.is_(None)
    )
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    result = await session.execute(query.values(ended_at=now))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def touch_session(session: AsyncSession, session_id: str, now: datetime) -> None:
    await session.execute(
        update(AuthSession).where(AuthSession.id == session_id).values(last_seen_at=now)
    )


async def api_key_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    """The key whose secret, or whose secret before its last rotation, has this hash."""
    result = await session.execute(
        select(ApiKey).where(or_(ApiKey.key_hash == key_hash, ApiKey.previous_key_hash == key_hash))
    )
    return result.scalar_one_or_none()


async def unrevoked_api_keys_of(session: AsyncSession, user_id: str) -> list[ApiKey]:
    """The keys the user created that are not revoked, oldest first."""
    rows = await session.execute(
        select(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return list(rows.scalars())


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

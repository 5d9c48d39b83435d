"""Users: creating, listing and changing them; every change leaves a system record."""

from __future__ import annotations

from pydantic import Secret
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock
from audittrail.auth import credentials, keys, policy
from audittrail.auth import repository as repo
from audittrail.auth.schemas import UserCreate, UserUpdate
from audittrail.db.models import User
from audittrail.errors import Conflict, NotFound
from audittrail.log import head as log_head
from audittrail.log import system


async def password_hash(
    password: Secret[str] | None, *, email: str, field: str = "body.password"
) -> str | None:
    """The stored form of a new password for the user of this email, once it passes the policy
    (auth/policy.py, 422 naming the field): hashed before the change's transaction begins, so
    that argon2's tens of milliseconds never hold the write lock."""
    if password is None:
        return None
    plain = password.get_secret_value()
    await policy.check_strength(plain, email=email, field=field)
    return await credentials.hash_password(plain)


async def create_user(
    session: AsyncSession, request: UserCreate, password_hash: str, *, actor: str, ip: str | None
) -> User:
    user = User(
        email=request.email,
        password_hash=password_hash,
        roles=sorted(set(request.roles)),
        is_active=True,
    )
    try:  # the unique index decides, so two concurrent requests cannot both pass a lookup
        async with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise Conflict(f"A user with email {request.email} exists.", code="USER_EXISTS") from None
    await system.write(
        session,
        event_type="user.created",
        summary=f"User {user.email} created",
        actor=actor,
        entity_type="user",
        entity_id=user.id,
        changes_registry=True,
        params={
            "email": {"old": None, "new": user.email},
            "roles": {"old": None, "new": user.roles},
        },
        category=system.SECURITY,
        ip_address=ip,
    )
    return user


async def users_page(session: AsyncSession, *, offset: int, limit: int) -> tuple[list[User], int]:
    return await repo.list_users(session, offset=offset, limit=limit)


async def get_user(session: AsyncSession, user_id: str) -> User:
    user = await repo.user_by_id(session, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.", code="USER_NOT_FOUND")
    return user


async def update_user(
    session: AsyncSession,
    user_id: str,
    request: UserUpdate,
    password_hash: str | None,
    *,
    actor: str,
    ip: str | None,
) -> User:
    """Change a user; ``password_hash``: the new password's (`password_hash`), if it changes.

    Under the log's lock from the start, as a login's session is started: a login checked
    against the user as they were cannot slip a session in after this change ends theirs.
    """
    await log_head.lock(session)
    user = await get_user(session, user_id)
    old = {"roles": user.roles, "is_active": user.is_active}
    if request.roles is not None:
        user.roles = sorted(set(request.roles))
    if request.is_active is not None:
        user.is_active = request.is_active
    changed = system.changes(old, {"roles": user.roles, "is_active": user.is_active})
    if password_hash is not None:
        user.password_hash = password_hash
        changed["password"] = {"old": "[redacted]", "new": "[redacted]"}
    if not changed:
        return user
    user.updated_at = clock.now()
    deactivated = "is_active" in changed and not user.is_active
    if deactivated or "password" in changed:
        # Ended, not only refused: reactivating the user must not revive the sessions of before;
        # and whoever knew the old password keeps no session opened with it.
        await repo.end_sessions(session, user.id, user.updated_at)
    await system.write(
        session,
        event_type="user.updated",
        summary=f"User {user.email} changed: {', '.join(sorted(changed))}",
        actor=actor,
        entity_type="user",
        entity_id=user.id,
        changes_registry=True,
        params=changed,
        category=system.SECURITY,
        severity="medium" if "roles" in changed or "password" in changed else "low",
        ip_address=ip,
    )
    if deactivated:
        # What the user made on their own authority goes with it, in this transaction.
        for api_key in await repo.unrevoked_api_keys_of(session, user.id):
            reason = f"its creator {user.email} was deactivated"
            await keys.revoke(session, api_key, user.updated_at, actor=actor, ip=ip, reason=reason)
    return user

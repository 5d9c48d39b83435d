"""Authentication and the management of users and API keys; every change leaves a system record."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import Secret
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock
from audittrail.access import ADMIN, Authenticated, Credentials, Principal
from audittrail.auth import credentials
from audittrail.auth import repository as repo
from audittrail.auth.schemas import ApiKeyCreate, UserCreate, UserUpdate
from audittrail.config import Settings
from audittrail.db.engine import Database
from audittrail.db.models import ApiKey, AuthSession, User
from audittrail.errors import (
    BadRequest,
    Conflict,
    FieldProblem,
    NotFound,
    Unauthenticated,
    Unprocessable,
)
from audittrail.log import head as log_head
from audittrail.log import system
from audittrail.log.append import NewRecord, append

# A used key's last_used_at is written at most this often, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class LoginFailed(Unauthenticated):
    def __init__(self) -> None:
        super().__init__("Email or password is wrong.")


@dataclass(frozen=True)
class Authenticator:
    """The access layer's way to authenticate (access.Authenticator), on the app's state."""

    settings: Settings
    database: Database

    async def authenticate(self, session: AsyncSession, presented: Credentials) -> Authenticated:
        return await authenticate(session, self.settings, presented)

    async def touch(self, principal: Principal) -> None:
        async with self.database.write_session() as session:
            await repo.touch_api_key(session, principal.id, clock.now())


async def authenticate(
    session: AsyncSession, settings: Settings, presented: Credentials
) -> Authenticated:
    now = clock.now()
    api_key = presented.used_api_key()
    if api_key is not None:
        return (await api_key_grant(session, api_key)).use(now)
    if presented.bearer:
        return await _from_access_token(session, settings, presented.bearer, now)
    if presented.session_cookie:
        token_hash = credentials.token_digest(presented.session_cookie)
        found = await repo.active_session(session, now=now, token_hash=token_hash)
        if found is not None:
            return Authenticated(_user_principal(found[1], found[0].id))
    raise Unauthenticated()


async def _from_access_token(
    session: AsyncSession, settings: Settings, token: str, now: datetime
) -> Authenticated:
    claims = credentials.decode_access_token(settings.signing_secret(), token, now)
    if claims is not None:
        found = await repo.active_session(session, now=now, session_id=str(claims["sid"]))
        if found is not None and found[1].id == claims["sub"]:
            return Authenticated(_user_principal(found[1], found[0].id))
    raise Unauthenticated()


@dataclass(frozen=True)
class KeyGrant:
    """What an unrevoked API key grants, and until when: all that authenticating with it needs,
    so that a process may keep it (records/intake.py)."""

    principal: Principal
    expires_at: datetime | None
    last_used_at: datetime | None

    def use(self, now: datetime) -> Authenticated:
        if self.expires_at is not None and self.expires_at <= now:
            raise Unauthenticated()
        stale = self.last_used_at is None or now - self.last_used_at >= LAST_USED_RESOLUTION
        return Authenticated(self.principal, api_key_needs_touch=stale)


def api_key_digest(key: str) -> str:
    """What an API key is stored and looked up by."""
    return credentials.token_digest(key)


async def api_key_grant(session: AsyncSession, key: str) -> KeyGrant:
    api_key = await repo.api_key_by_hash(session, api_key_digest(key))
    if api_key is None or api_key.revoked_at is not None:
        raise Unauthenticated()
    principal = Principal(
        kind="api_key", id=api_key.id, name=api_key.name, roles=tuple(api_key.roles)
    )
    return KeyGrant(principal, api_key.expires_at, api_key.last_used_at)


def _user_principal(user: User, session_id: str) -> Principal:
    return Principal(
        kind="user", id=user.id, name=user.email, roles=tuple(user.roles), session_id=session_id
    )


@dataclass(frozen=True)
class LoginResult:
    access_token: str
    session_token: str
    expires_in: int


@dataclass(frozen=True)
class LoginAttempt:
    """An email and password, checked: the user they name, or why they sign nobody in."""

    email: str
    user_id: str | None
    failure: str | None
    # The hash the password was checked against: a password changed since signs nobody in.
    password_hash: str | None = field(default=None, repr=False)


async def check_password(session: AsyncSession, email: str, password: str) -> LoginAttempt:
    """Check the password (argon2: tens of milliseconds of CPU) on a read session, outside any
    write lock: it must never hold up the writes of everyone else."""
    user = await repo.user_by_email(session, email)
    valid = await credentials.verify_password(user.password_hash if user else None, password)
    failure = None
    if user is None or not valid or not user.is_active:
        failure = "unknown_user" if user is None else "wrong_password" if not valid else "inactive"
    if user is None:
        return LoginAttempt(email.lower(), None, failure)
    return LoginAttempt(email.lower(), user.id, failure, user.password_hash)


async def record_failed_login(
    queue: system.Queue, attempt: LoginAttempt, *, ip: str | None
) -> None:
    """Record a failed attempt through the group commit, with the records of everyone else: a
    guesser's attempts must not each take the log's lock (log/system.py)."""
    assert attempt.failure is not None
    record = _login_failed(attempt.email, attempt.user_id, attempt.failure, ip)
    # Shielded: a client that goes away does not take the record of its attempt with it.
    await asyncio.shield(queue.submit([record]))


def _login_failed(email: str, user_id: str | None, reason: str, ip: str | None) -> NewRecord:
    return system.new(
        event_type="auth.login_failed",
        summary=f"Failed login for {email}",
        actor=email,
        entity_type="user",
        entity_id=user_id,
        changes_registry=False,
        params={"reason": reason},
        category=system.SECURITY,
        severity="medium",
        ip_address=ip,
    )


async def login(
    session: AsyncSession, settings: Settings, attempt: LoginAttempt, *, ip: str | None
) -> LoginResult | None:
    """Start the session of an attempt whose password was right; None (its failure recorded,
    for the caller to commit) if the user was deactivated, or their password changed, since.

    The log's lock is taken first (the attempt's record takes it anyway), so neither can
    happen between this look and the commit: a deactivation ends the sessions it finds.
    """
    assert attempt.failure is None and attempt.user_id is not None
    await log_head.lock(session)
    user = await repo.user_by_id(session, attempt.user_id)
    if user is None or not user.is_active or user.password_hash != attempt.password_hash:
        reason = "wrong_password" if user and user.is_active else "inactive"
        await append(session, [_login_failed(attempt.email, attempt.user_id, reason, ip)])
        return None
    now = clock.now()
    session_token = credentials.new_session_token()
    auth_session = AuthSession(
        token_hash=credentials.token_digest(session_token),
        user_id=user.id,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.session_lifetime_seconds),
    )
    session.add(auth_session)
    await session.flush()
    lifetime = min(settings.access_token_lifetime_seconds, settings.session_lifetime_seconds)
    access_token = credentials.encode_access_token(
        settings.signing_secret(),
        user_id=user.id,
        session_id=auth_session.id,
        issued_at=now,
        lifetime=timedelta(seconds=lifetime),
    )
    await system.write(
        session,
        event_type="auth.login",
        summary=f"{user.email} signed in",
        actor=user.email,
        entity_type="user",
        entity_id=user.id,
        changes_registry=False,
        category=system.SECURITY,
        ip_address=ip,
    )
    return LoginResult(access_token, session_token, lifetime)


async def logout(session: AsyncSession, principal: Principal, *, ip: str | None) -> None:
    if principal.session_id is None:
        raise BadRequest("API keys are revoked, not signed out.", code="NO_SESSION")
    await repo.end_session(session, principal.session_id, clock.now())
    await system.write(
        session,
        event_type="auth.logout",
        summary=f"{principal.name} signed out",
        actor=principal.actor,
        entity_type="user",
        entity_id=principal.id,
        changes_registry=False,
        category=system.SECURITY,
        ip_address=ip,
    )


async def password_hash(password: Secret[str] | None) -> str | None:
    """The stored form of a new password: hashed before the change's transaction begins, so
    that argon2's tens of milliseconds never hold the write lock."""
    if password is None:
        return None
    return await credentials.hash_password(password.get_secret_value())


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
    if "is_active" in changed and not user.is_active:
        # Ended, not only refused: reactivating the user must not revive the sessions of before.
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
    return user


async def create_api_key(
    session: AsyncSession, request: ApiKeyCreate, *, actor: str, ip: str | None
) -> tuple[ApiKey, str]:
    now = clock.now()
    if request.expires_at is not None and request.expires_at.tzinfo is None:
        raise _bad_expiry("NAIVE_DATETIME", "expires_at needs a time zone.", "needs a time zone.")
    if request.expires_at is not None and request.expires_at <= now:
        raise _bad_expiry("EXPIRES_IN_PAST", "expires_at is in the past.", "must be in the future.")
    key = credentials.new_api_key()
    api_key = await _insert_api_key(
        session, name=request.name, key=key, roles=request.roles, created_by=actor
    )
    api_key.expires_at = request.expires_at
    await system.write(
        session,
        event_type="api_key.created",
        summary=f"API key {api_key.name} ({api_key.prefix}…) created",
        actor=actor,
        entity_type="api_key",
        entity_id=api_key.id,
        changes_registry=True,
        params={
            "name": {"old": None, "new": api_key.name},
            "roles": {"old": None, "new": api_key.roles},
        },
        category=system.SECURITY,
        ip_address=ip,
    )
    return api_key, key


def _bad_expiry(code: str, message: str, problem: str) -> Unprocessable:
    """Names the field, as every 422 does, so a client can point at the wrong input."""
    return Unprocessable(
        message, code=code, details=[FieldProblem("body.expires_at", code, problem)]
    )


async def _insert_api_key(
    session: AsyncSession, *, name: str, key: str, roles: Sequence[str], created_by: str
) -> ApiKey:
    api_key = ApiKey(
        name=name,
        prefix=credentials.visible_prefix(key),
        key_hash=credentials.token_digest(key),
        roles=sorted(set(roles)),
        created_by=created_by,
    )
    try:
        async with session.begin_nested():
            session.add(api_key)
    except IntegrityError:
        raise Conflict(f"An API key named {name} exists.", code="API_KEY_EXISTS") from None
    return api_key


async def api_keys_page(
    session: AsyncSession, *, offset: int, limit: int
) -> tuple[list[ApiKey], int]:
    return await repo.list_api_keys(session, offset=offset, limit=limit)


async def get_api_key(session: AsyncSession, key_id: str) -> ApiKey:
    api_key = await repo.api_key_by_id(session, key_id)
    if api_key is None:
        raise NotFound(f"No API key {key_id}.", code="API_KEY_NOT_FOUND")
    return api_key


async def revoke_api_key(
    session: AsyncSession, key_id: str, *, actor: str, ip: str | None
) -> ApiKey:
    api_key = await get_api_key(session, key_id)
    if api_key.revoked_at is not None:
        raise Conflict(f"API key {api_key.name} is already revoked.", code="API_KEY_REVOKED")
    api_key.revoked_at = clock.now()
    await system.write(
        session,
        event_type="api_key.revoked",
        summary=f"API key {api_key.name} ({api_key.prefix}…) revoked",
        actor=actor,
        entity_type="api_key",
        entity_id=api_key.id,
        changes_registry=True,
        params={"revoked_at": {"old": None, "new": api_key.revoked_at.isoformat()}},
        category=system.SECURITY,
        severity="medium",
        ip_address=ip,
    )
    return api_key


@dataclass(frozen=True)
class Bootstrapped:
    email: str
    generated_password: str | None
    generated_api_key: str | None


async def bootstrap(database: Database, settings: Settings) -> Bootstrapped | None:
    """On an empty database, create the first admin and an API key (from settings, or random).

    The password is hashed before the write lock is taken; under it, one process bootstraps
    and the others then see its user.
    """
    async with database.read_session() as session:
        if await repo.count_users(session) > 0:
            return None
    given_password = settings.bootstrap_admin_password
    password = given_password.get_secret_value() if given_password else secrets.token_urlsafe(18)
    password_hash = await credentials.hash_password(password)
    given_key = settings.bootstrap_api_key
    key = given_key.get_secret_value() if given_key else credentials.new_api_key()
    email = (settings.bootstrap_admin_email or "admin@localhost").lower()
    async with database.write_session() as session:
        await log_head.lock(session)
        if await repo.count_users(session) > 0:
            return None
        await _create_bootstrap_admin(session, email, password_hash, key)
    return Bootstrapped(
        email=email,
        generated_password=None if given_password else password,
        generated_api_key=None if given_key else key,
    )


async def _create_bootstrap_admin(
    session: AsyncSession, email: str, password_hash: str, key: str
) -> None:
    user = User(email=email, password_hash=password_hash, roles=[ADMIN], is_active=True)
    session.add(user)
    await session.flush()
    api_key = await _insert_api_key(
        session, name="bootstrap", key=key, roles=[ADMIN], created_by="system"
    )
    for event_type, entity_type, entity_id, summary in (
        ("user.created", "user", user.id, f"Bootstrap admin {email} created"),
        ("api_key.created", "api_key", api_key.id, "Bootstrap API key created"),
    ):
        await system.write(
            session,
            event_type=event_type,
            summary=summary,
            actor="system",
            entity_type=entity_type,
            entity_id=entity_id,
            changes_registry=True,
            category=system.SECURITY,
        )

"""Authentication and the management of users and API keys; every change leaves a system record."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock
from audittrail.auth import credentials
from audittrail.auth import repository as repo
from audittrail.auth.principal import ADMIN, Principal
from audittrail.auth.schemas import ApiKeyCreate, UserCreate, UserUpdate
from audittrail.config import Settings
from audittrail.db.models import ApiKey, AuthSession, User
from audittrail.errors import (
    BadRequest,
    Conflict,
    FieldProblem,
    NotFound,
    Unauthenticated,
    Unprocessable,
)
from audittrail.records import sequencer, system

# A used key's last_used_at is written at most this often, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class LoginFailed(Unauthenticated):
    def __init__(self) -> None:
        super().__init__("Email or password is wrong.")


@dataclass(frozen=True)
class Credentials:
    """What a request presented; at most one of them is used, in this order."""

    bearer: str | None = None
    api_key: str | None = None
    session_cookie: str | None = None

    def used_api_key(self) -> str | None:
        """The API key that decides who is calling, if the credential used is one."""
        if self.bearer:
            return None if credentials.looks_like_jwt(self.bearer) else self.bearer
        return self.api_key or None


@dataclass(frozen=True)
class Authenticated:
    principal: Principal
    api_key_needs_touch: bool = False


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


async def api_key_grant(session: AsyncSession, key: str) -> KeyGrant:
    api_key = await repo.api_key_by_hash(session, credentials.token_digest(key))
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


async def touch_api_key(session: AsyncSession, key_id: str) -> None:
    await repo.touch_api_key(session, key_id, clock.now())


@dataclass(frozen=True)
class LoginResult:
    access_token: str
    session_token: str
    expires_in: int


async def login(
    session: AsyncSession, settings: Settings, *, email: str, password: str, ip: str | None
) -> LoginResult:
    """Start a session, or record the failure and raise LoginFailed (the caller still commits)."""
    user = await repo.user_by_email(session, email)
    valid = await credentials.verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        reason = "unknown_user" if user is None else "wrong_password" if not valid else "inactive"
        await system.write(
            session,
            event_type="auth.login_failed",
            summary=f"Failed login for {email.lower()}",
            actor=email.lower(),
            entity_type="user",
            entity_id=user.id if user else None,
            params={"reason": reason},
            category=system.SECURITY,
            severity="medium",
            ip_address=ip,
        )
        raise LoginFailed()
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
        category=system.SECURITY,
        ip_address=ip,
    )
    return LoginResult(access_token, session_token, lifetime)


async def logout(session: AsyncSession, principal: Principal, *, ip: str | None) -> None:
    if principal.session_id is None:
        raise BadRequest("API keys are revoked, not signed out.", code="NO_SESSION")
    auth_session = await session.get(AuthSession, principal.session_id)
    assert auth_session is not None
    auth_session.ended_at = clock.now()
    await system.write(
        session,
        event_type="auth.logout",
        summary=f"{principal.name} signed out",
        actor=principal.actor,
        entity_type="user",
        entity_id=principal.id,
        category=system.SECURITY,
        ip_address=ip,
    )


async def create_user(
    session: AsyncSession, request: UserCreate, *, actor: str, ip: str | None
) -> User:
    user = User(
        email=request.email,
        password_hash=await credentials.hash_password(request.password.get_secret_value()),
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
        params={
            "email": {"old": None, "new": user.email},
            "roles": {"old": None, "new": user.roles},
        },
        category=system.SECURITY,
        ip_address=ip,
    )
    return user


async def get_user(session: AsyncSession, user_id: str) -> User:
    user = await repo.user_by_id(session, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.", code="USER_NOT_FOUND")
    return user


async def update_user(
    session: AsyncSession, user_id: str, request: UserUpdate, *, actor: str, ip: str | None
) -> User:
    user = await get_user(session, user_id)
    old = {"roles": user.roles, "is_active": user.is_active}
    if request.roles is not None:
        user.roles = sorted(set(request.roles))
    if request.is_active is not None:
        user.is_active = request.is_active
    changed = system.changes(old, {"roles": user.roles, "is_active": user.is_active})
    if request.password is not None:
        user.password_hash = await credentials.hash_password(request.password.get_secret_value())
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


async def bootstrap(session: AsyncSession, settings: Settings) -> Bootstrapped | None:
    """On an empty database, create the first admin and an API key (from settings, or random)."""
    await sequencer.lock(session)  # one process bootstraps; the others then see its user
    if await repo.count_users(session) > 0:
        return None
    email = (settings.bootstrap_admin_email or "admin@localhost").lower()
    given_password = settings.bootstrap_admin_password
    password = given_password.get_secret_value() if given_password else secrets.token_urlsafe(18)
    given_key = settings.bootstrap_api_key
    key = given_key.get_secret_value() if given_key else credentials.new_api_key()
    user = User(
        email=email,
        password_hash=await credentials.hash_password(password),
        roles=[ADMIN],
        is_active=True,
    )
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
            category=system.SECURITY,
        )
    return Bootstrapped(
        email=email,
        generated_password=None if given_password else password,
        generated_api_key=None if given_key else key,
    )

"""Authentication, for the access layer and the other domains; bootstrapping an empty database."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock
from audittrail.access import ADMIN, SCOPES, Authenticated, Credentials, Principal, scopes_of_roles
from audittrail.auth import credentials, keys, sessions
from audittrail.auth import repository as repo
from audittrail.config import Settings
from audittrail.db.engine import Database
from audittrail.db.models import AuthSession, User
from audittrail.errors import Unauthenticated
from audittrail.log import head as log_head
from audittrail.log import system

# A used key's last_used_at, and a session's last_seen_at, are written at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Authenticator:
    """The access layer's way to authenticate (access.Authenticator), on the app's state."""

    settings: Settings
    database: Database

    async def authenticate(self, session: AsyncSession, presented: Credentials) -> Authenticated:
        return await authenticate(session, self.settings, presented)

    async def touch(self, principal: Principal) -> None:
        async with self.database.write_session() as session:
            if principal.session_id is not None:
                await repo.touch_session(session, principal.session_id, clock.now())
            else:
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
        found = await repo.active_session(
            session, now=now, idle_since=sessions.idle_since(settings, now), token_hash=token_hash
        )
        if found is not None:
            return _signed_in(*found, now)
    raise Unauthenticated()


def _signed_in(auth_session: AuthSession, user: User, now: datetime) -> Authenticated:
    seen = auth_session.last_seen_at
    stale = seen is None or now - seen >= LAST_USED_RESOLUTION
    return Authenticated(_user_principal(user, auth_session.id), session_needs_touch=stale)


async def _from_access_token(
    session: AsyncSession, settings: Settings, token: str, now: datetime
) -> Authenticated:
    claims = credentials.decode_access_token(settings.signing_secret(), token, now)
    if claims is not None:
        found = await repo.active_session(
            session,
            now=now,
            idle_since=sessions.idle_since(settings, now),
            session_id=str(claims["sid"]),
        )
        if found is not None and found[1].id == claims["sub"]:
            return _signed_in(*found, now)
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
    """What the key grants: its current secret until the key expires, the secret it had before
    its last rotation until the rotation's grace ends too."""
    digest = api_key_digest(key)
    api_key = await repo.api_key_by_hash(session, digest)
    if api_key is None or api_key.revoked_at is not None:
        raise Unauthenticated()
    expires_at = api_key.expires_at
    if api_key.key_hash != digest:
        grace_ends = api_key.previous_valid_until
        assert grace_ends is not None, "a previous secret has its grace period"
        expires_at = grace_ends if expires_at is None else min(expires_at, grace_ends)
    principal = Principal(
        kind="api_key",
        id=api_key.id,
        name=api_key.name,
        scopes=frozenset(api_key.scopes),
        applications=None
        if api_key.application_ids is None
        else frozenset(api_key.application_ids),
        owner_id=api_key.user_id,
    )
    return KeyGrant(principal, expires_at, api_key.last_used_at)


def _user_principal(user: User, session_id: str) -> Principal:
    return Principal(
        kind="user",
        id=user.id,
        name=user.email,
        scopes=scopes_of_roles(user.roles),
        roles=tuple(user.roles),
        session_id=session_id,
        owner_id=user.id,
    )


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
    api_key = await keys.insert_api_key(
        session,
        name="bootstrap",
        key=key,
        scopes=list(SCOPES),
        created_by="system",
        user_id=None,
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

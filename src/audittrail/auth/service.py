"""Authentication and the management of users and API keys; every change leaves a system record."""

from __future__ import annotations

import asyncio
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import Secret
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock
from audittrail.access import (
    ADMIN,
    SCOPES,
    UNBINDABLE_SCOPES,
    WRITER,
    Authenticated,
    Credentials,
    Principal,
    scopes_of_roles,
)
from audittrail.applications import service as applications
from audittrail.auth import credentials, policy
from audittrail.auth import repository as repo
from audittrail.auth.schemas import ApiKeyCreate, UserCreate, UserUpdate
from audittrail.config import Settings
from audittrail.db.engine import Database
from audittrail.db.models import ApiKey, AuthSession, User
from audittrail.errors import (
    BadRequest,
    Conflict,
    FieldProblem,
    Forbidden,
    NotFound,
    Unauthenticated,
    Unprocessable,
)
from audittrail.log import head as log_head
from audittrail.log import system
from audittrail.log.append import NewRecord, append

# A used key's last_used_at, and a session's last_seen_at, are written at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# The actor of failed logins: not a user, and not whatever name was typed.
ANONYMOUS = "anonymous"
TYPED_EMAIL_LENGTH = 320
USER_AGENT_LENGTH = 256


class LoginFailed(Unauthenticated):
    def __init__(self) -> None:
        super().__init__("Email or password is wrong.")


class WrongPassword(Forbidden):
    """A signed-in user's current password, given to change it, is wrong: 403, not 401, as the
    caller is still signed in."""

    def __init__(self) -> None:
        super().__init__("The current password is wrong.", code="WRONG_PASSWORD")


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
            session, now=now, idle_since=idle_since(settings, now), token_hash=token_hash
        )
        if found is not None:
            return _signed_in(*found, now)
    raise Unauthenticated()


def idle_since(settings: Settings, now: datetime) -> datetime:
    """A session not used since then has gone idle, and ended."""
    return now - timedelta(seconds=settings.session_idle_seconds)


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
            session, now=now, idle_since=idle_since(settings, now), session_id=str(claims["sid"])
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
    """The record of a failed login. Its actor is `anonymous`, never what was typed: a guesser
    could type "system" or an API key's actor, and filtering by actor would find their records
    among those. What was typed is kept as data in params; the summary names only a known user
    (the email typed is then theirs)."""
    known = user_id is not None
    return system.new(
        event_type="auth.login_failed",
        summary=f"Failed login for {email}" if known else "Failed login for an unknown email",
        actor=ANONYMOUS,
        entity_type="user",
        entity_id=user_id,
        changes_registry=False,
        params={"reason": reason, "email": printable(email, TYPED_EMAIL_LENGTH)},
        category=system.SECURITY,
        severity="medium",
        ip_address=ip,
    )


def printable(text: str, length: int) -> str:
    """Text typed by anyone, as data: control and format characters (newlines, escapes,
    bidirectional overrides) dropped, at most `length` characters."""
    kept = (char for char in text if unicodedata.category(char) not in ("Cc", "Cf"))
    return "".join(kept)[:length]


async def login(
    session: AsyncSession,
    settings: Settings,
    attempt: LoginAttempt,
    *,
    ip: str | None,
    user_agent: str | None = None,
    replacing: str | None = None,
) -> LoginResult | None:
    """Start the session of an attempt whose password was right; None (its failure recorded,
    for the caller to commit) if the user was deactivated, or their password changed, since.

    ``replacing``: the session cookie the login presented, if any. Its session ends: each login
    gets a new token, and the browser's old one (perhaps planted by someone else, or copied)
    opens nothing after it.

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
    replaced = None
    if replacing:
        replaced = await repo.end_session_by_token(
            session, credentials.token_digest(replacing), now
        )
    session_token = credentials.new_session_token()
    auth_session = AuthSession(
        token_hash=credentials.token_digest(session_token),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=settings.session_lifetime_seconds),
        ip_address=ip[:45] if ip else None,
        user_agent=printable(user_agent, USER_AGENT_LENGTH) if user_agent else None,
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
    params = {"session_id": auth_session.id}
    if replaced is not None:
        params["replaced_session_id"] = replaced
    await system.write(
        session,
        event_type="auth.login",
        summary=f"{user.email} signed in",
        actor=user.email,
        entity_type="user",
        entity_id=user.id,
        changes_registry=False,
        params=params,
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
            await _revoke(session, api_key, user.updated_at, actor=actor, ip=ip, reason=reason)
    return user


async def change_password(
    session: AsyncSession,
    principal: Principal,
    attempt: LoginAttempt,
    new_hash: str,
    *,
    ip: str | None,
) -> None:
    """Set the signed-in user's new password, their current one checked (`check_password`) and
    the new one hashed (`password_hash`) before this transaction. Every other session of theirs
    ends; the one that changed it stays.

    Under the log's lock from the start, as a login is: if the password changed since it was
    checked, the check no longer holds (403, as for a wrong one).
    """
    assert attempt.failure is None and principal.session_id is not None
    await log_head.lock(session)
    user = await repo.user_by_id(session, principal.id)
    if user is None or user.password_hash != attempt.password_hash:
        raise WrongPassword()
    now = clock.now()
    user.password_hash = new_hash
    user.updated_at = now
    ended = await repo.end_sessions(session, user.id, now, keep=principal.session_id)
    await system.write(
        session,
        event_type="user.password_changed",
        summary=f"{user.email} changed their password",
        actor=principal.actor,
        entity_type="user",
        entity_id=user.id,
        changes_registry=True,
        params={"password": {"old": "[redacted]", "new": "[redacted]"}, "sessions_ended": ended},
        category=system.SECURITY,
        severity="medium",
        ip_address=ip,
    )


async def record_failed_password_change(
    queue: system.Queue, principal: Principal, *, ip: str | None
) -> None:
    """A wrong current password, recorded through the group commit as a failed login is."""
    record = system.new(
        event_type="user.password_change_failed",
        summary=f"{principal.name} gave a wrong current password",
        actor=principal.actor,
        entity_type="user",
        entity_id=principal.id,
        changes_registry=False,
        params={"reason": "wrong_password"},
        category=system.SECURITY,
        severity="medium",
        ip_address=ip,
    )
    await asyncio.shield(queue.submit([record]))


def own_session(principal: Principal) -> str:
    """The id of the caller's session; 400 NO_SESSION for an API key."""
    if principal.session_id is None:
        raise BadRequest("API keys have no sessions or password.", code="NO_SESSION")
    return principal.session_id


async def sessions_page(
    session: AsyncSession, settings: Settings, principal: Principal, *, offset: int, limit: int
) -> tuple[list[AuthSession], int]:
    """The caller's live sessions (not ended, expired or idle), newest first."""
    own_session(principal)
    now = clock.now()
    return await repo.live_sessions(
        session,
        principal.id,
        now=now,
        idle_since=idle_since(settings, now),
        offset=offset,
        limit=limit,
    )


async def end_own_session(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    session_id: str,
    *,
    ip: str | None,
) -> None:
    """End one of the caller's live sessions; 404 for any other, another user's included."""
    own_session(principal)
    now = clock.now()
    found = await repo.active_session(
        session, now=now, idle_since=idle_since(settings, now), session_id=session_id
    )
    if found is None or found[1].id != principal.id:
        raise NotFound(f"No session {session_id}.", code="SESSION_NOT_FOUND")
    await repo.end_session(session, session_id, now)
    await system.write(
        session,
        event_type="auth.session_revoked",
        summary=f"{principal.name} ended a session",
        actor=principal.actor,
        entity_type="user",
        entity_id=principal.id,
        changes_registry=False,
        params={"session_id": session_id},
        category=system.SECURITY,
        ip_address=ip,
    )


async def create_api_key(
    session: AsyncSession, request: ApiKeyCreate, *, creator: Principal, ip: str | None
) -> tuple[ApiKey, str]:
    now = clock.now()
    if request.expires_at is not None and request.expires_at.tzinfo is None:
        raise _bad_expiry("NAIVE_DATETIME", "expires_at needs a time zone.", "needs a time zone.")
    if request.expires_at is not None and request.expires_at <= now:
        raise _bad_expiry("EXPIRES_IN_PAST", "expires_at is in the past.", "must be in the future.")
    scopes = _requested_scopes(request)
    application_ids = await _bound_applications(session, request.applications, scopes)
    key = credentials.new_api_key()
    api_key = await _insert_api_key(
        session,
        name=request.name,
        key=key,
        scopes=scopes,
        created_by=creator.actor,
        user_id=creator.owner_id,
    )
    api_key.application_ids = application_ids
    api_key.expires_at = request.expires_at
    await system.write(
        session,
        event_type="api_key.created",
        summary=f"API key {api_key.name} ({api_key.prefix}…) created",
        actor=creator.actor,
        entity_type="api_key",
        entity_id=api_key.id,
        changes_registry=True,
        params={
            "name": {"old": None, "new": api_key.name},
            "scopes": {"old": None, "new": api_key.scopes},
            "applications": {"old": None, "new": application_ids},
        },
        category=system.SECURITY,
        ip_address=ip,
    )
    return api_key, key


def _requested_scopes(request: ApiKeyCreate) -> list[str]:
    if request.scopes is not None and request.roles is not None:
        problem = FieldProblem("body.roles", "SCOPES_AND_ROLES", "give scopes or roles, not both.")
        raise Unprocessable(
            "Give scopes or roles, not both.", code="SCOPES_AND_ROLES", details=[problem]
        )
    granted: frozenset[str]
    if request.scopes is not None:
        granted = frozenset(request.scopes)
    else:
        granted = scopes_of_roles(request.roles or [WRITER])
    return [scope for scope in SCOPES if scope in granted]


async def _bound_applications(
    session: AsyncSession, refs: list[str] | None, scopes: list[str]
) -> list[str] | None:
    """The ids of the applications a new key is bound to, each named by id or key."""
    if refs is None:
        return None
    reaching = sorted(UNBINDABLE_SCOPES.intersection(scopes))
    if reaching:
        problem = FieldProblem(
            "body.scopes", "SCOPE_NOT_BINDABLE", f"{', '.join(reaching)} reach beyond applications."
        )
        raise Unprocessable(
            f"A key bound to applications cannot hold {', '.join(reaching)}.",
            code="SCOPE_NOT_BINDABLE",
            details=[problem],
        )
    ids: list[str] = []
    problems: list[FieldProblem] = []
    for index, ref in enumerate(refs):
        application = await applications.find(session, ref)
        if application is None:
            problems.append(
                FieldProblem(
                    f"body.applications.{index}", "APPLICATION_NOT_FOUND", f"no application {ref}."
                )
            )
        elif application.id not in ids:
            ids.append(application.id)
    if problems:
        raise Unprocessable(
            "applications names an unregistered application.",
            code="APPLICATION_NOT_FOUND",
            details=problems,
        )
    return ids


async def application_refs(session: AsyncSession, keys: Sequence[ApiKey]) -> dict[str, str]:
    """The key of each application the given API keys are bound to, by id."""
    wanted = {app_id for api_key in keys for app_id in api_key.application_ids or ()}
    found = [await applications.find_by_id(session, app_id) for app_id in sorted(wanted)]
    return {application.id: application.key for application in found if application}


def _bad_expiry(code: str, message: str, problem: str) -> Unprocessable:
    """Names the field, as every 422 does, so a client can point at the wrong input."""
    return Unprocessable(
        message, code=code, details=[FieldProblem("body.expires_at", code, problem)]
    )


async def _insert_api_key(
    session: AsyncSession,
    *,
    name: str,
    key: str,
    scopes: Sequence[str],
    created_by: str,
    user_id: str | None,
) -> ApiKey:
    api_key = ApiKey(
        name=name,
        prefix=credentials.visible_prefix(key),
        key_hash=credentials.token_digest(key),
        scopes=list(scopes),
        created_by=created_by,
        user_id=user_id,
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
        raise _already_revoked(api_key)
    await _revoke(session, api_key, clock.now(), actor=actor, ip=ip)
    return api_key


def _already_revoked(api_key: ApiKey) -> Conflict:
    return Conflict(f"API key {api_key.name} is already revoked.", code="API_KEY_REVOKED")


async def _revoke(
    session: AsyncSession,
    api_key: ApiKey,
    at: datetime,
    *,
    actor: str,
    ip: str | None,
    reason: str | None = None,
) -> None:
    api_key.revoked_at = at
    params: dict[str, object] = {"revoked_at": {"old": None, "new": api_key.revoked_at.isoformat()}}
    if reason is not None:
        params["reason"] = reason
    await system.write(
        session,
        event_type="api_key.revoked",
        summary=f"API key {api_key.name} ({api_key.prefix}…) revoked",
        actor=actor,
        entity_type="api_key",
        entity_id=api_key.id,
        changes_registry=True,
        params=params,
        category=system.SECURITY,
        severity="medium",
        ip_address=ip,
    )


async def rotate_api_key(
    session: AsyncSession, key_id: str, grace: timedelta, *, actor: str, ip: str | None
) -> tuple[ApiKey, str]:
    """A new secret for the key, returned once; the old one works for `grace` more (none: not
    at all), so that its clients can move over. A secret from before an earlier rotation stops
    at once: a key has one previous secret at most.

    Under the log's lock from the start: of two rotations at once, each hands out a secret
    that works. Its record changes the registry, so no process goes on with the key it kept.
    """
    await log_head.lock(session)
    api_key = await get_api_key(session, key_id)
    now = clock.now()
    if api_key.revoked_at is not None:
        raise _already_revoked(api_key)
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise Conflict(f"API key {api_key.name} has expired.", code="API_KEY_EXPIRED")
    key = credentials.new_api_key()
    old_prefix, valid_until = api_key.prefix, now + grace if grace else None
    api_key.previous_key_hash = api_key.key_hash if valid_until else None
    api_key.previous_valid_until = valid_until
    api_key.key_hash = credentials.token_digest(key)
    api_key.prefix = credentials.visible_prefix(key)
    await system.write(
        session,
        event_type="api_key.rotated",
        summary=f"API key {api_key.name} ({api_key.prefix}…) rotated",
        actor=actor,
        entity_type="api_key",
        entity_id=api_key.id,
        changes_registry=True,
        params={
            "prefix": {"old": old_prefix, "new": api_key.prefix},
            "previous_valid_until": valid_until.isoformat() if valid_until else None,
        },
        category=system.SECURITY,
        severity="medium",
        ip_address=ip,
    )
    return api_key, key


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

"""Logins and sessions: signing in and out, one's own sessions and password; failures recorded."""

from __future__ import annotations

import asyncio
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock
from audittrail.access import Principal
from audittrail.auth import credentials
from audittrail.auth import repository as repo
from audittrail.config import Settings
from audittrail.db.models import AuthSession
from audittrail.errors import BadRequest, Forbidden, NotFound, Unauthenticated
from audittrail.log import head as log_head
from audittrail.log import system
from audittrail.log.append import NewRecord, append

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


def idle_since(settings: Settings, now: datetime) -> datetime:
    """A session not used since then has gone idle, and ended."""
    return now - timedelta(seconds=settings.session_idle_seconds)


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


async def change_password(
    session: AsyncSession,
    principal: Principal,
    attempt: LoginAttempt,
    new_hash: str,
    *,
    ip: str | None,
) -> None:
    """Set the signed-in user's new password, their current one checked (`check_password`) and
    the new one hashed (`users.password_hash`) before this transaction. Every other session of
    theirs ends; the one that changed it stays.

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

"""API keys: creating, listing, revoking and rotating them; every change leaves a system record."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock
from audittrail.access import (
    ROLE_SCOPES,
    SCOPES,
    UNBINDABLE_SCOPES,
    WRITER,
    Principal,
    scopes_of_roles,
)
from audittrail.applications import service as applications
from audittrail.auth import credentials
from audittrail.auth import repository as repo
from audittrail.auth.schemas import ApiKeyCreate
from audittrail.db.models import ApiKey
from audittrail.errors import Conflict, FieldProblem, NotFound, Unprocessable
from audittrail.log import head as log_head
from audittrail.log import system

# What a new key may do when it is given neither scopes nor roles: a writer's.
DEFAULT_SCOPES = ROLE_SCOPES[WRITER]


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
    api_key = await insert_api_key(
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
        granted = scopes_of_roles(request.roles) if request.roles is not None else DEFAULT_SCOPES
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


async def insert_api_key(
    session: AsyncSession,
    *,
    name: str,
    key: str,
    scopes: Sequence[str],
    created_by: str,
    user_id: str | None,
) -> ApiKey:
    """A new key, stored by its hash; 409 API_KEY_EXISTS for a name in use."""
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
    await revoke(session, api_key, clock.now(), actor=actor, ip=ip)
    return api_key


def _already_revoked(api_key: ApiKey) -> Conflict:
    return Conflict(f"API key {api_key.name} is already revoked.", code="API_KEY_REVOKED")


async def revoke(
    session: AsyncSession,
    api_key: ApiKey,
    at: datetime,
    *,
    actor: str,
    ip: str | None,
    reason: str | None = None,
) -> None:
    """Revoke the key as of `at`, with its record; `reason`, if given, says why."""
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

"""The current principal, from any of the three ways the contract allows, and role checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from audittrail.auth import service
from audittrail.auth.principal import ADMIN, READER, WRITER, Principal
from audittrail.db.engine import Database
from audittrail.deps import ReadSession, get_database, get_settings
from audittrail.errors import Forbidden

SESSION_COOKIE = "antidote_session"

bearer_scheme = HTTPBearer(
    auto_error=False, description="An API key or an access token from POST /api/auth/login."
)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="The session cookie set by login."
)


async def presented_credentials(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
    session_cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> service.Credentials:
    return service.Credentials(
        bearer=bearer.credentials if bearer else None,
        api_key=api_key,
        session_cookie=session_cookie,
    )


Presented = Annotated[service.Credentials, Depends(presented_credentials)]


async def credentials_of(request: Request) -> service.Credentials:
    """The same as `Presented`, for a route that takes the request alone: read by the same
    schemes, without FastAPI resolving them as dependencies on every request (records/routes)."""
    return await presented_credentials(
        await bearer_scheme(request), await api_key_scheme(request), await cookie_scheme(request)
    )


async def current_principal(
    request: Request, background: BackgroundTasks, presented: Presented, session: ReadSession
) -> Principal:
    """The caller, looked up on the request's read session: a route that reads shares it (one
    session, not two, per request). Other methods give its connection back at once: held while
    they wait for a write connection, a burst of writes could take every one in the pool."""
    authenticated = await service.authenticate(session, get_settings(request), presented)
    if request.method not in ("GET", "HEAD"):
        await session.close()
    touch_later(background, get_database(request), authenticated)
    return authenticated.principal


def touch_later(
    background: BackgroundTasks, database: Database, authenticated: service.Authenticated
) -> None:
    """Note an API key's use after the response, at most once per LAST_USED_RESOLUTION."""
    if authenticated.api_key_needs_touch:
        background.add_task(_touch_api_key, database, authenticated.principal.id)


async def _touch_api_key(database: Database, key_id: str) -> None:
    async with database.write_session() as session:
        await service.touch_api_key(session, key_id)


def require_roles(principal: Principal, *roles: str) -> Principal:
    """The principal, if it holds one of the roles (admin always does); else 403."""
    if not principal.has_any(*roles):
        raise Forbidden(f"This needs one of the roles: {', '.join((ADMIN, *roles))}.")
    return principal


def _requires(*roles: str) -> object:
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        return require_roles(principal, *roles)

    return Depends(check)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Admin = Annotated[Principal, _requires()]
Writer = Annotated[Principal, _requires(WRITER)]
Reader = Annotated[Principal, _requires(READER)]
# Applications are read by the services that write records, to learn their params.
ReaderOrWriter = Annotated[Principal, _requires(READER, WRITER)]

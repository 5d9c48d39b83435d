"""Who is calling and what they may do: credentials, principals, and the one authorization check.

Every route that requires a role authorizes through `authorize`: the FastAPI routes by the
dependency aliases below (`Admin`, `Reader`, ...), the raw-ASGI ingest routes
(records/ingest.py) by calling it themselves. Authentication itself is the auth domain's
(auth/service.py): the app puts its `Authenticator` on `app.state.authenticator`, so that every
layer, the log's routes included, can require a principal without importing a domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

from fastapi import BackgroundTasks, Depends, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.deps import ReadSession
from audittrail.errors import Forbidden

ADMIN = "admin"
WRITER = "writer"
READER = "reader"

SESSION_COOKIE = "antidote_session"


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "api_key"]
    id: str
    name: str
    roles: tuple[str, ...]
    session_id: str | None = None

    @property
    def actor(self) -> str:
        """The record's actor: the user's email, or api_key:<key name>."""
        return self.name if self.kind == "user" else f"api_key:{self.name}"

    def has_any(self, *roles: str) -> bool:
        return ADMIN in self.roles or any(role in self.roles for role in roles)


def authorize(principal: Principal, *roles: str) -> Principal:
    """The principal, if it holds one of the roles (admin always does); else 403."""
    if not principal.has_any(*roles):
        raise Forbidden(f"This needs one of the roles: {', '.join((ADMIN, *roles))}.")
    return principal


@dataclass(frozen=True)
class Credentials:
    """What a request presented; at most one of them is used, in this order."""

    bearer: str | None = None
    api_key: str | None = None
    session_cookie: str | None = None

    def used_api_key(self) -> str | None:
        """The API key that decides who is calling, if the credential used is one."""
        if self.bearer:
            return None if _looks_like_jwt(self.bearer) else self.bearer
        return self.api_key or None


def _looks_like_jwt(token: str) -> bool:
    return token.startswith("eyJ") and token.count(".") == 2


@dataclass(frozen=True)
class Authenticated:
    principal: Principal
    api_key_needs_touch: bool = False
    """Whether the API key's last use should be noted (at most once a minute)."""


class Authenticator(Protocol):
    """Turns presented credentials into a principal (auth/service.py)."""

    async def authenticate(self, session: AsyncSession, presented: Credentials) -> Authenticated:
        """Who presented these; 401 for anything but a valid, current credential."""

    async def touch(self, principal: Principal) -> None:
        """Note an API key's use, in a transaction of its own."""


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
) -> Credentials:
    return Credentials(
        bearer=bearer.credentials if bearer else None,
        api_key=api_key,
        session_cookie=session_cookie,
    )


async def credentials_of(request: Request) -> Credentials:
    """The same as `presented_credentials`, for a route that takes the request alone: read by the
    same schemes, without FastAPI resolving them as dependencies on every request."""
    return await presented_credentials(
        await bearer_scheme(request), await api_key_scheme(request), await cookie_scheme(request)
    )


def authenticator_of(request: Request) -> Authenticator:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


def touch_later(
    background: BackgroundTasks, authenticator: Authenticator, authenticated: Authenticated
) -> None:
    """Note an API key's use after the response, at most once a minute."""
    if authenticated.api_key_needs_touch:
        background.add_task(authenticator.touch, authenticated.principal)


async def current_principal(
    request: Request,
    background: BackgroundTasks,
    presented: Annotated[Credentials, Depends(presented_credentials)],
    session: ReadSession,
) -> Principal:
    """The caller, looked up on the request's read session: a route that reads shares it (one
    session, not two, per request). Other methods give its connection back at once: held while
    they wait for a write connection, a burst of writes could take every one in the pool."""
    authenticator = authenticator_of(request)
    authenticated = await authenticator.authenticate(session, presented)
    if request.method not in ("GET", "HEAD"):
        await session.close()
    touch_later(background, authenticator, authenticated)
    return authenticated.principal


def _requires(*roles: str) -> object:
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        return authorize(principal, *roles)

    return Depends(check)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Admin = Annotated[Principal, _requires()]
Reader = Annotated[Principal, _requires(READER)]
# Applications are read by the services that write records, to learn their params.
ReaderOrWriter = Annotated[Principal, _requires(READER, WRITER)]

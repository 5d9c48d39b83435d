"""Who is calling and what they may do: credentials, principals, and the one authorization check.

Every route that requires a role authorizes through `authorize`: the FastAPI routes by the
dependency aliases below (`Admin`, `Reader`, ...), the raw-ASGI ingest routes
(records/ingest.py) by calling it themselves. Authentication itself is the auth domain's
(auth/service.py): the app puts its `Authenticator` on `app.state.authenticator`, so that every
layer, the log's routes included, can require a principal without importing a domain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

from fastapi import BackgroundTasks, Depends, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import logs, throttle
from audittrail.config import normal_origin
from audittrail.deps import ReadSession, get_settings, request_scheme
from audittrail.errors import Forbidden

# Roles are for people; each stands for a set of scopes, and scopes are what routes require.
ADMIN = "admin"
WRITER = "writer"
READER = "reader"
AUDITOR = "auditor"

RECORDS_WRITE = "records:write"
RECORDS_READ = "records:read"
STATS_READ = "stats:read"
EXPORT = "export"
APPLICATIONS_READ = "applications:read"
APPLICATIONS_WRITE = "applications:write"
LOG_READ = "log:read"
ADMIN_SCOPE = "admin"
SCOPES = (
    RECORDS_WRITE,
    RECORDS_READ,
    STATS_READ,
    EXPORT,
    APPLICATIONS_READ,
    APPLICATIONS_WRITE,
    LOG_READ,
    ADMIN_SCOPE,
)

ROLE_SCOPES: dict[str, frozenset[str]] = {
    ADMIN: frozenset(SCOPES),
    # Services that write records read their applications, to learn the params to send.
    WRITER: frozenset({RECORDS_WRITE, APPLICATIONS_READ}),
    READER: frozenset({RECORDS_READ, STATS_READ, APPLICATIONS_READ}),
    # Auditors check the log: records, proofs and the log's own bytes; stats and exports.
    AUDITOR: frozenset({RECORDS_READ, STATS_READ, EXPORT, LOG_READ}),
}

# Scopes a key bound to applications may not hold: each reaches beyond its applications.
UNBINDABLE_SCOPES = frozenset({ADMIN_SCOPE, APPLICATIONS_WRITE, LOG_READ})

SESSION_COOKIE = "antidote_session"


def scopes_of_roles(roles: Iterable[str]) -> frozenset[str]:
    return frozenset().union(*(ROLE_SCOPES[role] for role in roles))


@dataclass(frozen=True)
class Visibility:
    """Which records a principal may see, and how: the one filter every read of records applies.

    Records are read through `records.query.RecordQuery`, which cannot be built without one, and
    `Visibility.allows` for a single record; a record outside it is "not found", never
    "forbidden", so a bound key learns nothing of other applications' records.
    """

    application_ids: frozenset[str] | None
    """The applications whose records are visible; None: every record, with or without one."""
    sees_sensitive: bool
    """Whether params registered as sensitive show their values (admins only)."""

    def allows(self, application_id: str | None) -> bool:
        return self.application_ids is None or application_id in self.application_ids


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "api_key"]
    id: str
    name: str
    scopes: frozenset[str]
    roles: tuple[str, ...] = ()
    """A user's roles (what their scopes come from); empty for API keys."""
    applications: frozenset[str] | None = None
    """The ids of the applications an API key is bound to; None: not bound."""
    session_id: str | None = None
    owner_id: str | None = None
    """The user on whose authority it acts: the user, or the user an API key was made by (a key
    made with a key inherits its owner); None for the bootstrap key and its descendants."""

    @property
    def actor(self) -> str:
        """The record's actor: the user's email, or api_key:<key name>."""
        return self.name if self.kind == "user" else f"api_key:{self.name}"

    @property
    def is_admin(self) -> bool:
        return ADMIN_SCOPE in self.scopes

    def holds(self, scope: str) -> bool:
        return self.is_admin or scope in self.scopes

    @property
    def visibility(self) -> Visibility:
        return Visibility(self.applications, sees_sensitive=self.is_admin)

    def may_name(self, application_id: str | None) -> bool:
        """Whether records it writes may name this application (None: no application)."""
        return self.applications is None or application_id in self.applications


def authorize(principal: Principal, scope: str) -> Principal:
    """The principal, if it holds the scope (the admin scope holds every one); else 403.

    The one authorization check: every route that requires more than a signed-in caller
    calls it, through the dependency aliases below or (the ingest routes) directly.
    """
    if not principal.holds(scope):
        raise Forbidden(f"This needs the scope {scope}.")
    return principal


@dataclass(frozen=True)
class Credentials:
    """What a request presented; at most one of them is used, in this order."""

    bearer: str | None = None
    api_key: str | None = None
    session_cookie: str | None = None

    def uses_session_cookie(self) -> bool:
        """Whether the session cookie decides who is calling: what a browser sends by itself."""
        return not self.bearer and not self.api_key and bool(self.session_cookie)

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
    session_needs_touch: bool = False
    """Whether the session's last use should be noted (at most once a minute): idle sessions
    end."""


class Authenticator(Protocol):
    """Turns presented credentials into a principal (auth/service.py)."""

    async def authenticate(self, session: AsyncSession, presented: Credentials) -> Authenticated:
        """Who presented these; 401 for anything but a valid, current credential."""

    async def touch(self, principal: Principal) -> None:
        """Note the use of an API key or of a user's session, in a transaction of its own."""


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
    """Note a key's or a session's use after the response, at most once a minute."""
    if authenticated.api_key_needs_touch or authenticated.session_needs_touch:
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
    check_origin(request, presented)
    logs.note_credential(request.scope, authenticated.principal.actor)
    if request.method not in ("GET", "HEAD"):
        await session.close()
    await throttle.admit(request, authenticated.principal)
    touch_later(background, authenticator, authenticated)
    return authenticated.principal


def check_origin(request: Request, presented: Credentials) -> None:
    """403 CSRF_REJECTED for a change (any method but GET, HEAD, OPTIONS) made with the session
    cookie from anywhere but this site's own pages, or those of AUDITTRAIL_ALLOWED_ORIGINS.

    A browser sends the cookie with a form or fetch from any site (SameSite=Lax stops only some
    of them), but it also says where the request comes from: Sec-Fetch-Site, else Origin.
    Neither is a request with no say, refused too: a client that is no browser has a key or a
    token to send instead. Called right after authenticating (bad credentials are the same 401
    as ever) and before the use is noted, so a forged request does nothing, not even keep the
    session from going idle. Bearer and API-key calls are not checked: no browser sends those
    by itself.
    """
    if request.method in throttle.SAFE_METHODS or not presented.uses_session_cookie():
        return
    if request.headers.get("sec-fetch-site") in ("same-origin", "none"):
        return
    origin = normal_origin(request.headers.get("origin", ""))
    if origin is not None:
        own = normal_origin(f"{request_scheme(request)}://{request.headers.get('host', '')}")
        if origin == own or origin in get_settings(request).allowed_origins:
            return
    raise Forbidden(
        "A change made with the session cookie must come from this site's own pages.",
        code="CSRF_REJECTED",
    )


def _requires(scope: str) -> object:
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        return authorize(principal, scope)

    return Depends(check)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Admin = Annotated[Principal, _requires(ADMIN_SCOPE)]
RecordsReader = Annotated[Principal, _requires(RECORDS_READ)]
StatsReader = Annotated[Principal, _requires(STATS_READ)]
Exporter = Annotated[Principal, _requires(EXPORT)]
ApplicationsReader = Annotated[Principal, _requires(APPLICATIONS_READ)]
ApplicationsWriter = Annotated[Principal, _requires(APPLICATIONS_WRITE)]
LogReader = Annotated[Principal, _requires(LOG_READ)]

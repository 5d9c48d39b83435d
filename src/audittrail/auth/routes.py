"""HTTP routes: login, logout and me; the management of users and API keys (admins only)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.access import SESSION_COOKIE, Admin, CurrentPrincipal
from audittrail.auth import keys, lockout, sessions, users
from audittrail.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyResponse,
    ApiKeyRotate,
    ApplicationRef,
    LoginRequest,
    MeResponse,
    PasswordChange,
    SessionResponse,
    TokenResponse,
    UserCreate,
    UserResponse,
    UserUpdate,
)
from audittrail.config import Settings
from audittrail.db.models import ApiKey
from audittrail.deps import (
    ClientIP,
    DatabaseDep,
    ReadSession,
    SettingsDep,
    WriteSession,
    request_scheme,
)
from audittrail.handlers import error_response
from audittrail.log import system
from audittrail.pagination import PageMeta, Pages

auth_router = APIRouter(prefix="/api/auth", tags=["auth"])
users_router = APIRouter(prefix="/api/users", tags=["users"])
api_keys_router = APIRouter(prefix="/api/api-keys", tags=["api keys"])


@auth_router.post(
    "/login",
    response_model=TokenResponse,
    summary="Sign in",
    description="Checks email and password; answers an access token for `Authorization: Bearer` "
    "and sets the `antidote_session` cookie. Both end at logout.",
    responses={
        401: {"description": "Email or password is wrong."},
        429: {"description": "The account or address is locked out (LOGIN_THROTTLED)."},
    },
)
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    checking: ReadSession,
    database: DatabaseDep,
    settings: SettingsDep,
    ip: ClientIP,
) -> TokenResponse | Response:
    # Counted before the password is checked (a slot of the throttle's, kept by a failure): at
    # most the limit's number of guesses reach argon2, however many come at once, and a
    # locked-out guesser costs none.
    login_throttle = await lockout.admit(request, body.email, ip)
    # The password is checked before any write: argon2 must never hold the log's lock.
    attempt = await sessions.check_password(checking, body.email, body.password.get_secret_value())
    await checking.close()
    result = None
    if attempt.failure is None:
        async with database.write_session() as session:
            result = await sessions.login(
                session,
                settings,
                attempt,
                ip=ip,
                user_agent=request.headers.get("user-agent"),
                replacing=request.cookies.get(SESSION_COOKIE),
            )
    if result is None:  # a failure; sessions.login records its own (the user changed since)
        queue: system.Queue = request.app.state.writer
        lockouts = await login_throttle.failed(attempt.user_id)
        if attempt.failure is not None:
            await sessions.record_failed_login(queue, attempt, ip=ip)
        await lockout.record(queue, lockouts)
        return error_response(sessions.LoginFailed())  # the failure's record is committed
    await login_throttle.succeeded()
    response.set_cookie(
        SESSION_COOKIE,
        result.session_token,
        max_age=settings.session_lifetime_seconds,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, settings),
        path="/",
    )
    return TokenResponse(access_token=result.access_token, expires_in=result.expires_in)


def cookie_secure(request: Request, settings: Settings) -> bool:
    """Whether the session cookie is sent over https only: as configured, or (auto) if the client
    came over https, behind a trusted proxy as it told (deps.request_scheme)."""
    if settings.secure_cookie == "auto":
        return request_scheme(request) == "https"
    return settings.secure_cookie == "always"


@auth_router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out",
    description="Ends the session behind the cookie or access token.",
)
async def logout(principal: CurrentPrincipal, session: WriteSession, ip: ClientIP) -> Response:
    await sessions.logout(session, principal, ip=ip)
    return _signed_out()


def _signed_out() -> Response:
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


class SessionPage(PageMeta):
    sessions: list[SessionResponse]


@auth_router.get(
    "/sessions",
    response_model=SessionPage,
    summary="My sessions",
    description="The caller's sessions that have not ended, newest first; `current` marks the "
    "one this request used. For signed-in users: an API key gets 400 NO_SESSION.",
)
async def list_sessions(
    principal: CurrentPrincipal, session: ReadSession, settings: SettingsDep, pages: Pages
) -> SessionPage:
    found, total = await sessions.sessions_page(
        session, settings, principal, offset=pages.offset, limit=pages.page_size
    )
    shown = [
        SessionResponse.model_validate(
            {
                **{name: getattr(row, name) for name in _SESSION_FIELDS},
                "current": row.id == principal.session_id,
            }
        )
        for row in found
    ]
    return SessionPage(sessions=shown, **pages.meta(total))


_SESSION_FIELDS = tuple(name for name in SessionResponse.model_fields if name != "current")


@auth_router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End one of my sessions",
    description="Ends it at once, cookie and access token; 404 for a session not the caller's. "
    "Ending the current one signs out.",
)
async def end_session(
    session_id: str,
    principal: CurrentPrincipal,
    session: WriteSession,
    settings: SettingsDep,
    ip: ClientIP,
) -> Response:
    await sessions.end_own_session(session, settings, principal, session_id, ip=ip)
    if session_id == principal.session_id:
        return _signed_out()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth_router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change my password",
    description="Needs the current password (403 WRONG_PASSWORD if it is wrong); the new one "
    "must pass the password policy (422 PASSWORD_TOO_WEAK). Every other session of the user "
    "ends; this one stays. Wrong current passwords count as the account's failed logins: past "
    "the limit, 429 LOGIN_THROTTLED with Retry-After, before the password is checked.",
    responses={429: {"description": "The account is locked out (LOGIN_THROTTLED)."}},
)
async def change_password(
    body: PasswordChange,
    request: Request,
    principal: CurrentPrincipal,
    checking: ReadSession,
    database: DatabaseDep,
    ip: ClientIP,
) -> Response:
    sessions.own_session(principal)
    # The account's login throttle, counted before the current password is checked: a stolen
    # session guesses no faster here than at login, and its guesses add up with the logins'.
    password_throttle = await lockout.admit_password_change(request, principal.name, ip)
    # Both argon2 steps before any write: they must never hold the log's lock.
    attempt = await sessions.check_password(
        checking, principal.name, body.current_password.get_secret_value()
    )
    await checking.close()
    if attempt.failure is not None or attempt.user_id != principal.id:
        queue: system.Queue = request.app.state.writer
        lockouts = await password_throttle.failed(principal.id)
        await sessions.record_failed_password_change(queue, principal, ip=ip)
        await lockout.record(queue, lockouts)
        return error_response(sessions.WrongPassword())  # the failure's record is committed
    await password_throttle.succeeded()  # the right password, whatever becomes of the new one
    new_hash = await users.password_hash(
        body.new_password, email=principal.name, field="body.new_password"
    )
    assert new_hash is not None
    async with database.write_session() as session:
        await sessions.change_password(session, principal, attempt, new_hash, ip=ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth_router.get("/me", response_model=MeResponse, summary="Who am I")
async def me(principal: CurrentPrincipal) -> MeResponse:
    return MeResponse(
        kind=principal.kind,
        id=principal.id,
        email=principal.name if principal.kind == "user" else None,
        name=principal.name,
        actor=principal.actor,
        roles=list(principal.roles),
        scopes=sorted(principal.scopes),
        applications=None if principal.applications is None else sorted(principal.applications),
    )


class UserPage(PageMeta):
    users: list[UserResponse]


@users_router.post("", status_code=status.HTTP_201_CREATED, response_model=UserResponse)
async def create_user(
    body: UserCreate, principal: Admin, database: DatabaseDep, ip: ClientIP
) -> UserResponse:
    password_hash = await users.password_hash(body.password, email=body.email)
    assert password_hash is not None
    async with database.write_session() as session:
        user = await users.create_user(session, body, password_hash, actor=principal.actor, ip=ip)
    return UserResponse.model_validate(user)


@users_router.get("", response_model=UserPage)
async def list_users(_: Admin, session: ReadSession, pages: Pages) -> UserPage:
    found, total = await users.users_page(session, offset=pages.offset, limit=pages.page_size)
    return UserPage(users=[UserResponse.model_validate(u) for u in found], **pages.meta(total))


@users_router.get("/{user_id}", response_model=UserResponse)
async def get_user(user_id: str, _: Admin, session: ReadSession) -> UserResponse:
    return UserResponse.model_validate(await users.get_user(session, user_id))


@users_router.patch("/{user_id}", response_model=UserResponse)
async def update_user(
    user_id: str,
    body: UserUpdate,
    principal: Admin,
    checking: ReadSession,
    database: DatabaseDep,
    ip: ClientIP,
) -> UserResponse:
    password_hash = None
    if body.password is not None:  # checked against the user's email, hashed before the write
        email = (await users.get_user(checking, user_id)).email
        await checking.close()
        password_hash = await users.password_hash(body.password, email=email)
    async with database.write_session() as session:
        user = await users.update_user(
            session, user_id, body, password_hash, actor=principal.actor, ip=ip
        )
    return UserResponse.model_validate(user)


class ApiKeyPage(PageMeta):
    api_keys: list[ApiKeyResponse]


@api_keys_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    description="Creates a key. The secret is in this response only; it is stored as a hash.",
)
async def create_api_key(
    body: ApiKeyCreate, principal: Admin, session: WriteSession, ip: ClientIP
) -> ApiKeyCreated:
    api_key, key = await keys.create_api_key(session, body, creator=principal, ip=ip)
    response = await _key_responses(session, [api_key])
    return ApiKeyCreated.model_validate({**response[0].model_dump(), "key": key})


async def _key_responses(session: AsyncSession, api_keys: list[ApiKey]) -> list[ApiKeyResponse]:
    refs = await keys.application_refs(session, api_keys)
    return [
        ApiKeyResponse.model_validate(
            {
                **{name: getattr(api_key, name) for name in _KEY_FIELDS},
                "applications": None
                if api_key.application_ids is None
                else [ApplicationRef(id=i, key=refs.get(i, "")) for i in api_key.application_ids],
            }
        )
        for api_key in api_keys
    ]


_KEY_FIELDS = tuple(name for name in ApiKeyResponse.model_fields if name != "applications")


@api_keys_router.get("", response_model=ApiKeyPage)
async def list_api_keys(_: Admin, session: ReadSession, pages: Pages) -> ApiKeyPage:
    found, total = await keys.api_keys_page(session, offset=pages.offset, limit=pages.page_size)
    return ApiKeyPage(api_keys=await _key_responses(session, found), **pages.meta(total))


@api_keys_router.get("/{key_id}", response_model=ApiKeyResponse)
async def get_api_key(key_id: str, _: Admin, session: ReadSession) -> ApiKeyResponse:
    return (await _key_responses(session, [await keys.get_api_key(session, key_id)]))[0]


@api_keys_router.delete(
    "/{key_id}",
    response_model=ApiKeyResponse,
    description="Revokes the key at once. The key stays listed, with `revoked_at` set.",
)
async def revoke_api_key(
    key_id: str, principal: Admin, session: WriteSession, ip: ClientIP
) -> ApiKeyResponse:
    api_key = await keys.revoke_api_key(session, key_id, actor=principal.actor, ip=ip)
    return (await _key_responses(session, [api_key]))[0]


@api_keys_router.post(
    "/{key_id}/rotate",
    response_model=ApiKeyCreated,
    description="Gives the key a new secret, in this response only. The old secret works for "
    "`grace_seconds` more (default AUDITTRAIL_API_KEY_ROTATION_GRACE_SECONDS; 0: not at all), "
    "until `previous_valid_until`; a secret from before an earlier rotation stops at once.",
)
async def rotate_api_key(
    key_id: str,
    principal: Admin,
    session: WriteSession,
    settings: SettingsDep,
    ip: ClientIP,
    body: ApiKeyRotate | None = None,
) -> ApiKeyCreated:
    grace_seconds = body.grace_seconds if body else None
    if grace_seconds is None:
        grace_seconds = settings.api_key_rotation_grace_seconds
    api_key, key = await keys.rotate_api_key(
        session, key_id, timedelta(seconds=grace_seconds), actor=principal.actor, ip=ip
    )
    response = await _key_responses(session, [api_key])
    return ApiKeyCreated.model_validate({**response[0].model_dump(), "key": key})

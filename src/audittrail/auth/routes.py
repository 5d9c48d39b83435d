"""HTTP routes: login, logout and me; the management of users and API keys (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from audittrail.access import SESSION_COOKIE, Admin, CurrentPrincipal
from audittrail.auth import service
from audittrail.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyResponse,
    LoginRequest,
    MeResponse,
    TokenResponse,
    UserCreate,
    UserResponse,
    UserUpdate,
)
from audittrail.deps import ClientIP, DatabaseDep, ReadSession, SettingsDep, WriteSession
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
    responses={401: {"description": "Email or password is wrong."}},
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
    # The password is checked before any write: argon2 must never hold the log's lock.
    attempt = await service.check_password(checking, body.email, body.password.get_secret_value())
    await checking.close()
    result = None
    if attempt.failure is None:
        async with database.write_session() as session:
            result = await service.login(session, settings, attempt, ip=ip)
    else:
        queue: system.Queue = request.app.state.writer
        await service.record_failed_login(queue, attempt, ip=ip)
    if result is None:
        return error_response(service.LoginFailed())  # the failure's record is committed
    response.set_cookie(
        SESSION_COOKIE,
        result.session_token,
        max_age=settings.session_lifetime_seconds,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return TokenResponse(access_token=result.access_token, expires_in=result.expires_in)


@auth_router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out",
    description="Ends the session behind the cookie or access token.",
)
async def logout(principal: CurrentPrincipal, session: WriteSession, ip: ClientIP) -> Response:
    await service.logout(session, principal, ip=ip)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@auth_router.get("/me", response_model=MeResponse, summary="Who am I")
async def me(principal: CurrentPrincipal) -> MeResponse:
    return MeResponse(
        kind=principal.kind,
        id=principal.id,
        email=principal.name if principal.kind == "user" else None,
        name=principal.name,
        actor=principal.actor,
        roles=list(principal.roles),
    )


class UserPage(PageMeta):
    users: list[UserResponse]


@users_router.post("", status_code=status.HTTP_201_CREATED, response_model=UserResponse)
async def create_user(
    body: UserCreate, principal: Admin, database: DatabaseDep, ip: ClientIP
) -> UserResponse:
    password_hash = await service.password_hash(body.password)
    assert password_hash is not None
    async with database.write_session() as session:
        user = await service.create_user(session, body, password_hash, actor=principal.actor, ip=ip)
    return UserResponse.model_validate(user)


@users_router.get("", response_model=UserPage)
async def list_users(_: Admin, session: ReadSession, pages: Pages) -> UserPage:
    users, total = await service.users_page(session, offset=pages.offset, limit=pages.page_size)
    return UserPage(users=[UserResponse.model_validate(u) for u in users], **pages.meta(total))


@users_router.get("/{user_id}", response_model=UserResponse)
async def get_user(user_id: str, _: Admin, session: ReadSession) -> UserResponse:
    return UserResponse.model_validate(await service.get_user(session, user_id))


@users_router.patch("/{user_id}", response_model=UserResponse)
async def update_user(
    user_id: str, body: UserUpdate, principal: Admin, database: DatabaseDep, ip: ClientIP
) -> UserResponse:
    password_hash = await service.password_hash(body.password)
    async with database.write_session() as session:
        user = await service.update_user(
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
    api_key, key = await service.create_api_key(session, body, actor=principal.actor, ip=ip)
    return ApiKeyCreated.model_validate(
        {**ApiKeyResponse.model_validate(api_key).model_dump(), "key": key}
    )


@api_keys_router.get("", response_model=ApiKeyPage)
async def list_api_keys(_: Admin, session: ReadSession, pages: Pages) -> ApiKeyPage:
    keys, total = await service.api_keys_page(session, offset=pages.offset, limit=pages.page_size)
    return ApiKeyPage(
        api_keys=[ApiKeyResponse.model_validate(k) for k in keys], **pages.meta(total)
    )


@api_keys_router.get("/{key_id}", response_model=ApiKeyResponse)
async def get_api_key(key_id: str, _: Admin, session: ReadSession) -> ApiKeyResponse:
    return ApiKeyResponse.model_validate(await service.get_api_key(session, key_id))


@api_keys_router.delete(
    "/{key_id}",
    response_model=ApiKeyResponse,
    description="Revokes the key at once. The key stays listed, with `revoked_at` set.",
)
async def revoke_api_key(
    key_id: str, principal: Admin, session: WriteSession, ip: ClientIP
) -> ApiKeyResponse:
    api_key = await service.revoke_api_key(session, key_id, actor=principal.actor, ip=ip)
    return ApiKeyResponse.model_validate(api_key)

"""Fixtures and helpers for the authentication tests: a movable clock, users, keys, logins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from audittrail import clock
from audittrail.app import create_app
from audittrail.auth import credentials
from audittrail.config import Settings
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, CLIENT_ADDRESS, make_client

LOGIN = "/api/auth/login"
LOGOUT = "/api/auth/logout"
ME = "/api/auth/me"
USERS = "/api/users"
API_KEYS = "/api/api-keys"
SESSION_COOKIE = "antidote_session"

UNAUTHENTICATED = {
    "error": {"code": "UNAUTHENTICATED", "message": "Missing, invalid or expired credentials."}
}
LOGIN_FAILED = {"error": {"code": "UNAUTHENTICATED", "message": "Email or password is wrong."}}
ADMIN_ONLY = {"error": {"code": "FORBIDDEN", "message": "This needs the scope admin."}}
# What a browser says of a request from the app's own pages (access.check_origin).
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def assert_unauthenticated(
    response: httpx.Response, body: dict[str, Any] = UNAUTHENTICATED
) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == body


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id still, at its cheapest: these tests hash and verify hundreds of passwords."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(credentials, "_hasher", cheap)


class MovableClock:
    """audittrail.clock.now, held still at the instant the test began and moved only forward by
    the test. Held, not running: a test standing five seconds before a boundary (a key's expiry,
    a session's idle time) must not be carried past it by a machine that stalls for longer."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def moved_clock(monkeypatch: pytest.MonkeyPatch) -> MovableClock:
    movable = MovableClock()
    monkeypatch.setattr(clock, "now", movable.now)
    return movable


@dataclass(frozen=True)
class Login:
    """What one successful login handed out: the access token and the session cookie."""

    access_token: str
    cookie: str
    response: httpx.Response

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def cookie_header(self) -> dict[str, str]:
        """The cookie, sent as a browser sends it from the app's own pages."""
        return {"Cookie": f"{SESSION_COOKIE}={self.cookie}", **SAME_ORIGIN}


LogIn = Callable[..., Awaitable[Login]]


@pytest.fixture
def log_in(app: FastAPI) -> LogIn:
    """Signs in from a fresh client, so no other test client's cookie jar is touched."""

    async def log_in(email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> Login:
        async with make_client(app) as fresh:
            response = await fresh.post(LOGIN, json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return Login(response.json()["access_token"], response.cookies[SESSION_COOKIE], response)

    return log_in


CreateUser = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def create_user(client: httpx.AsyncClient) -> CreateUser:
    async def create_user(email: str, password: str, roles: list[str]) -> dict[str, Any]:
        response = await client.post(
            USERS, json={"email": email, "password": password, "roles": roles}
        )
        assert response.status_code == 201, response.text
        user: dict[str, Any] = response.json()
        return user

    return create_user


CreateKey = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def create_key(client: httpx.AsyncClient) -> CreateKey:
    async def create_key(name: str, roles: list[str], **fields: Any) -> dict[str, Any]:
        response = await client.post(API_KEYS, json={"name": name, "roles": roles, **fields})
        assert response.status_code == 201, response.text
        key: dict[str, Any] = response.json()
        return key

    return create_key


AppWith = Callable[..., AbstractAsyncContextManager[FastAPI]]


@pytest.fixture
def app_with(settings: Settings) -> AppWith:
    """Another app on the test's database, with some settings changed, started and stopped."""

    @asynccontextmanager
    async def app_with(**changed: Any) -> AsyncIterator[FastAPI]:
        fields = {name: getattr(settings, name) for name in type(settings).model_fields}
        other = create_app(Settings(**{**fields, **changed}))
        async with other.router.lifespan_context(other):
            yield other

    return app_with


@pytest.fixture
async def https_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=CLIENT_ADDRESS)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client


async def security_records(client: httpx.AsyncClient, **filters: Any) -> list[dict[str, Any]]:
    """The system's security records, oldest first."""
    response = await client.get(
        "/api/audit-trail/records",
        params={"categories": "security", "page_size": 200, "sort_dir": "asc", **filters},
    )
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records

"""Fixtures of the rate-limit tests: settings a test tightens, cheap password hashes, clients
of given credentials and addresses, and a Redis of their own (a key prefix per test)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from coredis import Redis
from fastapi import FastAPI

from audittrail.auth import credentials
from audittrail.config import Settings
from tests.conftest import ADMIN_KEY, CLIENT_ADDRESS, REQUIRE_POSTGRES

LOGIN = "/api/auth/login"
REDIS_URL = os.environ.get("AUDITTRAIL_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def settings(settings: Settings, setting_overrides: dict[str, Any]) -> Settings:
    return settings.model_copy(update=setting_overrides)


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id still, at its cheapest."""
    monkeypatch.setattr(credentials, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))


class PasswordChecks:
    """Counts the password checks (credentials.verify_password) the app makes."""

    def __init__(self) -> None:
        self.count = 0

    def wrap(self, verify: Callable[[str | None, str], Awaitable[bool]]) -> Any:
        async def counted(password_hash: str | None, password: str) -> bool:
            self.count += 1
            return await verify(password_hash, password)

        return counted


@pytest.fixture
def password_checks(monkeypatch: pytest.MonkeyPatch) -> PasswordChecks:
    checks = PasswordChecks()
    monkeypatch.setattr(credentials, "verify_password", checks.wrap(credentials.verify_password))
    return checks


def client_of(
    app: FastAPI, *, key: str | None = None, address: str = CLIENT_ADDRESS[0]
) -> httpx.AsyncClient:
    """A client of the app from this address, with this API key (none: anonymous)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40123))
    headers = {"Authorization": f"Bearer {key}"} if key else None
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


class Warnings:
    """Stands in for a module's logger: the events it warned of."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def warning(self, event: str, **fields: object) -> None:
        self.events.append(event)


Login = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def log_in(app: FastAPI) -> Login:
    async def log_in(email: str, password: str, address: str = CLIENT_ADDRESS[0]) -> httpx.Response:
        async with client_of(app, address=address) as anonymous:
            return await anonymous.post(LOGIN, json={"email": email, "password": password})

    return log_in


MakeKey = Callable[[list[str]], Awaitable[str]]


@pytest.fixture
def make_key(client: httpx.AsyncClient) -> MakeKey:
    """A new API key of these roles: its secret."""

    async def make_key(roles: list[str]) -> str:
        body = {"name": f"key-{uuid.uuid4().hex[:8]}", "roles": roles}
        response = await client.post("/api/api-keys", json=body)
        assert response.status_code == 201, response.text
        key: str = response.json()["key"]
        return key

    return make_key


def admin(app: FastAPI) -> httpx.AsyncClient:
    return client_of(app, key=ADMIN_KEY)


async def _redis_answers(url: str) -> str | None:
    """Why Redis does not answer a PING at this URL; None if it does."""
    redis = Redis.from_url(url, connect_timeout=1, stream_timeout=1)
    try:
        await redis.ping()
    except Exception as error:  # any way of not answering is a reason to skip
        return f"{type(error).__name__}: {error}"
    finally:
        redis.connection_pool.disconnect()
    return None


@pytest.fixture
async def redis_url() -> str:
    """The test Redis, whose rate-limit keys a test keeps apart by a prefix of its own; a loud
    skip where it is unreachable, a failure where it is required (CI)."""
    problem = await asyncio.wait_for(_redis_answers(REDIS_URL), 5)
    if problem is not None:
        message = f"REDIS UNREACHABLE at {REDIS_URL} ({problem}): shared counting was not tested"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL

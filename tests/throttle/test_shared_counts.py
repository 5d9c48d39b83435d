"""With Redis, every process counts in one place: two apps, one limit. Without it (or while it
fails), each app counts alone."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from fastapi import FastAPI

from audittrail import throttle
from audittrail.app import create_app
from audittrail.config import Settings
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.helpers import RECORDS
from tests.throttle.conftest import LOGIN, Warnings, admin, client_of

LIMITS = {
    "rate_limit": "4/minute",
    "rate_limit_writes": "4/minute",
    "rate_limit_admin_writes": True,
    "login_failures_per_account": "3 per 15 minutes",
}


async def _two_apps(settings: Settings) -> AsyncIterator[tuple[FastAPI, FastAPI]]:
    async with AsyncExitStack() as stack:
        apps = (create_app(settings), create_app(settings))
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield apps


@pytest.fixture
async def shared_apps(settings: Settings, redis_url: str) -> AsyncIterator[tuple[FastAPI, FastAPI]]:
    """Two apps, as two processes would be, counting in the test Redis under a prefix of this
    test's own, removed after."""
    prefix = f"audittrail-test-{uuid.uuid4().hex}"
    shared = settings.model_copy(
        update={**LIMITS, "redis_url": redis_url, "redis_key_prefix": prefix}
    )
    async for apps in _two_apps(shared):
        yield apps
        rate_limits: throttle.RateLimits = apps[0].state.rate_limits
        assert rate_limits.counters.redis is not None
        await rate_limits.counters.redis.reset()


@pytest.fixture
async def separate_apps(settings: Settings) -> AsyncIterator[tuple[FastAPI, FastAPI]]:
    async for apps in _two_apps(settings.model_copy(update=LIMITS)):
        yield apps


async def test_two_apps_share_the_counts_in_redis(shared_apps: tuple[FastAPI, FastAPI]) -> None:
    first, second = shared_apps
    async with admin(first) as one, admin(second) as other:
        for client in (one, other, one, other):
            assert (await client.get(RECORDS)).status_code == 200
        assert (await one.get(RECORDS)).status_code == 429
        assert (await other.get(RECORDS)).status_code == 429
        for client in (other, one, other, one):
            assert (
                await client.post(RECORDS, json={"event_type": "e", "summary": "s"})
            ).status_code == 201
        assert (
            await other.post(RECORDS, json={"event_type": "e", "summary": "s"})
        ).status_code == 429


async def test_two_apps_share_the_login_throttle_in_redis(
    shared_apps: tuple[FastAPI, FastAPI],
) -> None:
    first, second = shared_apps
    async with client_of(first) as one, client_of(second) as other:
        for client in (one, other, one):
            response = await client.post(LOGIN, json={"email": ADMIN_EMAIL, "password": "guess"})
            assert response.status_code == 401, response.text
        right = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        for client in (one, other):
            response = await client.post(LOGIN, json=right)
            assert response.status_code == 429, response.text
            assert response.json()["error"]["code"] == "LOGIN_THROTTLED"
    async with admin(first) as reader:
        response = await reader.get(RECORDS, params={"event_types": "auth.lockout"})
    assert response.json()["total"] == 1


async def test_without_redis_each_app_counts_alone(
    separate_apps: tuple[FastAPI, FastAPI],
) -> None:
    first, second = separate_apps
    async with admin(first) as one, admin(second) as other:
        for client in (one, other, one, other, one, other, one, other):
            assert (await client.get(RECORDS)).status_code == 200
        assert (await one.get(RECORDS)).status_code == 429
        assert (await other.get(RECORDS)).status_code == 429


@pytest.mark.parametrize("setting_overrides", [{**LIMITS, "redis_url": "redis://127.0.0.1:1/0"}])
async def test_while_redis_fails_the_app_counts_alone(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail open to the process's own counts: the limits hold, per process, and one warning
    says why (Redis is tried again seconds later, not on every request)."""
    warnings = Warnings()
    monkeypatch.setattr(throttle, "log", warnings)
    async with admin(app) as client:
        for _ in range(4):
            assert (await client.get(RECORDS)).status_code == 200
        assert (await client.get(RECORDS)).status_code == 429
    assert warnings.events == ["redis unavailable: rate limits count in this process alone"]

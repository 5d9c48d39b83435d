"""The dashboard's check of the newest records, over an app and a database of its own with
checkpoints only where the test signs them: records newer than the checkpoint, a record
changed behind the log's back, a bound key, a principal who may read nothing."""

from __future__ import annotations

import httpx
import pytest

from audittrail.config import Settings
from tests.conftest import make_client
from tests.helpers import create_application, post_record
from tests.log.support import checkpoint_now, hourly_checkpoints, post_records, running, tamper

API_KEYS = "/api/api-keys"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return hourly_checkpoints(settings)


async def test_newer_records_await_the_next_checkpoint(settings: Settings) -> None:
    async with running(settings) as (app, client):
        await post_records(client, 3)
        await checkpoint_now(app)
        await post_record(client, summary="after the checkpoint")
        page = await dashboard(client)
    assert 'data-verification="verified"' in page
    assert "1 newer record awaits the next checkpoint." in page


async def test_a_changed_record_turns_the_verification_red(settings: Settings) -> None:
    async with running(settings) as (app, client):
        ids = await post_records(client, 3)
        await checkpoint_now(app)
    changed = "UPDATE records SET summary = 'rewritten' WHERE id = :id", {"id": ids[1]}
    await tamper(settings.database_url, changed)
    async with running(settings) as (app, client):
        page = await dashboard(client)
    assert 'data-verification="failed"' in page
    assert f'<a href="/records/{ids[1]}"><code>{ids[1]}</code></a>' in page
    assert "inclusion proof does not lead to the given root" in page


async def test_a_bound_key_sees_only_its_applications(settings: Settings) -> None:
    async with running(settings) as (app, client):
        await create_application(client, "billing")
        await create_application(client, "shop")
        for key in ("billing", "shop", "billing"):
            await post_record(client, application_key=key)
        await checkpoint_now(app)
        body = {"name": "reader", "scopes": ["records:read", "stats:read"]}
        made = await client.post(API_KEYS, json={**body, "applications": ["billing"]})
        assert made.status_code == 201, made.text
        async with make_client(app, {"X-API-Key": made.json()["key"]}) as bound:
            page = await dashboard(bound)
    assert "2 of 2 newest records verified" in page
    assert "shop" not in page


async def test_a_principal_without_reading_scopes_is_welcomed(settings: Settings) -> None:
    async with running(settings) as (app, client):
        made = await client.post(API_KEYS, json={"name": "writer", "scopes": ["records:write"]})
        assert made.status_code == 201, made.text
        async with make_client(app, {"X-API-Key": made.json()["key"]}) as writer:
            page = await dashboard(writer)
    assert "Welcome, writer." in page
    assert "data-verification" not in page


async def dashboard(client: httpx.AsyncClient) -> str:
    response = await client.get("/")
    assert response.status_code == 200, response.text
    return response.text

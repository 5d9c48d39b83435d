"""GET /healthz and GET /readyz: unauthenticated, and saying nothing but yes or no."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from audittrail import clock
from audittrail.config import Settings
from audittrail.db import migrate
from tests.helpers import post_record
from tests.log.support import checkpoint_now, hourly_checkpoints, running, tamper

VERSION = "UPDATE alembic_version SET version_num = :version"
NOT_READY = {"error": {"code": "NOT_READY", "message": "Not ready to serve."}}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Checkpoints only where a test signs them (and one at start)."""
    return hourly_checkpoints(settings)


async def ready(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get("/readyz", headers={"Authorization": ""})


async def test_healthz_answers_anyone(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_ready_once_started(settings: Settings) -> None:
    async with running(settings) as (app, client):
        await checkpoint_now(app)
        response = await ready(client)
        assert (response.status_code, response.json()) == (200, {"status": "ready"})


async def test_not_ready_without_the_writer(settings: Settings) -> None:
    async with running(settings) as (app, client):
        await checkpoint_now(app)
        await app.state.writer.stop()
        response = await ready(client)
        assert (response.status_code, response.json()) == (503, NOT_READY)
        assert response.headers["retry-after"] == "1"
        app.state.writer.start()  # for the lifespan's own stop


async def test_not_ready_on_a_database_of_another_release(settings: Settings) -> None:
    (head,) = migrate.heads()
    async with running(settings) as (app, client):
        await checkpoint_now(app)
        await tamper(settings.database_url, (VERSION, {"version": "0001"}))
        try:
            response = await ready(client)
        finally:  # the test database outlives the test (its tables are emptied, not this one)
            await tamper(settings.database_url, (VERSION, {"version": head}))
        assert (response.status_code, response.json()) == (503, NOT_READY)


async def test_not_ready_while_records_wait_too_long_for_a_checkpoint(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(settings) as (app, client):
        await checkpoint_now(app)
        later = clock.now() + timedelta(hours=4)
        monkeypatch.setattr(clock, "now", lambda: later)
        # Nothing waits: an idle log is ready however old its checkpoint.
        assert (await ready(client)).status_code == 200
        monkeypatch.undo()
        await post_record(client)
        monkeypatch.setattr(clock, "now", lambda: later)
        response = await ready(client)
        assert (response.status_code, response.json()) == (503, NOT_READY)
        monkeypatch.undo()
        await checkpoint_now(app)
        assert (await ready(client)).status_code == 200


async def test_not_ready_when_the_database_does_not_answer(
    app: FastAPI, anonymous: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable() -> None:
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(app.state.database, "read_session", unreachable)
    response = await anonymous.get("/readyz")
    assert (response.status_code, response.json()) == (503, NOT_READY)
    assert "refused" not in response.text

"""Fixtures of the write-path tests: a slower group commit, and a hand on the writer's append.

Every write waits batch_wait_ms = 20 for company, so requests fired together share a commit
far more reliably than with the production default of 2 ms. A test tightens other settings by
parametrizing `setting_overrides`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audittrail.config import Settings
from audittrail.records.writer import GroupCommitWriter
from tests.conftest import make_client
from tests.ingest.support import AppendHook, KeyedClient


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def settings(settings: Settings, setting_overrides: dict[str, Any]) -> Settings:
    """The harness's settings with a 20 ms group commit."""
    return settings.model_copy(update={"batch_wait_ms": 20.0, **setting_overrides})


@pytest.fixture
def group_commit(app: FastAPI) -> GroupCommitWriter:
    """The app's one writer, whose stats count its batches."""
    group_commit: GroupCommitWriter = app.state.writer
    return group_commit


@pytest.fixture
async def append_hook(
    monkeypatch: pytest.MonkeyPatch, group_commit: GroupCommitWriter
) -> AsyncIterator[AppendHook]:
    """The writer's append (its `append`, log.append.append), wrapped by one a test can hold or
    make fail.

    Set up after the app, so torn down before it: released before the app's shutdown waits for
    the writer's queue to drain.
    """
    hook = AppendHook()
    monkeypatch.setattr(group_commit, "append", hook)
    yield hook
    hook.release()  # a test that failed half-way must not leave the writer (and shutdown) stuck


@pytest.fixture
async def keyed_client(client: httpx.AsyncClient, app: FastAPI) -> AsyncIterator[KeyedClient]:
    """Makes clients holding new API keys of given roles; closes them at the end."""
    made: list[httpx.AsyncClient] = []

    async def keyed(roles: list[str]) -> httpx.AsyncClient:
        response = await client.post(
            "/api/api-keys", json={"name": f"key {len(made)}", "roles": roles}
        )
        assert response.status_code == 201, response.text
        fresh = make_client(app, {"Authorization": f"Bearer {response.json()['key']}"})
        made.append(fresh)
        # A key's first use stamps last_used_at in a write of its own: get it out of the way.
        assert (await fresh.get("/api/auth/me")).status_code == 200
        return fresh

    yield keyed
    for fresh in made:
        await fresh.aclose()

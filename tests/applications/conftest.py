"""Fixtures for the application tests: a writer-only client and the system records they leave."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import make_client
from tests.helpers import RECORDS


@pytest.fixture
async def writer(client: httpx.AsyncClient, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Authenticated with an API key that has only the writer role."""
    response = await client.post("/api/api-keys", json={"name": "ingest", "roles": ["writer"]})
    assert response.status_code == 201, response.text
    async with make_client(app, {"Authorization": f"Bearer {response.json()['key']}"}) as writer:
        yield writer


async def system_records(client: httpx.AsyncClient, **filters: Any) -> list[dict[str, Any]]:
    """The system-category records, oldest first."""
    response = await client.get(
        RECORDS, params={"categories": "system", "page_size": 200, "sort_dir": "asc", **filters}
    )
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records

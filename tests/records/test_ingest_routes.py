"""The intake routes are served by records/ingest.py, outside FastAPI's router, and answer as
every other route does: the same envelope for errors, FastAPI's answers for what they do not
serve."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from audittrail.records import service
from tests.conftest import ADMIN_KEY, CLIENT_ADDRESS
from tests.helpers import RECORDS, record_total

RECORD = {"event_type": "user.login", "summary": "Signed in"}


INTAKE_PATHS = {RECORDS, f"{RECORDS}/batch"}


async def test_fastapi_serves_no_intake_route_yet_documents_both(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """So nothing added to FastAPI's routes (router dependencies, dependency_overrides) can be
    believed to reach them: they authorize through access.authorize, as every route does."""
    served = {
        route.path
        for route in app.routes
        if isinstance(route, APIRoute) and "POST" in route.methods
    }
    assert served.isdisjoint(INTAKE_PATHS)
    paths = app.openapi()["paths"]
    assert {path for path in INTAKE_PATHS if "post" in paths[path]} == INTAKE_PATHS
    single = await client.post(RECORDS, json=RECORD)
    batch = await client.post(f"{RECORDS}/batch", json=[RECORD, RECORD])
    assert (single.status_code, batch.status_code) == (201, 201), batch.text
    assert await record_total(client, event_types="user.login") == 3


async def test_other_methods_on_intake_paths_are_fastapi_answers(
    client: httpx.AsyncClient,
) -> None:
    before = await record_total(client)
    response = await client.put(RECORDS, json=RECORD)
    assert response.status_code == 405
    assert response.json() == {
        "error": {"code": "METHOD_NOT_ALLOWED", "message": "Method not allowed on this resource."}
    }
    response = await client.get(f"{RECORDS}/batch")
    assert response.status_code == 404  # "batch" read as a record id
    assert response.json()["error"]["code"] == "RECORD_NOT_FOUND"
    assert await record_total(client) == before


async def test_a_streamed_body_over_the_limit_is_the_413_envelope(
    client: httpx.AsyncClient,
) -> None:
    """Sent without Content-Length, the body is counted as it comes: the guard's error reaches
    the app's handler from inside a direct route."""
    limit = 16 * 1024 * 1024
    before = await record_total(client)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"event_type": "x", "summary": "'
        for _ in range(17):
            yield b"a" * (1024 * 1024)
        yield b'"}'

    response = await client.post(
        RECORDS, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "PAYLOAD_TOO_LARGE",
            "message": f"The request body is over {limit} bytes.",
        }
    }
    assert await record_total(client) == before


@pytest.fixture
async def tolerant_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sees the 500 the server sends rather than the exception behind it."""
    transport = httpx.ASGITransport(app=app, client=CLIENT_ADDRESS, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers
    ) as client:
        yield client


async def test_a_bug_in_an_intake_route_is_the_500_envelope(
    tolerant_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    before = await record_total(tolerant_client)
    monkeypatch.setattr(service, "prepare", broken)
    response = await tolerant_client.post(RECORDS, json=RECORD)
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "INTERNAL_ERROR", "message": "Internal server error."}
    }
    assert await record_total(tolerant_client) == before


async def test_the_intake_routes_are_served_under_a_root_path(app: FastAPI) -> None:
    """Mounted under a prefix (a proxy's path, uvicorn --root-path), as every other route is."""
    transport = httpx.ASGITransport(app=app, client=CLIENT_ADDRESS, root_path="/audit")
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers
    ) as mounted:
        single = await mounted.post(f"/audit{RECORDS}", json=RECORD)
        batch = await mounted.post(f"/audit{RECORDS}/batch", json=[RECORD])
        assert (single.status_code, batch.status_code) == (201, 201), single.text
        listed = await mounted.get(f"/audit{RECORDS}", params={"event_types": "user.login"})
        assert listed.json()["total"] == 2

"""The intake routes are served ahead of FastAPI's router (direct_routes.py), and answer as every
other route does: the same envelope for errors, FastAPI's answers for what they do not serve."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute

from audittrail.direct_routes import DirectRoutes
from audittrail.records import service
from tests.conftest import ADMIN_KEY, CLIENT_ADDRESS
from tests.helpers import RECORDS, record_total

RECORD = {"event_type": "user.login", "summary": "Signed in"}


@pytest.fixture
def routes_handled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths FastAPI's own route handling served."""
    handled: list[str] = []
    handle = APIRoute.handle

    async def counting(route: APIRoute, scope: Any, receive: Any, send: Any) -> None:
        handled.append(route.path)
        await handle(route, scope, receive, send)

    monkeypatch.setattr(APIRoute, "handle", counting)
    return handled


async def test_intake_routes_skip_fastapi_route_handling(
    client: httpx.AsyncClient, routes_handled: list[str]
) -> None:
    single = await client.post(RECORDS, json=RECORD)
    batch = await client.post(f"{RECORDS}/batch", json=[RECORD, RECORD])
    assert (single.status_code, batch.status_code) == (201, 201), batch.text
    assert routes_handled == []

    listed = await client.get(RECORDS, params={"event_types": "user.login"})
    assert listed.status_code == 200
    assert listed.json()["total"] == 3
    assert routes_handled == [RECORDS]


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


def test_a_direct_route_takes_the_request_alone() -> None:
    async def endpoint(request: Request, extra: int) -> Response:
        return Response()

    route = APIRoute("/somewhere", endpoint, methods=["POST"])
    with pytest.raises(TypeError, match="takes the Request alone"):
        DirectRoutes(FastAPI(), [route])

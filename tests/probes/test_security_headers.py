"""Every answer carries the security headers, the guards' and the intake routes' too, and
Cache-Control: no-store unless its route chose a Cache-Control of its own."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from audittrail.app import create_app
from audittrail.config import Settings
from audittrail.log.append import NewRecord, append
from tests.conftest import make_client
from tests.helpers import RECORDS

POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY = {
    "content-security-policy": POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
TILES = "/api/audit-trail/log/tlog/tile"
HTML = {"Accept": "text/html"}


def assert_secured(response: httpx.Response, cache_control: str = "no-store") -> None:
    for name, value in SECURITY.items():
        assert response.headers.get_list(name) == [value], (name, response.request.url)
    assert response.headers.get_list("cache-control") == [cache_control], response.request.url
    assert response.headers["x-request-id"]


async def test_answers_of_every_kind_are_secured(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    answers = [
        (await anonymous.get("/api/audit-trail/log/head"), 200),
        (await anonymous.get(RECORDS), 401),
        (await anonymous.post(RECORDS, json={"event_type": "a", "summary": "s"}), 401),
        (await anonymous.get("/nowhere"), 404),
        (await anonymous.get("/openapi.json"), 200),
        (await client.post(RECORDS, json={"event_type": "a", "summary": "s"}), 201),
        (await client.post(f"{RECORDS}/batch", json=[{"event_type": "a", "summary": "s"}]), 201),
        (await client.post(RECORDS, json={"event_type": "a"}), 422),
        (
            await client.post(RECORDS, content=b"{", headers={"Content-Type": "application/json"}),
            400,
        ),
        (await client.get(RECORDS, params={"page_size": 0}), 422),
        (await client.delete("/api/audit-trail/log/head"), 405),
        (await client.get(f"{RECORDS}?search=%00"), 400),  # the NUL guard
        (await client.get(f"{TILES}/0/000"), 404),
        (await client.get("/api/audit-trail/records/nothing"), 404),
        # The viewer's pages: a page, a page's error, a page's redirect to sign in.
        (await client.get("/records", headers=HTML), 200),
        (await client.get("/records/nothing", headers=HTML), 404),
        (await client.get("/records?page_size=0", headers=HTML), 422),
        (await anonymous.get("/stats", headers=HTML), 303),
        (await anonymous.get("/login", headers=HTML), 200),
    ]
    for response, status in answers:
        assert response.status_code == status, (response.request.url, response.text)
        assert_secured(response)


async def test_the_size_guards_answer_is_secured(settings: Settings) -> None:
    """Before anything reads the request: the body size guard (no lifespan needed for it)."""
    small = create_app(settings.model_copy(update={"max_request_bytes": 1024}))
    async with make_client(small) as client:
        response = await client.post(RECORDS, content=b"x" * 2048)
    assert response.status_code == 413
    assert_secured(response)


async def test_a_routes_own_cache_control_stands(
    app: FastAPI, anonymous: httpx.AsyncClient
) -> None:
    batch = [NewRecord(event_type="t", summary="s", source="manual", actor="t") for _ in range(256)]
    async with app.state.database.write_session() as session:
        await append(session, batch)
    full = await anonymous.get(f"{TILES}/0/000")
    assert full.status_code == 200
    assert_secured(full, "public, max-age=31536000, immutable")
    partial = await anonymous.get(f"{TILES}/0/001.p/2")
    assert partial.status_code == 200
    assert_secured(partial)


@pytest.mark.parametrize("path", ["/docs", "/static/swagger/swagger-ui.css"])
async def test_the_docs_keep_their_own_policy_and_caching(
    anonymous: httpx.AsyncClient, path: str
) -> None:
    response = await anonymous.get(path)
    assert response.status_code == 200
    assert len(response.headers.get_list("content-security-policy")) == 1
    assert len(response.headers.get_list("cache-control")) == 1
    assert response.headers["x-frame-options"] == "DENY"

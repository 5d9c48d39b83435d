"""Per-credential rate limits: on the FastAPI routes and on the intake routes, reads and writes
apart, an admin's writes not counted unless asked; unauthenticated requests not counted."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.helpers import RECORDS, record_total
from tests.throttle.conftest import MakeKey, admin, client_of

RATE_LIMITED = {
    "error": {
        "code": "RATE_LIMITED",
        "message": "Too many requests with this credential; retry after Retry-After seconds.",
    }
}


def assert_rate_limited(response: httpx.Response, *, at_most: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == RATE_LIMITED
    assert 1 <= int(response.headers["retry-after"]) <= at_most


def record(summary: str) -> dict[str, str]:
    return {"event_type": "test.event", "summary": summary}


@pytest.mark.parametrize("setting_overrides", [{"rate_limit": "3/minute"}])
async def test_reads_are_limited_per_credential(app: FastAPI, make_key: MakeKey) -> None:
    reader_key = await make_key(["reader"])
    async with client_of(app, key=reader_key) as reader, admin(app) as admin_client:
        for _ in range(3):
            assert (await reader.get(RECORDS)).status_code == 200
        assert_rate_limited(await reader.get(RECORDS), at_most=60)
        assert_rate_limited(await reader.get("/api/auth/me"), at_most=60)  # every route
        # Another credential counts on its own, admins' reads included.
        for _ in range(3):
            assert (await admin_client.get(RECORDS)).status_code == 200
        assert_rate_limited(await admin_client.get(RECORDS), at_most=60)


@pytest.mark.parametrize("setting_overrides", [{"rate_limit_writes": "2/minute"}])
async def test_writes_are_limited_per_credential(
    app: FastAPI, client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    writer_key = await make_key(["writer"])
    refused = f"refused {uuid.uuid4()}"
    async with client_of(app, key=writer_key) as writer:
        assert (await writer.post(RECORDS, json=record("first"))).status_code == 201
        assert (await writer.post(f"{RECORDS}/batch", json=[record("second")])).status_code == 201
        assert_rate_limited(await writer.post(RECORDS, json=record(refused)), at_most=60)
        assert_rate_limited(
            await writer.post(f"{RECORDS}/batch", json=[record(refused)]), at_most=60
        )
        # Reads are counted apart from writes.
        assert (await writer.get("/api/auth/me")).status_code == 200
    assert await record_total(client, search=refused) == 0  # nothing stored for a refusal


@pytest.mark.parametrize("setting_overrides", [{"rate_limit_writes": "2/minute"}])
async def test_admin_writes_are_not_limited_by_default(client: httpx.AsyncClient) -> None:
    for number in range(5):
        assert (await client.post(RECORDS, json=record(f"admin {number}"))).status_code == 201


@pytest.mark.parametrize(
    "setting_overrides", [{"rate_limit_writes": "2/minute", "rate_limit_admin_writes": True}]
)
async def test_admin_writes_are_limited_when_asked(client: httpx.AsyncClient) -> None:
    for number in range(2):
        assert (await client.post(RECORDS, json=record(f"admin {number}"))).status_code == 201
    assert_rate_limited(await client.post(RECORDS, json=record("one too many")), at_most=60)


@pytest.mark.parametrize("setting_overrides", [{"rate_limit": "2/minute"}])
async def test_unauthenticated_requests_are_not_counted(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    for _ in range(4):
        assert (await anonymous.get("/api/audit-trail/log/head")).status_code == 200
        assert (await anonymous.get(RECORDS)).status_code == 401
    for _ in range(2):
        assert (await client.get(RECORDS)).status_code == 200


@pytest.mark.parametrize(
    "setting_overrides",
    [{"rate_limit": "1/minute", "rate_limit_writes": "1/minute", "rate_limit_enabled": False}],
)
async def test_nothing_is_limited_when_rate_limits_are_off(app: FastAPI, make_key: MakeKey) -> None:
    writer_key = await make_key(["writer"])
    async with client_of(app, key=writer_key) as writer:
        for number in range(3):
            assert (await writer.post(RECORDS, json=record(f"w {number}"))).status_code == 201
            assert (await writer.get("/api/auth/me")).status_code == 200


@pytest.mark.parametrize("setting_overrides", [{"rate_limit": "2 per 1 second"}])
async def test_the_window_frees(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await client.get(RECORDS)).status_code == 200
    refused = await client.get(RECORDS)
    assert_rate_limited(refused, at_most=1)
    await asyncio.sleep(int(refused.headers["retry-after"]) + 0.05)
    assert (await client.get(RECORDS)).status_code == 200

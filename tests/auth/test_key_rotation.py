"""API keys: rotation with a grace period for the old secret, expiry and last use, on the
FastAPI routes and on the ingest routes (whose process keeps the keys it has seen)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audittrail import clock
from audittrail.app import create_app
from audittrail.config import Settings
from tests.auth.conftest import (
    ADMIN_ONLY,
    API_KEYS,
    ME,
    CreateKey,
    MovableClock,
    assert_unauthenticated,
    security_records,
)
from tests.auth.test_api_keys import KEY_FIELDS, parse_time
from tests.conftest import ADMIN_KEY, make_client
from tests.helpers import RECORDS, record_total

DAY = 24 * 3600
RECORD = {"event_type": "invoice.paid", "summary": "Paid"}


async def keys_state(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Every key as listed, but when each was last used (the listing itself uses one)."""
    keys = (await client.get(API_KEYS, params={"page_size": 200})).json()["api_keys"]
    return [{name: value for name, value in key.items() if name != "last_used_at"} for key in keys]


def rotate_path(key: dict[str, Any]) -> str:
    return f"{API_KEYS}/{key['id']}/rotate"


async def signs_in(anonymous: httpx.AsyncClient, secret: str) -> list[int]:
    """The statuses of a read (FastAPI) and of a record posted (ingest) with the secret."""
    headers = {"X-API-Key": secret}
    me = await anonymous.get(ME, headers=headers)
    posted = await anonymous.post(RECORDS, json=RECORD, headers=headers)
    return [me.status_code, posted.status_code]


@pytest.fixture
async def other_process(settings: Settings, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A second server on the same database, as the admin; started after the first."""
    other = create_app(settings)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with other.router.lifespan_context(other), make_client(other, headers) as client:
        yield client


async def test_a_rotated_key_has_a_new_secret_and_the_old_one_works_through_the_grace(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_key: CreateKey,
    moved_clock: MovableClock,
) -> None:
    created = await create_key("billing", ["writer"])
    old = created["key"]
    assert await signs_in(anonymous, old) == [200, 201]

    response = await client.post(rotate_path(created))
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert list(rotated) == [*KEY_FIELDS, "key"]
    new = rotated["key"]
    assert (
        new != old and new.startswith(rotated["prefix"]) and rotated["prefix"] != created["prefix"]
    )
    now = clock.now()
    grace_ends = parse_time(rotated["previous_valid_until"])
    assert timedelta(seconds=DAY - 5) <= grace_ends - now <= timedelta(seconds=DAY)
    unchanged = ("id", "name", "scopes", "applications", "created_by", "created_at", "expires_at")
    assert {f: rotated[f] for f in unchanged} == {f: created[f] for f in unchanged}
    fetched = await client.get(f"{API_KEYS}/{created['id']}")
    assert fetched.json() == {name: rotated[name] for name in KEY_FIELDS}
    assert new not in fetched.text and new not in (await client.get(API_KEYS)).text

    assert await signs_in(anonymous, new) == [200, 201]
    assert await signs_in(anonymous, old) == [200, 201]
    moved_clock.advance((grace_ends - now).total_seconds() - 5)
    assert await signs_in(anonymous, old) == [200, 201]
    moved_clock.advance(10)
    stored = await record_total(client)
    for response in (
        await anonymous.get(ME, headers={"X-API-Key": old}),
        await anonymous.post(RECORDS, json=RECORD, headers={"X-API-Key": old}),
        await anonymous.post(f"{RECORDS}/batch", json=[RECORD], headers={"X-API-Key": old}),
    ):
        assert_unauthenticated(response)
    assert await record_total(client) == stored
    assert await signs_in(anonymous, new) == [200, 201]


async def test_a_rotation_is_recorded_without_either_secret(
    client: httpx.AsyncClient, create_key: CreateKey
) -> None:
    created = await create_key("exporter", ["reader"])
    rotated = (await client.post(rotate_path(created), json={"grace_seconds": 60})).json()
    [record] = await security_records(client, event_types="api_key.rotated")
    assert record["actor"] == "api_key:bootstrap"
    assert (record["entity_type"], record["entity_id"]) == ("api_key", created["id"])
    assert record["summary"] == f"API key exporter ({rotated['prefix']}…) rotated"
    assert record["severity"] == "medium"
    assert record["params"] == {
        "prefix": {"old": created["prefix"], "new": rotated["prefix"]},
        "previous_valid_until": record["params"]["previous_valid_until"],
    }
    assert parse_time(record["params"]["previous_valid_until"].replace("+00:00", "Z")) == (
        parse_time(rotated["previous_valid_until"])
    )
    everything = (await client.get(RECORDS, params={"page_size": 200})).text
    assert created["key"] not in everything and rotated["key"] not in everything


async def test_no_grace_stops_the_old_secret_at_once_even_where_it_is_kept(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, create_key: CreateKey
) -> None:
    created = await create_key("nightly", ["writer"])
    assert await signs_in(anonymous, created["key"]) == [200, 201]  # kept by this process now
    response = await client.post(rotate_path(created), json={"grace_seconds": 0})
    assert response.status_code == 200, response.text
    assert response.json()["previous_valid_until"] is None
    assert await signs_in(anonymous, created["key"]) == [401, 401]
    assert await signs_in(anonymous, response.json()["key"]) == [200, 201]


async def test_a_key_rotated_through_another_process_stops_at_once(
    app: FastAPI, client: httpx.AsyncClient, other_process: httpx.AsyncClient
) -> None:
    created = (await client.post(API_KEYS, json={"name": "ingest"})).json()
    async with make_client(app, {"X-API-Key": created["key"]}) as writer:
        assert (await writer.post(RECORDS, json=RECORD)).status_code == 201
        rotated = await other_process.post(rotate_path(created), json={"grace_seconds": 0})
        assert rotated.status_code == 200, rotated.text
        stored = await record_total(client)
        for path, body in ((RECORDS, RECORD), (f"{RECORDS}/batch", [RECORD])):
            assert_unauthenticated(await writer.post(path, json=body))
        assert await record_total(client) == stored
    async with make_client(app, {"X-API-Key": rotated.json()["key"]}) as writer:
        assert (await writer.post(RECORDS, json=RECORD)).status_code == 201


async def test_a_second_rotation_ends_the_first_secrets_grace(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, create_key: CreateKey
) -> None:
    created = await create_key("twice", ["writer"])
    first = (await client.post(rotate_path(created))).json()
    second = (await client.post(rotate_path(created), json={"grace_seconds": 3600})).json()
    assert await signs_in(anonymous, created["key"]) == [401, 401]
    assert await signs_in(anonymous, first["key"]) == [200, 201]
    assert await signs_in(anonymous, second["key"]) == [200, 201]


async def test_the_grace_ends_with_the_key_itself(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_key: CreateKey,
    moved_clock: MovableClock,
) -> None:
    expires_at = (clock.now() + timedelta(hours=1)).replace(microsecond=0)
    created = await create_key("short", ["writer"], expires_at=expires_at.isoformat())
    rotated = (await client.post(rotate_path(created))).json()
    assert rotated["expires_at"] == created["expires_at"]
    moved_clock.advance(3600 + 1)
    for secret in (created["key"], rotated["key"]):
        assert await signs_in(anonymous, secret) == [401, 401]


async def test_an_expired_key_expires_on_the_ingest_routes_too(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_key: CreateKey,
    moved_clock: MovableClock,
) -> None:
    expires_at = (clock.now() + timedelta(hours=1)).replace(microsecond=0)
    created = await create_key("hourly", ["writer"], expires_at=expires_at.isoformat())
    moved_clock.advance(3600 - 5)
    assert await signs_in(anonymous, created["key"]) == [200, 201]  # and kept
    moved_clock.advance(10)
    stored = await record_total(client)
    assert await signs_in(anonymous, created["key"]) == [401, 401]
    assert await record_total(client) == stored


async def test_last_use_is_shown_and_noted_at_most_once_a_minute(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_key: CreateKey,
    moved_clock: MovableClock,
) -> None:
    created = await create_key("counted", ["writer"])
    path = f"{API_KEYS}/{created['id']}"
    headers = {"X-API-Key": created["key"]}
    assert (await anonymous.post(RECORDS, json=RECORD, headers=headers)).status_code == 201
    first = (await client.get(path)).json()["last_used_at"]
    assert first is not None
    moved_clock.advance(30)
    assert (await anonymous.post(RECORDS, json=RECORD, headers=headers)).status_code == 201
    assert (await client.get(path)).json()["last_used_at"] == first
    moved_clock.advance(31)
    assert (await anonymous.get(ME, headers=headers)).status_code == 200
    later = (await client.get(path)).json()["last_used_at"]
    assert parse_time(later) - parse_time(first) >= timedelta(seconds=60)
    # A rotated key's use is the key's use.
    rotated = (await client.post(f"{path}/rotate")).json()
    assert rotated["last_used_at"] == later
    moved_clock.advance(61)
    assert (await anonymous.get(ME, headers={"X-API-Key": rotated["key"]})).status_code == 200
    assert parse_time((await client.get(path)).json()["last_used_at"]) > parse_time(later)


def _validation(field: str, code: str, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": f"Invalid request: {field}.",
            "details": [{"field": field, "code": code, "message": message}],
        }
    }


BAD_ROTATIONS = [
    (
        {"grace_seconds": -1},
        _validation(
            "body.grace_seconds", "GREATER_THAN_EQUAL", "Input should be greater than or equal to 0"
        ),
    ),
    (
        {"grace_seconds": 30 * DAY + 1},
        _validation(
            "body.grace_seconds", "LESS_THAN_EQUAL", "Input should be less than or equal to 2592000"
        ),
    ),
    (
        {"grace_seconds": "soon"},
        _validation(
            "body.grace_seconds",
            "INT_PARSING",
            "Input should be a valid integer, unable to parse string as an integer",
        ),
    ),
    (
        {"grace_seconds": 1.5},
        _validation(
            "body.grace_seconds",
            "INT_FROM_FLOAT",
            "Input should be a valid integer, got a number with a fractional part",
        ),
    ),
    (
        {"grace": 60},
        _validation("body.grace", "EXTRA_FORBIDDEN", "Extra inputs are not permitted"),
    ),
]


@pytest.mark.parametrize(("body", "error"), BAD_ROTATIONS, ids=[str(b) for b, _ in BAD_ROTATIONS])
async def test_a_bad_rotation_is_422_and_changes_nothing(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_key: CreateKey,
    body: dict[str, Any],
    error: dict[str, Any],
) -> None:
    created = await create_key("steady", ["writer"])
    before, stored = await keys_state(client), await record_total(client)
    response = await client.post(rotate_path(created), json=body)
    assert (response.status_code, response.json()) == (422, error)
    assert await keys_state(client) == before
    assert await record_total(client) == stored
    assert await signs_in(anonymous, created["key"]) == [200, 201]


async def test_a_key_that_cannot_be_rotated_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_key: CreateKey,
    moved_clock: MovableClock,
) -> None:
    revoked = await create_key("gone", ["writer"])
    assert (await client.delete(f"{API_KEYS}/{revoked['id']}")).status_code == 200
    expires_at = (clock.now() + timedelta(minutes=5)).replace(microsecond=0)
    expired = await create_key("stale", ["writer"], expires_at=expires_at.isoformat())
    reader = await create_key("reader", ["reader"])
    moved_clock.advance(301)
    before, stored = await keys_state(client), await record_total(client)
    cases = [
        (client, "no-such-key", 404, "API_KEY_NOT_FOUND", "No API key no-such-key."),
        (client, revoked["id"], 409, "API_KEY_REVOKED", "API key gone is already revoked."),
        (client, expired["id"], 409, "API_KEY_EXPIRED", "API key stale has expired."),
    ]
    for caller, key_id, status, code, message in cases:
        response = await caller.post(f"{API_KEYS}/{key_id}/rotate")
        assert (response.status_code, response.json()) == (
            status,
            {"error": {"code": code, "message": message}},
        )
    as_reader = {"X-API-Key": reader["key"]}
    response = await anonymous.post(rotate_path(reader), headers=as_reader)
    assert (response.status_code, response.json()) == (403, ADMIN_ONLY)
    assert_unauthenticated(await anonymous.post(rotate_path(reader)))
    assert await keys_state(client) == before
    assert await record_total(client) == stored


async def test_a_rotation_may_send_no_body_or_an_empty_one(
    client: httpx.AsyncClient, create_key: CreateKey
) -> None:
    created = await create_key("defaults", ["writer"])
    for body in (None, {}, {"grace_seconds": None}):
        response = await client.post(rotate_path(created), json=body)
        assert response.status_code == 200, (body, response.text)
        until = parse_time(response.json()["previous_valid_until"])
        assert abs((until - clock.now()).total_seconds() - DAY) < 5

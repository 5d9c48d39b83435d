"""API keys: shown once, stored as a hash, named uniquely, revocable once, optionally expiring."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.auth.conftest import API_KEYS, ME, CreateKey, MovableClock, assert_unauthenticated
from tests.conftest import ADMIN_KEY
from tests.helpers import record_total

KEY_FIELDS = [
    "id",
    "name",
    "prefix",
    "scopes",
    "applications",
    "created_by",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
    "previous_valid_until",
]


def parse_time(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


async def key_total(client: httpx.AsyncClient) -> int:
    response = await client.get(API_KEYS)
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


async def test_a_created_key_is_shown_once_and_works(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    response = await client.post(API_KEYS, json={"name": "billing-service"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert list(created) == [*KEY_FIELDS, "key"]
    assert created["name"] == "billing-service"
    assert created["scopes"] == ["records:write", "applications:read"]
    assert created["applications"] is None
    assert created["created_by"] == "api_key:bootstrap"
    assert before <= parse_time(created["created_at"]) <= datetime.now(UTC)
    assert created["expires_at"] is None
    assert created["revoked_at"] is None and created["last_used_at"] is None

    key: str = created["key"]
    assert key.startswith(created["prefix"])
    assert created["prefix"].startswith("atk_") and len(created["prefix"]) == 12
    secret = key.removeprefix("atk_")
    assert len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))) >= 32

    listed = await client.get(API_KEYS)
    fetched = await client.get(f"{API_KEYS}/{created['id']}")
    for shown in (listed, fetched):
        assert shown.status_code == 200
        assert key not in shown.text and secret not in shown.text
    assert fetched.json() == {name: created[name] for name in KEY_FIELDS}
    assert listed.json()["api_keys"][0]["id"] == created["id"]

    used = await anonymous.post(
        "/api/audit-trail/records",
        json={"event_type": "invoice.paid", "summary": "Paid"},
        headers={"X-API-Key": key},
    )
    assert used.status_code == 201, used.text
    assert used.json()["actor"] == "api_key:billing-service"


async def test_the_secret_is_not_in_any_record(
    client: httpx.AsyncClient, create_key: CreateKey
) -> None:
    created = await create_key("ci", ["reader"])
    records = await client.get("/api/audit-trail/records", params={"page_size": 200})
    assert records.json()["total"] >= 1
    assert created["key"] not in records.text


async def test_last_used_at_is_set_by_use(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, create_key: CreateKey
) -> None:
    created = await create_key("reporting", ["reader"])
    before = datetime.now(UTC) - timedelta(seconds=1)
    assert (
        await anonymous.get(ME, headers={"Authorization": f"Bearer {created['key']}"})
    ).is_success
    last_used = (await client.get(f"{API_KEYS}/{created['id']}")).json()["last_used_at"]
    assert last_used is not None
    assert before <= parse_time(last_used) <= datetime.now(UTC)


async def test_keys_can_be_listed_page_by_page(
    client: httpx.AsyncClient, create_key: CreateKey
) -> None:
    for name in ("one", "two"):
        await create_key(name, ["reader"])
    response = await client.get(API_KEYS, params={"page": 2, "page_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page"], body["page_size"], body["total_pages"]) == (3, 2, 2, 2)
    assert [key["name"] for key in body["api_keys"]] == ["bootstrap"]


async def test_names_are_unique(client: httpx.AsyncClient, create_key: CreateKey) -> None:
    await create_key("exporter", ["reader"])
    stored, keys = await record_total(client), await key_total(client)
    response = await client.post(API_KEYS, json={"name": "exporter", "roles": ["admin"]})
    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "API_KEY_EXISTS", "message": "An API key named exporter exists."}
    }
    assert await key_total(client) == keys
    assert await record_total(client) == stored


async def test_revoking_is_immediate_and_happens_once(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, create_key: CreateKey
) -> None:
    created = await create_key("temporary", ["reader"])
    before = datetime.now(UTC) - timedelta(seconds=1)
    response = await client.delete(f"{API_KEYS}/{created['id']}")
    assert response.status_code == 200, response.text
    revoked = response.json()
    assert list(revoked) == KEY_FIELDS
    assert before <= parse_time(revoked["revoked_at"]) <= datetime.now(UTC)
    assert (await client.get(f"{API_KEYS}/{created['id']}")).json() == revoked
    assert_unauthenticated(await anonymous.get(ME, headers={"X-API-Key": created["key"]}))

    stored = await record_total(client)
    again = await client.delete(f"{API_KEYS}/{created['id']}")
    assert again.status_code == 409
    assert again.json() == {
        "error": {"code": "API_KEY_REVOKED", "message": "API key temporary is already revoked."}
    }
    assert await record_total(client) == stored
    assert (await client.get(f"{API_KEYS}/{created['id']}")).json() == revoked


async def test_an_admin_key_can_revoke_itself(client: httpx.AsyncClient) -> None:
    [bootstrap] = (await client.get(API_KEYS)).json()["api_keys"]
    assert (await client.delete(f"{API_KEYS}/{bootstrap['id']}")).status_code == 200
    assert_unauthenticated(await client.get(ME))


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_an_unknown_key_is_404(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, f"{API_KEYS}/no-such-key")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "API_KEY_NOT_FOUND", "message": "No API key no-such-key."}
    }


async def test_a_key_expires_at_its_time(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_key: CreateKey,
    moved_clock: MovableClock,
) -> None:
    expires_at = (moved_clock.now() + timedelta(hours=1)).replace(microsecond=0)
    created = await create_key("nightly", ["reader"], expires_at=expires_at.isoformat())
    assert parse_time(created["expires_at"]) == expires_at
    headers = {"Authorization": f"Bearer {created['key']}"}
    moved_clock.advance(3600 - 5)
    assert (await anonymous.get(ME, headers=headers)).status_code == 200
    moved_clock.advance(10)
    assert_unauthenticated(await anonymous.get(ME, headers=headers))


def _in(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {"name": "late", "expires_at": _in(seconds=-1)},
            {
                "code": "EXPIRES_IN_PAST",
                "message": "expires_at is in the past.",
                "details": [
                    {
                        "field": "body.expires_at",
                        "code": "EXPIRES_IN_PAST",
                        "message": "must be in the future.",
                    }
                ],
            },
        ),
        (
            {"name": "naive", "expires_at": "2999-01-01T00:00:00"},
            {
                "code": "NAIVE_DATETIME",
                "message": "expires_at needs a time zone.",
                "details": [
                    {
                        "field": "body.expires_at",
                        "code": "NAIVE_DATETIME",
                        "message": "needs a time zone.",
                    }
                ],
            },
        ),
    ],
    ids=["in the past", "without a time zone"],
)
async def test_a_bad_expiry_is_422_and_stores_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], error: dict[str, Any]
) -> None:
    stored, keys = await record_total(client), await key_total(client)
    response = await client.post(API_KEYS, json=body)
    assert response.status_code == 422
    assert response.json() == {"error": error}
    assert await key_total(client) == keys
    assert await record_total(client) == stored


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "body.name", "MISSING"),
        ({"name": ""}, "body.name", "STRING_TOO_SHORT"),
        ({"name": "n" * 129}, "body.name", "STRING_TOO_LONG"),
        ({"name": "x", "roles": []}, "body.roles", "TOO_SHORT"),
        ({"name": "x", "roles": ["owner"]}, "body.roles.0", "LITERAL_ERROR"),
        ({"name": "x", "expires_at": "soon"}, "body.expires_at", "DATETIME_FROM_DATE_PARSING"),
        ({"name": "x", "key": ADMIN_KEY}, "body.key", "EXTRA_FORBIDDEN"),
    ],
)
async def test_a_malformed_key_request_is_422_and_stores_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], field: str, code: str
) -> None:
    stored, keys = await record_total(client), await key_total(client)
    response = await client.post(API_KEYS, json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [(p["field"], p["code"]) for p in error["details"]] == [(field, code)]
    assert await key_total(client) == keys
    assert await record_total(client) == stored

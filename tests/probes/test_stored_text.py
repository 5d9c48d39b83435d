"""Text no database stores as it is (NUL, lone surrogates) is refused with a 422 naming the
field, the same on both databases: once, PostgreSQL answered a 500 (or a 503 outage) where
SQLite stored it. Times past the years 1..9999 in UTC likewise. Nothing is stored.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.helpers import APPLICATIONS, RECORDS, create_application
from tests.probes.support import (
    API_KEYS,
    USERS,
    assert_answer,
    error,
    holdings,
    invalid,
    problem,
)

NUL = "contains a NUL character."
SURROGATE = "contains a lone surrogate, which is not Unicode text."
NOT_UNICODE = "Input should be a valid string, unable to parse raw data as a unicode string"
KEY_PATTERN = "String should match pattern '^[a-z][a-z0-9_]*$'"
PASSWORD = "a long enough password"


def nul(field: str) -> dict[str, Any]:
    return invalid(problem(field, "UNSUPPORTED_VALUE", NUL))


def not_unicode(field: str) -> dict[str, Any]:
    return invalid(problem(field, "STRING_UNICODE", NOT_UNICODE))


def record_refused(field: str, message: str = NUL) -> dict[str, Any]:
    """The records path's own refusal (records/limits.py), unchanged by this."""
    return error(
        "UNSUPPORTED_VALUE", f"{field} {message}", [problem(field, "UNSUPPORTED_VALUE", message)]
    )


SHOP = f"{APPLICATIONS}/shop"
CASES: list[tuple[str, str, str, Any, int, dict[str, Any]]] = [
    # (id, method, path, body, status, answer)
    ("app-name", "POST", APPLICATIONS, {"key": "new", "name": "a\x00b"}, 422, nul("body.name")),
    (
        "app-name-surrogate",
        "POST",
        APPLICATIONS,
        {"key": "new", "name": "\ud800"},
        422,
        not_unicode("body.name"),
    ),
    (
        "app-description",
        "POST",
        APPLICATIONS,
        {"key": "new", "name": "New", "description": "\x00"},
        422,
        nul("body.description"),
    ),
    (
        "app-key",
        "POST",
        APPLICATIONS,
        {"key": "ne\x00w", "name": "New"},
        422,
        invalid(problem("body.key", "STRING_PATTERN_MISMATCH", KEY_PATTERN)),
    ),
    (
        "param-label-in-app",
        "POST",
        APPLICATIONS,
        {"key": "new", "name": "New", "params": [{"key": "amount", "label": "\x00"}]},
        422,
        nul("body.params.0.label"),
    ),
    (
        "param-description-in-app",
        "POST",
        APPLICATIONS,
        {"key": "new", "name": "New", "params": [{"key": "amount", "description": "x\x00"}]},
        422,
        nul("body.params.0.description"),
    ),
    (
        "param-enum-value-in-app",
        "POST",
        APPLICATIONS,
        {
            "key": "new",
            "name": "New",
            "params": [{"key": "tier", "type": "enum", "enum_values": ["gold", "lead\x00"]}],
        },
        422,
        nul("body.params.0.enum_values.1"),
    ),
    (
        "param-key-in-app",
        "POST",
        APPLICATIONS,
        {"key": "new", "name": "New", "params": [{"key": "amo\x00unt"}]},
        422,
        invalid(problem("body.params.0.key", "STRING_PATTERN_MISMATCH", KEY_PATTERN)),
    ),
    ("app-rename", "PATCH", SHOP, {"name": "\x00"}, 422, nul("body.name")),
    ("app-redescribe", "PATCH", SHOP, {"description": "\x00"}, 422, nul("body.description")),
    (
        "app-redescribe-surrogate",
        "PATCH",
        SHOP,
        {"description": "\udfff"},
        422,
        not_unicode("body.description"),
    ),
    (
        "param-label",
        "POST",
        f"{SHOP}/params",
        {"key": "note", "label": "\x00"},
        422,
        nul("body.label"),
    ),
    (
        "param-description",
        "POST",
        f"{SHOP}/params",
        {"key": "note", "description": "\x00"},
        422,
        nul("body.description"),
    ),
    (
        "param-enum-values",
        "POST",
        f"{SHOP}/params",
        {"key": "level", "type": "enum", "enum_values": ["\x00"]},
        422,
        nul("body.enum_values.0"),
    ),
    ("param-relabel", "PATCH", f"{SHOP}/params/amount", {"label": "\x00"}, 422, nul("body.label")),
    (
        "param-redescribe",
        "PATCH",
        f"{SHOP}/params/amount",
        {"description": "\x00"},
        422,
        nul("body.description"),
    ),
    (
        "param-new-enum-values",
        "PATCH",
        f"{SHOP}/params/tier",
        {"enum_values": ["gold", "\x00"]},
        422,
        nul("body.enum_values.1"),
    ),
    ("api-key-name", "POST", API_KEYS, {"name": "billing\x00"}, 422, nul("body.name")),
    ("api-key-name-surrogate", "POST", API_KEYS, {"name": "\ud800"}, 422, not_unicode("body.name")),
    (
        "user-email",
        "POST",
        USERS,
        {"email": "a\x00b@example.com", "password": PASSWORD},
        422,
        invalid(
            problem(
                "body.email",
                "VALUE_ERROR",
                "value is not a valid email address: The email address contains invalid "
                "characters before the @-sign: U+0000.",
            )
        ),
    ),
    (
        "user-email-surrogate",
        "POST",
        USERS,
        {"email": "a\ud800b@example.com", "password": PASSWORD},
        422,
        invalid(
            problem(
                "body.email",
                "VALUE_ERROR",
                "value is not a valid email address: The email address contains unsafe "
                "characters: U+D800.",
            )
        ),
    ),
    (
        "login-email",
        "POST",
        "/api/auth/login",
        {"email": "admin\x00@example.com", "password": PASSWORD},
        422,
        nul("body.email"),
    ),
    (
        "login-email-surrogate",
        "POST",
        "/api/auth/login",
        {"email": "\ud800@example.com", "password": PASSWORD},
        422,
        not_unicode("body.email"),
    ),
    # Records: refused by records/limits.py (and pydantic), as before, now on both databases.
    (
        "record-event-type",
        "POST",
        RECORDS,
        {"event_type": "a\x00", "summary": "s"},
        422,
        record_refused("body.event_type"),
    ),
    (
        "record-summary",
        "POST",
        RECORDS,
        {"event_type": "a", "summary": "\x00"},
        422,
        record_refused("body.summary"),
    ),
    (
        "record-category",
        "POST",
        RECORDS,
        {"event_type": "a", "summary": "s", "category": "\x00"},
        422,
        record_refused("body.category"),
    ),
    (
        "record-entity",
        "POST",
        RECORDS,
        {"event_type": "a", "summary": "s", "entity_type": "x", "entity_id": "1\x00"},
        422,
        record_refused("body.entity_id"),
    ),
    (
        "record-application-id",
        "POST",
        RECORDS,
        {"event_type": "a", "summary": "s", "application_id": "\x00"},
        422,
        record_refused("body.application_id"),
    ),
    (
        "record-param-value",
        "POST",
        RECORDS,
        {"event_type": "a", "summary": "s", "params": {"k": ["ok", "\x00"]}},
        422,
        record_refused("body.params.k[1]"),
    ),
    (
        "record-param-key",
        "POST",
        RECORDS,
        {"event_type": "a", "summary": "s", "params": {"k\x00": 1}},
        422,
        record_refused("body.params", "has a key that contains a NUL character."),
    ),
    (
        "record-metadata-value",
        "POST",
        RECORDS,
        {"event_type": "a", "summary": "s", "metadata": {"a": {"b": "\ud800"}}},
        422,
        record_refused("body.metadata.a.b", SURROGATE),
    ),
    (
        "record-event-type-surrogate",
        "POST",
        RECORDS,
        {"event_type": "\ud800", "summary": "s"},
        422,
        not_unicode("body.event_type"),
    ),
    (
        "batch-summary",
        "POST",
        f"{RECORDS}/batch",
        [{"event_type": "a", "summary": "s"}, {"event_type": "a", "summary": "s\x00"}],
        422,
        error(
            "BATCH_VALIDATION_FAILED",
            "1 of 2 records do not fit; nothing was stored.",
            [problem("body[1].summary", "UNSUPPORTED_VALUE", NUL)],
        ),
    ),
    (
        "batch-idempotency-key",
        "POST",
        f"{RECORDS}/batch",
        [{"event_type": "a", "summary": "s", "idempotency_key": "k\x00"}],
        422,
        error(
            "BATCH_VALIDATION_FAILED",
            "1 of 1 records do not fit; nothing was stored.",
            [problem("body[0].idempotency_key", "UNSUPPORTED_VALUE", NUL)],
        ),
    ),
]


@pytest.fixture
async def shop(client: httpx.AsyncClient) -> dict[str, Any]:
    """An application with a string and an enum param, for the updates."""
    return await create_application(
        client,
        "shop",
        params=[
            {"key": "amount", "type": "string"},
            {"key": "tier", "type": "enum", "enum_values": ["gold"]},
        ],
    )


async def send(client: httpx.AsyncClient, method: str, path: str, body: Any) -> httpx.Response:
    # json.dumps writes NUL and lone surrogates as \u escapes, as a client's JSON would.
    content = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    return await client.request(method, path, content=content, headers=headers)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "answer"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_text_no_database_stores_is_refused_on_both(
    client: httpx.AsyncClient,
    shop: dict[str, Any],
    method: str,
    path: str,
    body: Any,
    status: int,
    answer: dict[str, Any],
) -> None:
    before = await holdings(client)
    assert_answer(await send(client, method, path, body), status, answer)
    assert await holdings(client) == before
    application = (await client.get(SHOP)).json()
    assert (application["name"], application["description"]) == (shop["name"], None)


OUT_OF_RANGE = invalid(
    problem("body.expires_at", "DATETIME_OUT_OF_RANGE", "is outside the years 1 to 9999 in UTC.")
)


@pytest.mark.parametrize(
    ("expires_at", "answer"),
    [
        ("9999-12-31T23:59:59-23:59", OUT_OF_RANGE),
        ("9999-12-31T23:59:59-01:00", OUT_OF_RANGE),
        ("0001-01-01T00:00:00+01:00", OUT_OF_RANGE),
        ("0001-01-01T00:00:00+23:59", OUT_OF_RANGE),
        (
            "0001-01-01T00:00:00-23:59",
            error(
                "EXPIRES_IN_PAST",
                "expires_at is in the past.",
                [problem("body.expires_at", "EXPIRES_IN_PAST", "must be in the future.")],
            ),
        ),
    ],
)
async def test_an_expiry_past_the_years_in_utc_is_a_422(
    client: httpx.AsyncClient, expires_at: str, answer: dict[str, Any]
) -> None:
    before = await holdings(client)
    response = await client.post(API_KEYS, json={"name": "far", "expires_at": expires_at})
    assert_answer(response, 422, answer)
    assert await holdings(client) == before


@pytest.mark.parametrize(
    ("expires_at", "stored"),
    [
        ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
        ("9999-12-31T23:59:59+23:59", "9999-12-31T00:00:59Z"),
    ],
)
async def test_the_last_expiry_in_utc_is_kept_on_both(
    client: httpx.AsyncClient, expires_at: str, stored: str
) -> None:
    response = await client.post(API_KEYS, json={"name": "far", "expires_at": expires_at})
    assert response.status_code == 201, response.text
    assert response.json()["expires_at"] == stored
    read = await client.get(f"{API_KEYS}/{response.json()['id']}")
    assert read.json()["expires_at"] == stored

"""POST /api/audit-trail/records: the seed contract, field by field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_EMAIL, CLIENT_ADDRESS
from tests.helpers import (
    APPLICATION_FIELDS,
    APPLICATIONS,
    RECORDS,
    create_application,
    record_total,
)
from tests.ingest.support import intact_log

SEED_RESPONSE_FIELDS = [
    "id",
    "event_type",
    "category",
    "summary",
    "created_at",
    "actor",
    "application_id",
    "application_key",
    "application",
    "entity_type",
    "entity_id",
    "severity",
    "params",
    "metadata",
    "ip_address",
]


def parse_time(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


async def test_seed_example_returns_every_response_field(client: httpx.AsyncClient) -> None:
    app = await create_application(
        client,
        "billing",
        description="Invoices and payments",
        params=[{"key": "amount", "type": "number"}, {"key": "currency", "type": "string"}],
    )
    body = {
        "event_type": "invoice.refunded",
        "summary": "Refunded invoice INV-1042",
        "category": "billing",
        "application_id": app["id"],
        "application_key": "billing",
        "entity_type": "invoice",
        "entity_id": "INV-1042",
        "severity": "medium",
        "params": {"amount": 129.5, "currency": "EUR"},
        "metadata": {"request_id": "req_8f2c", "tags": ["refund", "manual"]},
    }
    before = datetime.now(UTC)
    response = await client.post(RECORDS, json=body)
    assert response.status_code == 201, response.text
    record = response.json()
    assert list(record) == SEED_RESPONSE_FIELDS
    assert response.headers["location"] == f"{RECORDS}/{record['id']}"
    assert isinstance(record["id"], str) and len(record["id"]) == 36
    assert record["id"][14] == "7"  # UUIDv7
    for name in ("event_type", "summary", "category", "entity_type", "entity_id", "severity"):
        assert record[name] == body[name]
    assert record["params"] == body["params"]
    assert record["metadata"] == body["metadata"]
    assert before - timedelta(seconds=1) <= parse_time(record["created_at"]) <= datetime.now(UTC)
    assert record["actor"] == "api_key:bootstrap"
    assert record["ip_address"] == CLIENT_ADDRESS[0]
    assert record["application_id"] == app["id"]
    assert record["application_key"] == "billing"
    assert list(record["application"]) == APPLICATION_FIELDS
    assert record["application"]["param_count"] == 2
    assert record["application"]["description"] == "Invoices and payments"
    assert record["application"]["accent_color"].startswith("#")
    parse_time(record["application"]["created_at"])
    parse_time(record["application"]["updated_at"])

    fetched = await client.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == record


async def test_defaults_and_no_application(client: httpx.AsyncClient) -> None:
    response = await client.post(RECORDS, json={"event_type": "x", "summary": "y"})
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["category"] == "general"
    assert record["severity"] == "low"
    assert record["params"] == {}
    assert record["metadata"] == {}
    assert record["application"] is None
    assert record["application_id"] is None and record["application_key"] is None
    assert record["entity_type"] is None and record["entity_id"] is None


@pytest.mark.parametrize("severity", ["critical", "high", "medium", "low", "none"])
async def test_each_severity(client: httpx.AsyncClient, severity: str) -> None:
    response = await client.post(
        RECORDS, json={"event_type": "x", "summary": "y", "severity": severity}
    )
    assert response.status_code == 201
    assert response.json()["severity"] == severity


# (field, minimum length, maximum length); None: no minimum beyond the type.
STRING_LIMITS = [
    ("event_type", 1, 128),
    ("summary", 1, 1024),
    ("category", 0, 64),
    ("entity_type", 0, 64),
    ("entity_id", 0, 128),
]


def base_body(**fields: Any) -> dict[str, Any]:
    return {"event_type": "limits.test", "summary": "limits", **fields}


@pytest.mark.parametrize(("field", "low", "high"), STRING_LIMITS)
async def test_string_limits_accept_the_boundaries(
    client: httpx.AsyncClient, field: str, low: int, high: int
) -> None:
    for length in sorted({low, 1, high}):
        response = await client.post(RECORDS, json=base_body(**{field: "a" * length}))
        assert response.status_code == 201, (length, response.text)
        assert response.json()[field] == "a" * length


@pytest.mark.parametrize(("field", "low", "high"), STRING_LIMITS)
async def test_string_limits_reject_past_the_boundaries(
    client: httpx.AsyncClient, field: str, low: int, high: int
) -> None:
    stored = await record_total(client)
    too_long = await client.post(RECORDS, json=base_body(**{field: "a" * (high + 1)}))
    assert too_long.status_code == 422
    assert too_long.json() == {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": f"Invalid request: body.{field}.",
            "details": [
                {
                    "field": f"body.{field}",
                    "code": "STRING_TOO_LONG",
                    "message": f"String should have at most {high} characters",
                }
            ],
        }
    }
    if low == 1:
        empty = await client.post(RECORDS, json=base_body(**{field: ""}))
        assert empty.status_code == 422
        [problem] = empty.json()["error"]["details"]
        assert problem["field"] == f"body.{field}"
        assert problem["code"] == "STRING_TOO_SHORT"
    assert await record_total(client) == stored


async def test_limits_count_characters_not_bytes(client: httpx.AsyncClient) -> None:
    response = await client.post(RECORDS, json=base_body(event_type="é" * 128))
    assert response.status_code == 201


async def test_application_key_boundaries(client: httpx.AsyncClient) -> None:
    for key in ("a", "a" * 64, "billing_v2", "x9_"):
        await create_application(client, key)
        response = await client.post(RECORDS, json=base_body(application_key=key))
        assert response.status_code == 201, (key, response.text)
        assert response.json()["application_key"] == key


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("", "STRING_TOO_SHORT"),
        ("a" * 65, "STRING_TOO_LONG"),
        ("Billing", "STRING_PATTERN_MISMATCH"),
        ("1billing", "STRING_PATTERN_MISMATCH"),
        ("_billing", "STRING_PATTERN_MISMATCH"),
        ("bill-ing", "STRING_PATTERN_MISMATCH"),
        ("billing\n", "STRING_PATTERN_MISMATCH"),
    ],
)
async def test_application_key_pattern_rejected(
    client: httpx.AsyncClient, key: str, code: str
) -> None:
    stored = await record_total(client)
    response = await client.post(RECORDS, json=base_body(application_key=key))
    assert response.status_code == 422
    [problem] = response.json()["error"]["details"]
    assert problem["field"] == "body.application_key"
    assert problem["code"] == code
    assert await record_total(client) == stored


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"summary": "no event type"}, "body.event_type", "MISSING"),
        ({"event_type": "x"}, "body.summary", "MISSING"),
        (base_body(severity="urgent"), "body.severity", "ENUM"),
        (base_body(severity="LOW"), "body.severity", "ENUM"),
        (base_body(actor="someone@else"), "body.actor", "EXTRA_FORBIDDEN"),
        (base_body(ip_address="10.0.0.1"), "body.ip_address", "EXTRA_FORBIDDEN"),
        (base_body(created_at="2020-01-01T00:00:00Z"), "body.created_at", "EXTRA_FORBIDDEN"),
        (base_body(params=[1, 2]), "body.params", "DICT_TYPE"),
        (base_body(params=None), "body.params", "DICT_TYPE"),
        (base_body(metadata="text"), "body.metadata", "DICT_TYPE"),
        (base_body(event_type=5), "body.event_type", "STRING_TYPE"),
        (base_body(category=None), "body.category", "STRING_TYPE"),
    ],
)
async def test_bad_bodies_are_422_and_store_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], field: str, code: str
) -> None:
    stored = await record_total(client)
    response = await client.post(RECORDS, json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert {"field": field, "code": code} in [
        {"field": p["field"], "code": p["code"]} for p in error["details"]
    ]
    assert await record_total(client) == stored


async def test_body_that_is_not_json_is_400(client: httpx.AsyncClient) -> None:
    stored = await record_total(client)
    response = await client.post(
        RECORDS, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "INVALID_JSON", "message": "The request body is not valid JSON."}
    }
    assert await record_total(client) == stored


async def test_actor_and_ip_come_from_the_request_not_the_body(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        RECORDS,
        json=base_body(),
        headers={"X-Forwarded-For": "198.51.100.1"},  # peer is not a trusted proxy
    )
    assert response.status_code == 201
    assert response.json()["ip_address"] == CLIENT_ADDRESS[0]
    assert response.json()["actor"] == "api_key:bootstrap"


async def test_actor_is_the_users_email_with_a_token(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    from tests.conftest import ADMIN_PASSWORD

    login = await anonymous.post(
        "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    token = login.json()["access_token"]
    response = await anonymous.post(
        RECORDS, json=base_body(), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201
    assert response.json()["actor"] == ADMIN_EMAIL


async def test_unknown_application_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    stored = await record_total(client)
    by_key = await client.post(RECORDS, json=base_body(application_key="nope"))
    assert by_key.status_code == 422
    assert by_key.json() == {
        "error": {
            "code": "APPLICATION_NOT_FOUND",
            "message": "application_key names no registered application.",
            "details": [
                {
                    "field": "body.application_key",
                    "code": "APPLICATION_NOT_FOUND",
                    "message": "no application nope.",
                }
            ],
        }
    }
    by_id = await client.post(RECORDS, json=base_body(application_id="0190-nope"))
    assert by_id.status_code == 422
    assert by_id.json()["error"]["details"][0]["field"] == "body.application_id"
    assert await record_total(client) == stored


async def test_application_id_and_key_must_agree(client: httpx.AsyncClient) -> None:
    billing = await create_application(client, "billing")
    await create_application(client, "shipping")
    stored = await record_total(client)
    response = await client.post(
        RECORDS, json=base_body(application_id=billing["id"], application_key="shipping")
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "APPLICATION_MISMATCH"
    assert await record_total(client) == stored
    both = await client.post(
        RECORDS, json=base_body(application_id=billing["id"], application_key="billing")
    )
    assert both.status_code == 201
    by_id = await client.post(RECORDS, json=base_body(application_id=billing["id"]))
    assert by_id.json()["application_key"] == "billing"


async def test_archived_application_takes_no_records(client: httpx.AsyncClient) -> None:
    await create_application(client, "legacy")
    archived = await client.patch(f"{APPLICATIONS}/legacy", json={"archived": True})
    assert archived.status_code == 200
    stored = await record_total(client)
    response = await client.post(RECORDS, json=base_body(application_key="legacy"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "APPLICATION_ARCHIVED"
    assert await record_total(client) == stored


async def test_params_over_64_kib_is_413(client: httpx.AsyncClient) -> None:
    stored = await record_total(client)
    # {"blob":"..."} is 11 bytes plus the string. At 64 KiB, params are within their own limit
    # but the record is not within its leaf's (65,535 bytes: tests/probes/test_record_size.py).
    fits = {"blob": "x" * (64 * 1024 - 11)}
    response = await client.post(RECORDS, json=base_body(params=fits))
    assert (response.status_code, response.json()["error"]["code"]) == (413, "RECORD_TOO_LARGE")
    too_big = {"blob": "x" * (64 * 1024 - 10)}
    for field in ("params", "metadata"):
        response = await client.post(RECORDS, json=base_body(**{field: too_big}))
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["code"] == "PAYLOAD_TOO_LARGE"
        assert error["message"] == f"{field} is 65537 bytes serialized; the limit is 65536."
        assert error["details"][0]["field"] == f"body.{field}"
    assert await record_total(client) == stored


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


async def test_nesting_deeper_than_10_is_422(client: httpx.AsyncClient) -> None:
    assert (await client.post(RECORDS, json=base_body(metadata=nested(10)))).status_code == 201
    stored = await record_total(client)
    for field in ("params", "metadata"):
        response = await client.post(RECORDS, json=base_body(**{field: nested(11)}))
        assert response.status_code == 422
        assert response.json() == {
            "error": {
                "code": "JSON_TOO_DEEP",
                "message": f"{field} nests deeper than 10 levels.",
                "details": [
                    {
                        "field": f"body.{field}",
                        "code": "TOO_DEEP",
                        "message": "nests deeper than 10 levels.",
                    }
                ],
            }
        }
    assert await record_total(client) == stored


@pytest.mark.parametrize(
    ("raw_body", "field", "message"),
    [
        (
            '{"event_type": "x", "summary": "nul \\u0000 here"}',
            "body.summary",
            "contains a NUL character.",
        ),
        (
            '{"event_type": "x", "summary": "y", "params": {"s": "half \\ud800 pair"}}',
            "body.params.s",
            "contains a lone surrogate, which is not Unicode text.",
        ),
        (
            '{"event_type": "x", "summary": "y", "params": {"n": 1e400}}',
            "body.params.n",
            "is not a finite number.",
        ),
        (
            '{"event_type": "x", "summary": "y", "metadata": {"a": [1, NaN]}}',
            "body.metadata.a[1]",
            "is not a finite number.",
        ),
        (
            '{"event_type": "x", "summary": "y", "params": {"id": 9007199254740992}}',
            "body.params.id",
            "is an integer beyond ±9007199254740991; send it as a string.",
        ),
        (
            '{"event_type": "x", "summary": "y", "params": {"big": 1e21}}',
            "body.params.big",
            "is a number beyond ±9007199254740991; send it as a string.",
        ),
        (
            '{"event_type": "x", "summary": "y", "metadata": {"a": [-3.7e16]}}',
            "body.metadata.a[0]",
            "is a number beyond ±9007199254740991; send it as a string.",
        ),
        (
            '{"event_type": "x", "summary": "y", "params": {"big": 9007199254740994.0}}',
            "body.params.big",
            "is a number beyond ±9007199254740991; send it as a string.",
        ),
        (
            '{"event_type": "x", "summary": "y", "metadata": {"k\\u0000": 1}}',
            "body.metadata",
            "has a key that contains a NUL character.",
        ),
        (
            '{"event_type": "x", "summary": "y", "params": {"a": [[{"b": -9007199254740993}]]}}',
            "body.params.a[0][0].b",
            "is an integer beyond ±9007199254740991; send it as a string.",
        ),
        (
            '{"event_type": "x", "summary": "y", "params": {"a": ["ok", {"b": "\\u0000"}]}}',
            "body.params.a[1].b",
            "contains a NUL character.",
        ),
    ],
)
async def test_values_the_log_cannot_hash_are_422(
    client: httpx.AsyncClient, raw_body: str, field: str, message: str
) -> None:
    stored = await record_total(client)
    response = await client.post(
        RECORDS, content=raw_body.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "UNSUPPORTED_VALUE",
            "message": f"{field} {message}",
            "details": [{"field": field, "code": "UNSUPPORTED_VALUE", "message": message}],
        }
    }
    assert await record_total(client) == stored


async def test_text_that_only_looks_like_a_problem_is_accepted(client: httpx.AsyncClient) -> None:
    params = {
        "escaped": "a backslash, then u0000: \\u0000",
        "digits": "12345678901234567890",
        "brackets": "[[[[[[{{{{{{",
        "exponent": "1e+21 as text",
        "precise": 0.12345678901234567,
    }
    response = await client.post(RECORDS, json=base_body(params=params))
    assert response.status_code == 201
    assert response.json()["params"] == params


async def test_largest_exact_integer_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(RECORDS, json=base_body(params={"id": 2**53 - 1}))
    assert response.status_code == 201
    assert response.json()["params"] == {"id": 2**53 - 1}


async def test_nul_in_the_url_is_400(client: httpx.AsyncClient) -> None:
    for url in (f"{RECORDS}/abc%00def", f"{RECORDS}?search=a%00b"):
        response = await client.get(url)
        assert response.status_code == 400
        assert response.json() == {
            "error": {"code": "INVALID_CHARACTER", "message": "The URL contains a NUL character."}
        }


async def test_body_over_the_request_limit_is_413(client: httpx.AsyncClient) -> None:
    stored = await record_total(client)
    huge = b'{"event_type": "x", "summary": "' + b"a" * (16 * 1024 * 1024) + b'"}'
    response = await client.post(
        RECORDS, content=huge, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "PAYLOAD_TOO_LARGE",
            "message": f"The request body is over {16 * 1024 * 1024} bytes.",
        }
    }
    assert await record_total(client) == stored


async def test_nul_in_the_idempotency_key_header_is_422(client: httpx.AsyncClient) -> None:
    stored = await record_total(client)
    response = await client.post(
        RECORDS, json=base_body(), headers={"Idempotency-Key": "retry\x00-1"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "UNSUPPORTED_VALUE",
            "message": "header.idempotency-key contains a NUL character.",
            "details": [
                {
                    "field": "header.idempotency-key",
                    "code": "UNSUPPORTED_VALUE",
                    "message": "contains a NUL character.",
                }
            ],
        }
    }
    assert await record_total(client) == stored


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "The request body is not valid JSON."),
        (b'{"event_type":"a","summary":"\xff"}', "The request body is not valid JSON."),
        (b"[" * 5000 + b"]" * 5000, "The request body nests too deeply to parse."),
    ],
)
async def test_a_body_that_cannot_be_parsed_is_400(
    client: httpx.AsyncClient, raw: bytes, message: str
) -> None:
    stored = await record_total(client)
    response = await client.post(RECORDS, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "INVALID_JSON", "message": message}}
    assert await record_total(client) == stored


@pytest.mark.parametrize("raw", [b"null", b"[1]", b'"text"', b"5"])
async def test_a_body_that_is_not_an_object_is_422(client: httpx.AsyncClient, raw: bytes) -> None:
    stored = await record_total(client)
    response = await client.post(RECORDS, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": "Invalid request: body.",
            "details": [
                {
                    "field": "body",
                    "code": "MODEL_TYPE",
                    "message": "Input should be a valid dictionary or instance of RecordCreate",
                }
            ],
        }
    }
    assert await record_total(client) == stored


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=utf-8"])
async def test_a_json_body_is_read(client: httpx.AsyncClient, content_type: str) -> None:
    raw = b'{"event_type": "typed.json", "summary": "JSON"}'
    response = await client.post(RECORDS, content=raw, headers={"Content-Type": content_type})
    assert response.status_code == 201, response.text
    assert response.json()["event_type"] == "typed.json"


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/x-ndjson",
    ],
)
async def test_a_body_that_is_not_declared_json_is_not_read(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    """What a page of any site may send with the session cookie, without asking (CORS), is
    not read as JSON: 415, nothing stored."""
    stored = await record_total(client)
    headers = {} if content_type is None else {"Content-Type": content_type}
    raw = b'{"event_type": "typed.loosely", "summary": "still JSON"}'
    response = await client.post(RECORDS, content=raw, headers=headers)
    assert response.status_code == 415
    assert response.json() == {
        "error": {
            "code": "UNSUPPORTED_MEDIA_TYPE",
            "message": "The request body must be application/json.",
        }
    }
    assert await record_total(client) == stored


@pytest.mark.parametrize("raw", [b"{not json", b"null", b'{"summary": 5}'])
async def test_credentials_are_checked_before_the_body(
    anonymous: httpx.AsyncClient, raw: bytes
) -> None:
    response = await anonymous.post(
        RECORDS, content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_a_bad_header_and_a_bad_body_are_one_422(client: httpx.AsyncClient) -> None:
    stored = await record_total(client)
    response = await client.post(
        RECORDS, json={"event_type": "x"}, headers={"Idempotency-Key": "k" * 256}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["message"] == "Invalid request: header.idempotency-key, body.summary."
    assert [(p["field"], p["code"]) for p in error["details"]] == [
        ("header.idempotency-key", "STRING_TOO_LONG"),
        ("body.summary", "MISSING"),
    ]
    assert await record_total(client) == stored


NUMBERS_AND_NAMES: dict[str, Any] = {
    "whole_float": 5.0,
    "largest_exact_float": 9007199254740991.0,
    "large_float": 1e15,
    "tiny": 1e-7,
    "tenth": 0.1,
    "largest_exact_integer": 2**53 - 1,
    "nested": {"list": [1, 1.5, 2.0, None, True, "x"], "é": {"\U0001f600": "beyond the BMP"}},
    "\ufb01": "a key after the emoji in UTF-16 order",
}


async def test_every_value_reads_back_as_sent_and_the_log_still_hashes(
    client: httpx.AsyncClient,
) -> None:
    """params and metadata are stored as JSON text we encode (canonical where that reads back
    the same): every number keeps its type, and every leaf recomputed from storage matches
    the tree built when the record was appended."""
    posted = await client.post(
        RECORDS, json=base_body(params=NUMBERS_AND_NAMES, metadata=NUMBERS_AND_NAMES)
    )
    assert posted.status_code == 201, posted.text
    stored = await client.get(f"{RECORDS}/{posted.json()['id']}")
    for answer in (posted.json(), stored.json()):
        for field in ("params", "metadata"):
            assert json.dumps(answer[field], sort_keys=True) == json.dumps(
                NUMBERS_AND_NAMES, sort_keys=True
            )
    # PostgreSQL's jsonb has no negative zero; canonically both zeros are 0, so the leaf holds.
    zero = await client.post(RECORDS, json=base_body(params={"zero": -0.0}))
    assert (await client.get(f"{RECORDS}/{zero.json()['id']}")).json()["params"] == {"zero": 0}
    await intact_log(client)

"""POST /api/audit-trail/records/batch: a JSON array or NDJSON, all or nothing, up to 1,000."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import CLIENT_ADDRESS
from tests.helpers import RECORDS, create_application, record_total
from tests.ingest.support import BATCH, KeyedClient, intact_log

JSON = "application/json"
NDJSON = "application/x-ndjson"


def item(number: int, **fields: Any) -> dict[str, Any]:
    return {"event_type": "batch.test", "summary": f"item {number}", **fields}


def ndjson(items: list[Any]) -> bytes:
    return b"".join(json.dumps(entry).encode() + b"\n" for entry in items)


async def post_batch(
    client: httpx.AsyncClient, items: list[Any], as_ndjson: bool
) -> httpx.Response:
    if as_ndjson:
        return await client.post(BATCH, content=ndjson(items), headers={"Content-Type": NDJSON})
    return await client.post(BATCH, json=items)


async def post_raw(client: httpx.AsyncClient, body: bytes, content_type: str) -> httpx.Response:
    return await client.post(BATCH, content=body, headers={"Content-Type": content_type})


def assert_error(response: httpx.Response, status: int, code: str, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"error": {"code": code, "message": message}}


FORMATS = pytest.mark.parametrize("as_ndjson", [False, True], ids=["json", "ndjson"])


@FORMATS
async def test_batch_creates_the_records_in_order(
    client: httpx.AsyncClient, as_ndjson: bool
) -> None:
    billing = await create_application(
        client, "billing", params=[{"key": "amount", "type": "number"}]
    )
    stored = await record_total(client)
    items = [
        item(0),
        item(1, application_key="billing", params={"amount": 12.5}, severity="high"),
        item(2, entity_type="invoice", entity_id="INV-7", metadata={"tags": ["a", "b"]}),
    ]
    response = await post_batch(client, items, as_ndjson)

    assert response.status_code == 201, response.text
    assert "idempotent-replayed" not in response.headers
    body = response.json()
    assert list(body) == ["records"]
    records = body["records"]
    assert [record["summary"] for record in records] == ["item 0", "item 1", "item 2"]
    for record in records:
        assert record["actor"] == "api_key:bootstrap"
        assert record["ip_address"] == CLIENT_ADDRESS[0]
        fetched = await client.get(f"{RECORDS}/{record['id']}")
        assert fetched.json() == record
    assert records[1]["application_id"] == billing["id"]
    assert records[1]["application"]["key"] == "billing"
    assert records[1]["params"] == {"amount": 12.5}
    assert records[1]["severity"] == "high"
    assert records[2]["entity_id"] == "INV-7"
    assert records[2]["metadata"] == {"tags": ["a", "b"]}
    assert await record_total(client) == stored + 3
    entries = await intact_log(client)
    assert [entry["id"] for entry in entries[-3:]] == [record["id"] for record in records]


async def test_ndjson_skips_blank_lines_and_takes_any_line_ending(
    client: httpx.AsyncClient,
) -> None:
    body = b'\n{"event_type": "a", "summary": "one"}\r\n  \n{"event_type": "a", "summary": "two"}'
    for content_type in ("application/x-ndjson; charset=utf-8", "Application/X-NDJSON"):
        response = await post_raw(client, body, content_type)
        assert response.status_code == 201, response.text
        assert [record["summary"] for record in response.json()["records"]] == ["one", "two"]


async def test_a_thousand_records_fit_in_one_batch(client: httpx.AsyncClient) -> None:
    stored = await record_total(client)
    response = await client.post(BATCH, json=[item(n) for n in range(1000)])
    assert response.status_code == 201, response.text
    records = response.json()["records"]
    assert [record["summary"] for record in records] == [f"item {n}" for n in range(1000)]
    assert len({record["id"] for record in records}) == 1000
    assert await record_total(client) == stored + 1000
    entries = await intact_log(client)
    assert [entry["summary"] for entry in entries[-1000:]] == [f"item {n}" for n in range(1000)]


@FORMATS
async def test_more_than_a_thousand_is_413(client: httpx.AsyncClient, as_ndjson: bool) -> None:
    stored = await record_total(client)
    response = await post_batch(client, [item(n) for n in range(1001)], as_ndjson)
    assert_error(
        response,
        413,
        "BATCH_TOO_LARGE",
        "A batch holds at most 1000 records; this one has 1001.",
    )
    assert await record_total(client) == stored


DEEP = b"[" * 100_000
EMPTY_BATCH = (422, "EMPTY_BATCH", "A batch needs at least one record.")
NOT_AN_ARRAY = (400, "INVALID_BATCH", "A batch is a JSON array of records.")
NOT_JSON = (400, "INVALID_JSON", "The request body is not valid JSON.")
# (body, content type, (status, code, message)): checked in one test, as none of them writes.
UNREADABLE = [
    (b"[]", JSON, EMPTY_BATCH),
    (b"", NDJSON, EMPTY_BATCH),
    (b"\n \n\r\n", NDJSON, EMPTY_BATCH),
    (b'{"event_type": "a", "summary": "b"}', JSON, NOT_AN_ARRAY),
    (b'"text"', JSON, NOT_AN_ARRAY),
    (b"null", JSON, NOT_AN_ARRAY),
    (b"5", JSON, NOT_AN_ARRAY),
    (b'[{"event_type": "a",', JSON, NOT_JSON),
    (b"", JSON, NOT_JSON),
    (b'["\xff\xfe"]', JSON, NOT_JSON),
    (
        b'{"event_type": "a", "summary": "b"}\n{"event_type": \n',
        NDJSON,
        (400, "INVALID_JSON", "line 2 of the NDJSON body is not valid JSON."),
    ),
    (
        b'{"event_type": "a", "summary": "b"}\n\n[{"event_type": "a", "summary": "b"}]\nnot json\n',
        NDJSON,
        (400, "INVALID_JSON", "line 4 of the NDJSON body is not valid JSON."),
    ),
    (
        DEEP + b"]" * 100_000,
        JSON,
        (400, "INVALID_JSON", "The request body nests too deeply to parse."),
    ),
    (
        b'{"event_type": "a", "summary": "b"}\n' + DEEP + b"\n",
        NDJSON,
        (400, "INVALID_JSON", "line 2 of the NDJSON body nests too deeply to parse."),
    ),
]


async def test_unreadable_batches_are_refused(client: httpx.AsyncClient) -> None:
    """Empty: 422 EMPTY_BATCH; not an array: 400 INVALID_BATCH; not JSON: 400 INVALID_JSON."""
    stored = await record_total(client)
    for body, content_type, (status, code, message) in UNREADABLE:
        response = await post_raw(client, body, content_type)
        assert (response.status_code, response.json()) == (
            status,
            {"error": {"code": code, "message": message}},
        ), (body[:60], content_type)
    assert await record_total(client) == stored


@FORMATS
async def test_one_bad_item_fails_the_whole_batch_naming_each(
    client: httpx.AsyncClient, as_ndjson: bool
) -> None:
    await create_application(
        client, "billing", params=[{"key": "amount", "type": "number", "required": True}]
    )
    items: list[Any] = [item(n) for n in range(10)]
    items[3] = {"event_type": "batch.test"}
    items[5] = item(5, application_key="billing", params={"amount": "lots"})
    items[7] = item(7, application_key="nope")
    items[8] = item(8, actor="someone else", severity="urgent")
    items[9] = "not a record"
    stored = await record_total(client)

    response = await post_batch(client, items, as_ndjson)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "BATCH_VALIDATION_FAILED"
    assert error["message"] == "5 of 10 records do not fit; nothing was stored."
    assert [(problem["field"], problem["code"]) for problem in error["details"]] == [
        ("body[3].summary", "MISSING"),
        ("body[5].params.amount", "INVALID_PARAM"),
        ("body[7].application_key", "APPLICATION_NOT_FOUND"),
        ("body[8].severity", "ENUM"),
        ("body[8].actor", "EXTRA_FORBIDDEN"),
        ("body[9]", "MODEL_TYPE"),
    ]
    messages = {problem["field"]: problem["message"] for problem in error["details"]}
    assert messages["body[5].params.amount"] == "must be of type number."
    assert messages["body[7].application_key"] == "no application nope."
    assert await record_total(client) == stored


async def test_values_the_log_cannot_hash_fail_the_batch(client: httpx.AsyncClient) -> None:
    """Checked per item as for one record: here with the paths of the batch."""
    body = (
        b'[{"event_type": "a", "summary": "ok"},'
        b' {"event_type": "a", "summary": "b", "metadata": {"n": [1, NaN]}},'
        b' {"event_type": "a", "summary": "b", "params": {"blob": "' + b"x" * 65536 + b'"}}]'
    )
    stored = await record_total(client)
    response = await post_raw(client, body, "application/json")
    assert response.status_code == 422, response.text
    assert response.json() == {
        "error": {
            "code": "BATCH_VALIDATION_FAILED",
            "message": "2 of 3 records do not fit; nothing was stored.",
            "details": [
                {
                    "field": "body[1].metadata.n[1]",
                    "code": "UNSUPPORTED_VALUE",
                    "message": "is not a finite number.",
                },
                {
                    "field": "body[2].params",
                    "code": "TOO_LARGE",
                    "message": "is 65547 bytes; the limit is 65536.",
                },
            ],
        }
    }
    assert await record_total(client) == stored


async def test_batch_needs_a_writer(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, keyed_client: KeyedClient
) -> None:
    reader = await keyed_client(["reader"])
    writer = await keyed_client(["writer"])
    stored = await record_total(client)
    response = await anonymous.post(BATCH, json=[item(0)])
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {
        "error": {"code": "UNAUTHENTICATED", "message": "Missing, invalid or expired credentials."}
    }
    response = await reader.post(BATCH, json=[item(0)])
    assert response.status_code == 403
    assert response.json() == {
        "error": {"code": "FORBIDDEN", "message": "This needs the scope records:write."}
    }
    assert await record_total(client) == stored
    response = await writer.post(BATCH, json=[item(0)])
    assert response.status_code == 201
    assert response.json()["records"][0]["actor"] == "api_key:key 1"

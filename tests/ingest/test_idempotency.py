"""Idempotency keys: a retried request gets the record its first attempt created, for good."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI

from audittrail.app import create_app
from audittrail.config import Settings
from audittrail.records.writer import GroupCommitWriter
from tests.conftest import ADMIN_KEY, make_client
from tests.helpers import RECORDS, create_application, record_total
from tests.ingest.support import BATCH, AppendHook, KeyedClient, intact_log, until

BODY = {"event_type": "invoice.paid", "summary": "Invoice INV-1 paid", "metadata": {"n": 1}}


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def reused(key: str, *fields: str) -> dict[str, Any]:
    """The 409 for a key used before with another request, naming where each key came from."""
    return {
        "error": {
            "code": "IDEMPOTENCY_KEY_REUSED",
            "message": f"Idempotency key {key} was used before with a different request; "
            "nothing was stored.",
            "details": [
                {
                    "field": field,
                    "code": "IDEMPOTENCY_KEY_REUSED",
                    "message": "was used before with another request.",
                }
                for field in fields
            ],
        }
    }


def assert_replayed(response: httpx.Response, first: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["idempotent-replayed"] == "true"
    assert response.json() == first.json()


async def seq_of(client: httpx.AsyncClient, record_id: str) -> int:
    seqs: list[int] = [
        entry["seq"] for entry in await intact_log(client) if entry["id"] == record_id
    ]
    [seq] = seqs
    return seq


async def test_retry_with_the_same_key_and_body_replays_the_record(
    client: httpx.AsyncClient,
) -> None:
    first = await client.post(RECORDS, json=BODY, headers=keyed("order-1"))
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    stored = await record_total(client)
    seq = await seq_of(client, first.json()["id"])

    again = await client.post(RECORDS, json=BODY, headers=keyed("order-1"))

    assert_replayed(again, first)
    assert again.headers["location"] == first.headers["location"]
    assert await record_total(client) == stored
    assert await seq_of(client, first.json()["id"]) == seq
    # Defaults spelled out are the same request.
    spelled_out = {**BODY, "severity": "low", "category": "general", "params": {}}
    assert_replayed(await client.post(RECORDS, json=spelled_out, headers=keyed("order-1")), first)
    assert await record_total(client) == stored


async def test_the_same_key_with_another_body_is_409(client: httpx.AsyncClient) -> None:
    first = await client.post(RECORDS, json=BODY, headers=keyed("order-1"))
    assert first.status_code == 201
    stored = await record_total(client)

    for change in ({"summary": "other"}, {"metadata": {"n": 2}}, {"severity": "high"}):
        response = await client.post(RECORDS, json={**BODY, **change}, headers=keyed("order-1"))
        assert response.status_code == 409, change
        assert response.json() == reused("'order-1'", "header.idempotency-key")

    assert await record_total(client) == stored
    assert_replayed(await client.post(RECORDS, json=BODY, headers=keyed("order-1")), first)


async def test_keys_are_scoped_per_application(
    client: httpx.AsyncClient, keyed_client: KeyedClient
) -> None:
    await create_application(client, "billing")
    await create_application(client, "shipping")
    other_writer = await keyed_client(["writer"])
    stored = await record_total(client)

    billing = await client.post(
        RECORDS, json={**BODY, "application_key": "billing"}, headers=keyed("k")
    )
    shipping = await client.post(
        RECORDS, json={**BODY, "application_key": "shipping"}, headers=keyed("k")
    )
    assert (billing.status_code, shipping.status_code) == (201, 201)
    assert billing.json()["id"] != shipping.json()["id"]
    assert await record_total(client) == stored + 2
    # Within one application the key is the application's, whichever credential sends it.
    again = await other_writer.post(
        RECORDS, json={**BODY, "application_key": "billing"}, headers=keyed("k")
    )
    assert_replayed(again, billing)
    assert await record_total(client) == stored + 2


async def test_keys_without_an_application_are_per_credential(
    client: httpx.AsyncClient, keyed_client: KeyedClient
) -> None:
    writers = [client, await keyed_client(["writer"]), await keyed_client(["writer"])]
    stored = await record_total(client)

    firsts = [await writer.post(RECORDS, json=BODY, headers=keyed("k")) for writer in writers]

    assert [response.status_code for response in firsts] == [201, 201, 201]
    assert [response.json()["actor"] for response in firsts] == [
        "api_key:bootstrap",
        "api_key:key 0",
        "api_key:key 1",
    ]
    assert len({response.json()["id"] for response in firsts}) == 3
    for writer, first in zip(writers, firsts, strict=True):
        assert_replayed(await writer.post(RECORDS, json=BODY, headers=keyed("k")), first)
    assert await record_total(client) == stored + 3


async def test_a_key_survives_a_restart(settings: Settings) -> None:
    def running_app() -> tuple[FastAPI, httpx.AsyncClient]:
        app = create_app(settings)
        return app, make_client(app, {"Authorization": f"Bearer {ADMIN_KEY}"})

    app, client = running_app()
    async with app.router.lifespan_context(app), client:
        first = await client.post(RECORDS, json=BODY, headers=keyed("order-1"))
        assert first.status_code == 201
        stored = await record_total(client)

    app, client = running_app()
    async with app.router.lifespan_context(app), client:
        assert_replayed(await client.post(RECORDS, json=BODY, headers=keyed("order-1")), first)
        changed = await client.post(
            RECORDS, json={**BODY, "summary": "changed"}, headers=keyed("order-1")
        )
        assert changed.status_code == 409
        assert await record_total(client) == stored


async def test_concurrent_retries_create_one_record(client: httpx.AsyncClient) -> None:
    stored = await record_total(client)

    responses = await asyncio.gather(
        *(client.post(RECORDS, json=BODY, headers=keyed("order-1")) for _ in range(10))
    )

    assert sorted(response.status_code for response in responses) == [200] * 9 + [201]
    assert len({response.json()["id"] for response in responses}) == 1
    assert await record_total(client) == stored + 1
    await intact_log(client)


async def test_retries_in_one_commit_append_once(
    client: httpx.AsyncClient, append_hook: AppendHook, group_commit: GroupCommitWriter
) -> None:
    """Ten retries queued behind a held commit are one batch: one record appended, not ten."""
    stored = await record_total(client)
    append_hook.hold()
    gate = asyncio.create_task(client.post(RECORDS, json={**BODY, "summary": "gate"}))
    await append_hook.wait_held()
    retries = [
        asyncio.create_task(client.post(RECORDS, json=BODY, headers=keyed("order-1")))
        for _ in range(10)
    ]
    await until(lambda: group_commit.queued == 10)
    append_hook.release()

    assert (await gate).status_code == 201
    responses = await asyncio.gather(*retries)
    assert append_hook.sizes[-1] == 1
    assert sorted(response.status_code for response in responses) == [200] * 9 + [201]
    assert len({response.json()["id"] for response in responses}) == 1
    assert await record_total(client) == stored + 2


async def test_a_key_out_of_bounds_is_422(client: httpx.AsyncClient) -> None:
    stored = await record_total(client)
    for key, code in (("k" * 256, "STRING_TOO_LONG"), ("", "STRING_TOO_SHORT")):
        response = await client.post(RECORDS, json=BODY, headers=keyed(key))
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert error["message"] == "Invalid request: header.idempotency-key."
        assert [(p["field"], p["code"]) for p in error["details"]] == [
            ("header.idempotency-key", code)
        ]
    assert await record_total(client) == stored
    longest = await client.post(RECORDS, json=BODY, headers=keyed("k" * 255))
    assert longest.status_code == 201


def batch_item(number: int, key: str | None = None, **fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"event_type": "batch.test", "summary": f"item {number}", **fields}
    if key is not None:
        item["idempotency_key"] = key
    return item


async def test_a_retried_batch_replays_its_records(client: httpx.AsyncClient) -> None:
    items = [batch_item(n, f"key-{n}") for n in range(3)]
    first = await client.post(BATCH, json=items)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    stored = await record_total(client)

    again = await client.post(BATCH, json=items)

    assert_replayed(again, first)
    assert await record_total(client) == stored


async def test_a_batch_with_new_records_among_replays_is_201(client: httpx.AsyncClient) -> None:
    first = await client.post(BATCH, json=[batch_item(0, "key-0"), batch_item(1)])
    assert first.status_code == 201
    stored = await record_total(client)

    again = await client.post(BATCH, json=[batch_item(0, "key-0"), batch_item(1)])

    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    [replayed, fresh] = again.json()["records"]
    assert replayed == first.json()["records"][0]
    assert fresh["id"] != first.json()["records"][1]["id"]
    assert await record_total(client) == stored + 1


async def test_a_batch_reusing_a_key_with_another_body_is_409(client: httpx.AsyncClient) -> None:
    assert (await client.post(BATCH, json=[batch_item(0, "key-0")])).status_code == 201
    stored = await record_total(client)

    response = await client.post(
        BATCH,
        json=[batch_item(1), batch_item(2, "key-2"), batch_item(0, "key-0", severity="high")],
    )

    assert response.status_code == 409
    assert response.json() == reused("'key-0'", "body[2].idempotency_key")
    assert await record_total(client) == stored
    # key-2 was not taken by the failed batch: it is free for another body.
    fresh = await client.post(BATCH, json=[batch_item(9, "key-2")])
    assert fresh.status_code == 201


async def test_one_key_twice_in_a_batch(client: httpx.AsyncClient) -> None:
    stored = await record_total(client)
    same = await client.post(
        BATCH, json=[batch_item(0, "dup"), batch_item(1), batch_item(0, "dup")]
    )
    assert same.status_code == 201, same.text
    [first, other, second] = same.json()["records"]
    assert first == second
    assert other["id"] != first["id"]
    assert await record_total(client) == stored + 2

    clash = await client.post(
        BATCH, json=[batch_item(5, "twice"), batch_item(6, "twice"), batch_item(7, "once")]
    )
    assert clash.status_code == 409
    assert clash.json() == reused("'twice'", "body[1].idempotency_key")
    assert await record_total(client) == stored + 2


async def test_batch_items_and_single_records_share_a_scope(client: httpx.AsyncClient) -> None:
    """A key is the credential's (or application's), whichever endpoint first used it."""
    first = await client.post(RECORDS, json=BODY, headers=keyed("order-1"))
    assert first.status_code == 201
    stored = await record_total(client)
    again = await client.post(BATCH, json=[{**BODY, "idempotency_key": "order-1"}])
    assert again.status_code == 200
    assert again.json() == {"records": [first.json()]}
    assert await record_total(client) == stored


async def test_a_batch_key_out_of_bounds_is_422(client: httpx.AsyncClient) -> None:
    stored = await record_total(client)
    response = await client.post(
        BATCH,
        json=[
            batch_item(0, "k" * 256),
            batch_item(1, ""),
            batch_item(2, "k" * 255),
            batch_item(3, "nul\x00key"),
        ],
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "BATCH_VALIDATION_FAILED"
    assert error["message"] == "3 of 4 records do not fit; nothing was stored."
    assert [(p["field"], p["code"]) for p in error["details"]] == [
        ("body[0].idempotency_key", "STRING_TOO_LONG"),
        ("body[1].idempotency_key", "STRING_TOO_SHORT"),
        ("body[3].idempotency_key", "UNSUPPORTED_VALUE"),
    ]
    assert error["details"][2]["message"] == "contains a NUL character."
    assert await record_total(client) == stored

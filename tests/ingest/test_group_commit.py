"""Group commit: concurrent requests share transactions; a failed commit fails its whole batch."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.db import bulk
from audittrail.db.models import Record
from audittrail.records.writer import COMMIT_FAILED as COMMIT_FAILED_MESSAGE
from audittrail.records.writer import GroupCommitWriter
from tests.helpers import RECORDS, post_record, record_total
from tests.ingest.support import (
    BATCH,
    AppendHook,
    commit_failure,
    intact_log,
    metrics,
    until,
)

CONCURRENT = 64
COMMIT_FAILED = {
    "error": {
        "code": "COMMIT_FAILED",
        "message": COMMIT_FAILED_MESSAGE,
    }
}
OVERLOADED = {
    "error": {
        "code": "OVERLOADED",
        "message": "The service is at capacity. Nothing was stored; retry shortly.",
    }
}


def record_body(summary: str) -> dict[str, Any]:
    return {"event_type": "ingest.test", "summary": summary}


def assert_unavailable(response: httpx.Response, body: dict[str, Any]) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json() == body


async def stored_summaries(client: httpx.AsyncClient) -> list[str]:
    response = await client.get(RECORDS, params={"page_size": 200, "sort_dir": "asc"})
    assert response.status_code == 200, response.text
    return [record["summary"] for record in response.json()["records"]]


async def test_concurrent_posts_share_commits(
    client: httpx.AsyncClient, group_commit: GroupCommitWriter
) -> None:
    await post_record(client)
    before = await metrics(client)
    batches_before = group_commit.stats.batches

    responses = await asyncio.gather(
        *(client.post(RECORDS, json=record_body(f"concurrent {n}")) for n in range(CONCURRENT))
    )

    assert [response.status_code for response in responses] == [201] * CONCURRENT
    after = await metrics(client)
    batches = after["audittrail_commit_batches_total"] - before["audittrail_commit_batches_total"]
    committed = (
        after["audittrail_committed_records_total"] - before["audittrail_committed_records_total"]
    )
    assert committed == CONCURRENT
    assert 1 <= batches < CONCURRENT
    assert after["audittrail_largest_batch_records"] > 1
    assert after["audittrail_failed_batches_total"] == 0
    assert after["audittrail_write_queue_requests"] == 0
    assert batches == group_commit.stats.batches - batches_before
    assert group_commit.stats.largest_batch == after["audittrail_largest_batch_records"]

    for response in responses:
        fetched = await client.get(f"{RECORDS}/{response.json()['id']}")
        assert fetched.status_code == 200
        assert fetched.json() == response.json()
    entries = await intact_log(client)
    acknowledged = {response.json()["id"] for response in responses}
    assert acknowledged <= {entry["id"] for entry in entries}


async def test_failed_commit_fails_every_request_of_its_batch(
    client: httpx.AsyncClient, append_hook: AppendHook, group_commit: GroupCommitWriter
) -> None:
    await post_record(client, summary="before")
    stored = await record_total(client)
    before = await metrics(client)
    append_hook.hold()
    gate = asyncio.create_task(client.post(RECORDS, json=record_body("gate")))
    await append_hook.wait_held()
    # Queued behind the held batch, these five are the next batch, together.
    doomed = [
        asyncio.create_task(client.post(RECORDS, json=record_body(f"doomed {n}"))) for n in range(4)
    ]
    doomed.append(
        asyncio.create_task(
            client.post(BATCH, json=[record_body("doomed batch 0"), record_body("doomed batch 1")])
        )
    )
    await until(lambda: group_commit.queued == 5)
    append_hook.failures = 1
    append_hook.release()

    assert (await gate).status_code == 201
    for response in await asyncio.gather(*doomed):
        assert_unavailable(response, COMMIT_FAILED)
    assert append_hook.sizes[-1] == 6
    assert await record_total(client) == stored + 1
    after = await post_record(client, summary="after")
    after_failure = await metrics(client)
    failed = after_failure["audittrail_failed_batches_total"]
    assert failed == before["audittrail_failed_batches_total"] + 1
    refused = 'audittrail_unavailable_responses_total{code="COMMIT_FAILED"}'
    assert after_failure[refused] == before.get(refused, 0) + 5  # every request of the batch
    assert group_commit.stats.failed_batches == 1

    summaries = await stored_summaries(client)
    assert not [summary for summary in summaries if summary.startswith("doomed")]
    assert summaries[-3:] == ["before", "gate", "after"]
    entries = await intact_log(client)
    assert entries[-1]["id"] == after["id"]


async def test_failure_after_the_rows_are_written_rolls_back_everything(
    client: httpx.AsyncClient,
    append_hook: AppendHook,
    group_commit: GroupCommitWriter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tree is extended (and its frontier cached) too before the failure: none of it stays."""
    insert_rows = bulk.insert_rows
    inserted: list[int] = []

    async def insert_then_fail(
        session: AsyncSession, table: Table, names: tuple[str, ...], rows: Any, **options: Any
    ) -> None:
        await insert_rows(session, table, names, rows, **options)
        if table.name != "records" or len(rows) == 1:  # the gate's batch
            return
        first_seq = rows[0][names.index("seq")]
        count = select(func.count()).select_from(Record).where(Record.seq >= first_seq)
        inserted.append((await session.execute(count)).scalar_one())
        raise commit_failure()

    await post_record(client, summary="before")
    stored = await record_total(client)
    append_hook.hold()
    gate = asyncio.create_task(client.post(RECORDS, json=record_body("gate")))
    await append_hook.wait_held()
    monkeypatch.setattr(bulk, "insert_rows", insert_then_fail)
    doomed = [
        asyncio.create_task(client.post(RECORDS, json=record_body(f"doomed {n}"))) for n in range(3)
    ]
    await until(lambda: group_commit.queued == 3)
    append_hook.release()

    assert (await gate).status_code == 201
    for response in await asyncio.gather(*doomed):
        assert_unavailable(response, COMMIT_FAILED)
    assert inserted == [3]  # the rows were in the transaction when it failed
    monkeypatch.setattr(bulk, "insert_rows", insert_rows)
    assert await record_total(client) == stored + 1
    after = await post_record(client, summary="after")
    summaries = await stored_summaries(client)
    assert summaries[-3:] == ["before", "gate", "after"]
    entries = await intact_log(client)
    assert entries[-1]["id"] == after["id"]


@pytest.mark.parametrize(
    "setting_overrides", [{"write_queue_max": 1, "write_queue_timeout": 0.3}], ids=["tight"]
)
async def test_full_queue_answers_503_overloaded_in_time(
    client: httpx.AsyncClient, append_hook: AppendHook, group_commit: GroupCommitWriter
) -> None:
    stored = await record_total(client)
    append_hook.hold()
    held = asyncio.create_task(client.post(RECORDS, json=record_body("held")))
    await append_hook.wait_held()
    queued = asyncio.create_task(client.post(RECORDS, json=record_body("queued")))
    await until(lambda: group_commit.queued == 1)
    assert (await metrics(client))["audittrail_write_queue_requests"] == 1

    started = asyncio.get_running_loop().time()
    refused = await asyncio.wait_for(
        asyncio.gather(
            client.post(RECORDS, json=record_body("refused")),
            client.post(BATCH, json=[record_body("refused batch")]),
        ),
        timeout=30,
    )
    waited = asyncio.get_running_loop().time() - started
    for response in refused:
        assert_unavailable(response, OVERLOADED)
    assert 0.3 <= waited < 10.0  # not held until the commit: a bound a stalled machine keeps
    assert not held.done() and not queued.done()

    append_hook.release()
    assert (await held).status_code == 201
    assert (await queued).status_code == 201
    assert await record_total(client) == stored + 2
    summaries = await stored_summaries(client)
    assert summaries[-2:] == ["held", "queued"]
    assert "refused" not in summaries and "refused batch" not in summaries
    await intact_log(client)

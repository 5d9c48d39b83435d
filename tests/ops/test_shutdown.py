"""A stop signal: the server stops taking connections, answers every request it took (201 for
what it committed, 503 for what it refused) within a bounded time, and stores nothing it did not
acknowledge."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.config import Settings
from audittrail.log import append as log_append
from audittrail.log.append import AppendedRecord, NewRecord
from audittrail.log.head import Head
from audittrail.records.writer import GroupCommitWriter
from tests.conftest import ADMIN_EMAIL
from tests.crash.support import (
    EVENT_TYPE,
    WORKERS,
    Ingest,
    Server,
    check_log,
    create_application,
    verify_database,
)
from tests.helpers import RECORDS
from tests.log.support import running

SHUTDOWN_TIMEOUT = 1.0
SHUTTING_DOWN = {
    "error": {
        "code": "SHUTTING_DOWN",
        "message": "The service is shutting down. Nothing was stored; retry shortly.",
    }
}


@asynccontextmanager
async def log_locked(database_url: str) -> AsyncIterator[None]:
    """The log's write lock held from outside the server: its group commits wait, and requests
    queue behind the one in flight, until the block ends."""
    if database_url.startswith("sqlite"):
        holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    connection = await asyncpg.connect(database_url)
    try:
        async with connection.transaction():
            await connection.execute("SELECT size FROM log_head FOR UPDATE")
            yield  # the transaction's end releases the row, having changed nothing
    finally:
        await connection.close()


async def test_sigterm_during_an_ingest_answers_every_request(
    database_url: str, tmp_path: Path
) -> None:
    """Commits stall behind a lock when the signal comes, and stay stalled past the deadline:
    the requests queued then are refused, the commit in flight is answered once it can finish,
    and the process exits within its bound."""
    server = Server(database_url, tmp_path, {"AUDITTRAIL_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT)})
    server.start()
    ingest = Ingest()
    try:
        async with server.client() as client:
            await create_application(client)
            async with ingest.running(client):
                await asyncio.sleep(1.0)
                assert server.process is not None
                async with log_locked(database_url):
                    await asyncio.sleep(0.5)  # the writer waits on the lock; requests queue
                    server.process.send_signal(signal.SIGTERM)
                    signalled = time.monotonic()
                    await asyncio.sleep(SHUTDOWN_TIMEOUT + 0.5)  # past the deadline
                exit_code = await asyncio.to_thread(server.process.wait, 60)
                took = time.monotonic() - signalled
                server.process = None
    finally:
        server.stop()
    assert exit_code in (0, -signal.SIGTERM), server.log()
    assert took < 3 * SHUTDOWN_TIMEOUT + 5, took
    assert "Application shutdown complete" in server.log()
    assert len(ingest.acknowledged) >= WORKERS, "the load never got going"
    # Refusals: the shutdown's own, each saying nothing was stored; at least the queued ones.
    assert ingest.refusals, "nothing was queued at the deadline"
    assert {r.status_code for r in ingest.refusals} == {503}
    assert all(r.json() == SHUTTING_DOWN for r in ingest.refusals), ingest.refusals[0].text
    assert all(r.headers["retry-after"] == "1" for r in ingest.refusals)
    # No request the server took went unanswered: only connections it no longer accepted, or
    # closed idle, failed.
    assert all(e.startswith(("ConnectError", "RemoteProtocolError")) for e in ingest.unanswered), (
        ingest.unanswered
    )

    server.start()
    try:
        async with server.client() as client:
            entries = await check_log(client, ingest)
            stored = {e["summary"] for e in entries if e["event_type"] == EVENT_TYPE}
            assert stored == set(ingest.acknowledged), "a record stored that was not acknowledged"
            output = await verify_database(database_url, client, tmp_path)
    finally:
        server.stop()
    assert output.startswith(f"OK: {len(entries)} records, "), output


async def queued_behind(writer: GroupCommitWriter, count: int) -> None:
    """Until ``count`` requests wait behind the commit in flight."""
    async with asyncio.timeout(5):
        while writer.queued < count:  # noqa: ASYNC110 (the writer's queue has no event to wait on)
            await asyncio.sleep(0.01)


async def test_records_still_queued_at_the_deadline_are_refused_and_not_stored(
    settings: Settings,
) -> None:
    """The commit in flight finishes and is answered 201; what queued behind it and was not
    committed by the deadline gets 503; what comes after the close gets 503 at once."""
    in_commit = asyncio.Event()
    release = asyncio.Event()

    async def slow_append(
        session: AsyncSession, new_records: Sequence[NewRecord], *, locked: Head
    ) -> list[AppendedRecord]:
        if any(record.summary.startswith("slow") for record in new_records):
            in_commit.set()
            await release.wait()
        return await log_append.append(session, new_records, locked=locked)

    async with running(settings) as (app, client):
        app.state.writer.append = slow_append

        async def post(summary: str) -> httpx.Response:
            body: dict[str, Any] = {"event_type": "t.shutdown", "summary": summary}
            return await client.post(RECORDS, json=body)

        in_flight = asyncio.create_task(post("slow 0"))
        await in_commit.wait()
        queued = [asyncio.create_task(post(f"queued {n}")) for n in range(5)]
        await queued_behind(app.state.writer, len(queued))
        app.state.writer.close(0.2)
        after = await post("after the close")
        await asyncio.sleep(0.4)  # past the deadline, the commit in flight still held
        release.set()
        answers = [await in_flight] + [await task for task in queued]
        listed = await client.get(RECORDS, params={"event_types": "t.shutdown"})

    assert (after.status_code, after.json()) == (503, SHUTTING_DOWN)
    assert after.headers["retry-after"] == "1"
    assert answers[0].status_code == 201, answers[0].text
    assert [(a.status_code, a.json()) for a in answers[1:]] == [(503, SHUTTING_DOWN)] * 5
    assert [record["summary"] for record in listed.json()["records"]] == ["slow 0"]


async def test_while_closing_the_service_still_records_what_it_must(settings: Settings) -> None:
    """A closed intake refuses clients' records, not the service's own: a failed login made
    during the shutdown is answered 401 as ever, and recorded."""
    async with running(settings) as (app, client):
        app.state.writer.close(60)
        refused = await client.post(RECORDS, json={"event_type": "t.shutdown", "summary": "late"})
        assert (refused.status_code, refused.json()) == (503, SHUTTING_DOWN)
        login = {"email": ADMIN_EMAIL, "password": "not the password"}
        failed = await client.post("/api/auth/login", json=login, headers={"Authorization": ""})
        assert failed.status_code == 401, failed.text
        recorded = await client.get(RECORDS, params={"event_types": "auth.login_failed"})
        late = await client.get(RECORDS, params={"event_types": "t.shutdown"})
    assert [r["summary"] for r in recorded.json()["records"]] == [f"Failed login for {ADMIN_EMAIL}"]
    assert late.json()["records"] == []

"""SIGKILL in the middle of a concurrent ingest: what was acknowledged survives, once, and is
counted once by the rollups."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

from tests.crash.support import (
    WORKERS,
    Ingest,
    Server,
    caught_up_checkpoint,
    check_log,
    check_rollups,
    check_search,
    create_application,
    record_body,
    verify_database,
)

LOAD_SECONDS = 1.5


async def test_a_killed_server_keeps_every_acknowledged_record(
    server: Server, database_url: str, tmp_path: Path
) -> None:
    ingest = Ingest()
    async with server.client() as client:
        await create_application(client)
        async with ingest.running(client):
            await asyncio.sleep(LOAD_SECONDS)
            server.kill()

    assert ingest.refusals == [], [r.text for r in ingest.refusals]
    assert len(ingest.acknowledged) >= WORKERS, "the load never got going"
    assert ingest.unanswered, "the kill hit no request in flight"

    server.start()
    async with server.client() as client:
        assert await ingest.post(client, [record_body("after the restart")]) == 201
        entries = await check_log(client, ingest)
        assert entries[-1]["summary"] == "after the restart"
        await check_search(client, entries)
        await check_rollups(client, database_url, entries)
        await caught_up_checkpoint(client, len(entries))
        output = await verify_database(database_url, client, tmp_path)
    assert output.startswith(f"OK: {len(entries)} records, "), output
    assert output.endswith(f"(latest covers {len(entries)}) verified\n"), output
    if database_url.startswith("sqlite"):
        # FTS5's own check of its index against its content, the records (rank 1: also the
        # content), raises if they disagree.
        with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as sqlite:
            sqlite.execute(
                "INSERT INTO records_search (records_search, rank) VALUES ('integrity-check', 1)"
            )

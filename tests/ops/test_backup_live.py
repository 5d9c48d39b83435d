"""A backup taken while a real server ingests on 32 connections: restored, it is a log that
verifies, the log as it was at one moment during the backup, holding every record acknowledged
before the backup began."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.crash.support import (
    AUDITTRAIL,
    Ingest,
    Server,
    caught_up_checkpoint,
    check_log,
    create_application,
    log_entries,
    verify_database,
)

LOAD_SECONDS = 0.7


async def audittrail(server: Server, *arguments: str) -> tuple[int, str]:
    """The command, in its own process, with the server's settings; its status and output."""
    process = await asyncio.create_subprocess_exec(
        str(AUDITTRAIL),
        *arguments,
        env=server.environment(),
        cwd=server.directory,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_a_backup_taken_during_ingest_restores_to_a_log_that_verifies(
    database_url: str, tmp_path: Path
) -> None:
    backup = tmp_path / "during-ingest.backup"
    server = Server(database_url, tmp_path)
    server.start()
    try:
        ingest = Ingest()
        async with server.client() as client:
            await create_application(client)
            async with ingest.running(client):
                await asyncio.sleep(LOAD_SECONDS)
                acknowledged_before = dict(ingest.acknowledged)
                status, output = await audittrail(server, "backup", str(backup))
                assert status == 0, output
                await asyncio.sleep(LOAD_SECONDS)
            assert ingest.refusals == [], [r.text for r in ingest.refusals]
            whole = await check_log(client, ingest)
        server.stop()

        found = re.fullmatch(
            r"backed up the log of ([\d,]+) records \(schema \w+\) to .*\n", output
        )
        assert found, output
        size = int(found[1].replace(",", ""))
        assert acknowledged_before, "the load never got going"
        assert size < len(whole), "the ingest did not go on past the backup"

        status, output = await audittrail(server, "restore", "--force", str(backup))
        assert status == 0, output
        server.start()
        async with server.client() as client:
            entries = await log_entries(client)
            assert entries == whole[:size]
            stored = {entry["summary"]: entry["id"] for entry in entries}
            assert {s: stored.get(s) for s in acknowledged_before} == acknowledged_before
            await caught_up_checkpoint(client, size)
            verified = await verify_database(database_url, client, tmp_path)
        assert verified.startswith(f"OK: {size} records, "), verified
    finally:
        server.stop()

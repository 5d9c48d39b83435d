"""PostgreSQL goes away under load and comes back: 201 or 503, never 500, never a hang."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL
from tests.crash.support import (
    UNAVAILABLE,
    Ingest,
    Server,
    check_log,
    create_application,
    record_body,
    verify_database,
)

WARM_UP_SECONDS = 0.5
TERMINATE_SECONDS = 1.0  # connections killed as soon as they appear
CLOSED_SECONDS = 1.0  # and new ones refused, too
RECOVERY_SECONDS = 20.0

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def server_settings() -> dict[str, str]:
    """One checkpoint, at start: the outage meets the requests only."""
    return {"AUDITTRAIL_CHECKPOINT_INTERVAL": "3600"}


@asynccontextmanager
async def superuser() -> AsyncIterator[asyncpg.Connection]:
    """A connection to the maintenance database, out of reach of what it terminates."""
    dsn = make_url(POSTGRES_URL).set(drivername="postgresql")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False), timeout=5)
    try:
        yield connection
    finally:
        await connection.close()


async def terminate_backends(connection: asyncpg.Connection, database: str, seconds: float) -> int:
    """Kill every connection to the database, again and again; how many were killed."""
    killed = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        killed += await connection.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        await asyncio.sleep(0.02)
    return killed


async def outage(database: str) -> int:
    """The database unreachable for a while: connections killed, then refused as well."""
    async with superuser() as connection:
        killed = await terminate_backends(connection, database, TERMINATE_SECONDS)
        await connection.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        try:
            killed += await terminate_backends(connection, database, CLOSED_SECONDS)
        finally:
            await connection.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    return killed


async def wait_for_recovery(client: httpx.AsyncClient, ingest: Ingest) -> None:
    """Post a new record, as a client would retry, until one is acknowledged again."""
    deadline = time.monotonic() + RECOVERY_SECONDS
    attempt = 0
    while await ingest.post(client, [record_body(f"probe-{attempt:04d}")]) != 201:
        assert time.monotonic() < deadline, "no recovery without a restart"
        attempt += 1
        await asyncio.sleep(0.1)


async def test_an_outage_is_503_then_the_service_recovers_by_itself(
    server: Server, database_url: str, tmp_path: Path
) -> None:
    database = make_url(database_url).database
    assert database is not None
    ingest = Ingest()
    async with server.client() as client:
        await create_application(client)
        async with ingest.running(client):
            await asyncio.sleep(WARM_UP_SECONDS)
            killed = await outage(database)
            await wait_for_recovery(client, ingest)

    assert killed > 0
    assert ingest.unanswered == [], ingest.unanswered[:5]
    assert set(ingest.statuses) <= {201, 503}, [
        r.text for r in ingest.refusals if r.status_code != 503
    ]
    assert ingest.statuses[503] > 0, "the outage refused nothing"
    for refusal in ingest.refusals:
        assert refusal.headers["retry-after"] == "1"
        code = refusal.json()["error"]["code"]
        assert refusal.json() == {"error": {"code": code, "message": UNAVAILABLE[code]}}

    async with server.client() as client:
        entries = await check_log(client, ingest)
        output = await verify_database(database_url, client, tmp_path)
    assert output.startswith(f"OK: {len(entries)} records, "), output

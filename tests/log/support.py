"""Helpers of the log tests: run the app, read the log over HTTP, tamper with it, verify it."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from typer.testing import CliRunner, Result

from audittrail import cli
from audittrail.app import create_app
from audittrail.config import Settings
from audittrail.db.engine import Database
from audittrail.log import checkpointer
from tests.conftest import ADMIN_KEY, make_client
from tests.helpers import post_record

LOG = "/api/audit-trail/log"
RECORDS = "/api/audit-trail/records"
# The first start writes two system records: the bootstrap admin and its API key.
BOOTSTRAP_RECORDS = 2
CATCH_UP_SECONDS = 30.0  # a wait, not a bound: it ends as soon as the checkpoint is there
# The tree's hashes are kept in records (integrity/store.py).
APPEND_ONLY_TABLES = ("records", "checkpoints")


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app from start to stop (its lifespan), with a client holding the admin's API key."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        make_client(app, {"Authorization": f"Bearer {ADMIN_KEY}"}) as client,
    ):
        yield app, client


def hourly_checkpoints(settings: Settings) -> Settings:
    """Checkpoints at start and then only where a test signs one: a set known exactly."""
    return settings.model_copy(update={"checkpoint_interval": 3600.0})


async def post_records(client: httpx.AsyncClient, count: int) -> list[str]:
    """Post records one after the other; their ids, in commit order."""
    return [
        (await post_record(client, summary=f"record {number}", metadata={"n": number}))["id"]
        for number in range(count)
    ]


async def checkpoint_now(app: FastAPI) -> None:
    """Sign the head now, as the checkpointer's next round would."""
    await checkpointer.checkpoint_head(app.state.database, app.state.signer)


async def head_size(client: httpx.AsyncClient) -> int:
    response = await client.get(f"{LOG}/head")
    assert response.status_code == 200, response.text
    size: int = response.json()["tree_size"]
    return size


def note_size(note: str) -> int:
    return int(note.split("\n")[1])


async def caught_up_checkpoint(client: httpx.AsyncClient) -> str:
    """The latest checkpoint, once the checkpointer has signed the log's head."""
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while True:
        size = await head_size(client)
        response = await client.get(f"{LOG}/checkpoint")
        if response.status_code == 200 and note_size(response.text) == size:
            return response.text
        assert time.monotonic() < deadline, f"no checkpoint covered {size} records in time"
        await asyncio.sleep(0.02)


async def all_checkpoints(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Every checkpoint the log kept, largest first (one page of up to 200)."""
    response = await client.get(f"{LOG}/checkpoints", params={"page_size": 200})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] <= 200
    checkpoints: list[dict[str, Any]] = body["checkpoints"]
    return checkpoints


async def entry_lines(client: httpx.AsyncClient, **params: int) -> list[bytes]:
    """The NDJSON lines of /log/entries, without their newlines."""
    response = await client.get(f"{LOG}/entries", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    if not response.content:
        return []
    assert response.content.endswith(b"\n")
    return response.content[:-1].split(b"\n")


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


async def verify(*arguments: str, env: Mapping[str, str] | None = None) -> Result:
    """`audittrail verify ...` in a thread: the command runs its own event loop."""

    def invoke() -> Result:
        return CliRunner().invoke(cli.app, ["verify", *arguments], env=env)

    return await asyncio.to_thread(invoke)


async def tamper(database_url: str, *statements: tuple[str, Mapping[str, Any]]) -> None:
    """Run statements in one transaction past the append-only triggers, as an attacker with
    database access could: replica mode on PostgreSQL, the triggers dropped on SQLite."""
    database = Database.connect(database_url)
    try:
        async with database.writer.begin() as connection:
            if database.dialect == "postgresql":
                await connection.execute(text("SET LOCAL session_replication_role = replica"))
            else:
                for table in APPEND_ONLY_TABLES:
                    for operation in ("update", "delete"):
                        await connection.execute(
                            text(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")
                        )
            for statement, parameters in statements:
                await connection.execute(text(statement), dict(parameters))
    finally:
        await database.dispose()

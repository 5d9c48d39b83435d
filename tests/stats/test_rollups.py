"""The rollups: kept by the append in the records' own transaction, equal to a recount whatever
wrote the records, checked by `audittrail verify --rollups`, recomputed by `audittrail rollups
rebuild`, and filled by migration 0008 from the records already there."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import text
from typer.testing import CliRunner, Result

from audittrail import cli
from audittrail.db import migrate
from audittrail.db.engine import Database
from audittrail.log import rollups
from tests.helpers import APPLICATIONS, RECORDS, create_application, post_record

STATS = "/api/audit-trail/stats"


def invoke(*arguments: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli.app, list(arguments), env=env)


async def run(*arguments: str, env: dict[str, str] | None = None) -> Result:
    """The command in a thread: it runs its own event loop."""
    return await asyncio.to_thread(invoke, *arguments, env=env)


async def ingest_a_mix(client: httpx.AsyncClient) -> None:
    """Records of every kind of writer: single POSTs with and without an application and an
    entity type ("" is one, distinct from none), a batch, another actor, and the system records
    that registering an application and its params leave."""
    await create_application(client, "billing")
    response = await client.post(
        f"{APPLICATIONS}/billing/params",
        json={"key": "amount", "label": "Amount", "type": "number"},
    )
    assert response.status_code == 201, response.text
    await post_record(client, application_key="billing", entity_type="invoice")
    await post_record(client, entity_type="")
    await post_record(client, severity="critical", category="security")
    batch = [{"event_type": f"batch.{i % 3}", "summary": "in a batch"} for i in range(25)]
    response = await client.post(f"{RECORDS}/batch", json=batch)
    assert response.status_code == 201, response.text
    response = await client.post(
        "/api/api-keys", json={"name": "second", "scopes": ["records:write"]}
    )
    assert response.status_code == 201, response.text
    second = {"Authorization": f"Bearer {response.json()['key']}"}
    response = await client.post(
        RECORDS, json={"event_type": "by.another", "summary": "x"}, headers=second
    )
    assert response.status_code == 201, response.text


async def test_the_rollups_equal_a_recount_after_every_kind_of_write(
    client: httpx.AsyncClient, database_url: str
) -> None:
    await ingest_a_mix(client)
    assert await rollups.check(database_url) == []
    stats = (await client.get(STATS)).json()
    total = (await client.get(RECORDS, params={"page_size": 1})).json()["total"]
    assert (stats["total"], stats["from_rollups"]) == (total, True)
    entity_types = {item["value"]: item["count"] for item in stats["top"]["entity_types"]["items"]}
    assert (entity_types["invoice"], entity_types[""]) == (1, 1)
    actors = {item["value"] for item in stats["top"]["actors"]["items"]}
    assert {"api_key:bootstrap", "api_key:second", "system"} <= actors


async def tamper(database_url: str, sql: str) -> None:
    database = Database.connect(database_url)
    try:
        async with database.writer.begin() as connection:
            await connection.execute(text(sql))
    finally:
        await database.dispose()


async def test_verify_reports_rollups_that_disagree_and_rebuild_mends_them(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    await ingest_a_mix(client)
    key = tmp_path / "verifier.key"
    key.write_text((await client.get("/api/audit-trail/log/key")).text)
    env = {"AUDITTRAIL_DATABASE_URL": database_url}
    verify = ("verify", "--database", database_url, "--key", str(key), "--rollups")

    result = await run(*verify)
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("OK: the rollups agree with a recount of the records\n")

    hours = await _row_count(database_url, "rollup_hours")
    actor_days = await _row_count(database_url, "rollup_actor_days")
    await tamper(database_url, "UPDATE rollup_hours SET count = count + 1")
    await tamper(database_url, "DELETE FROM rollup_actor_days")
    result = await run(*verify)
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        f"ROLLUPS DISAGREE: rollup_hours: {hours} rows of a recount missing or different, "
        f"{hours} rows no recount gives (audittrail rollups rebuild recomputes them)",
        f"ROLLUPS DISAGREE: rollup_actor_days: {actor_days} rows of a recount missing or "
        "different, "
        "0 rows no recount gives (audittrail rollups rebuild recomputes them)",
    ]
    assert "OK: the rollups agree" not in result.stdout

    size = (await client.get(RECORDS, params={"page_size": 1})).json()["total"]
    result = await run("rollups", "rebuild", env=env)
    assert (result.exit_code, result.stdout) == (0, f"rollups rebuilt from {size:,} records\n")
    assert await rollups.check(database_url) == []
    result = await run(*verify)
    assert result.exit_code == 0, result.output


async def _row_count(database_url: str, table: str) -> int:
    database = Database.connect(database_url)
    try:
        async with database.read_session() as session:
            count: int = (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            return count
    finally:
        await database.dispose()


def test_rollups_is_refused_where_there_is_no_database_to_recount(tmp_path: Path) -> None:
    result = invoke("verify", "--url", "http://127.0.0.1:9", "--rollups")
    assert result.exit_code == 2
    assert "--rollups checks a database: not with --url or --entries" in result.output


async def test_migration_0008_counts_the_records_already_in_the_log(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """A log written before the rollups existed: the migration fills them from its records."""
    await ingest_a_mix(client)
    await asyncio.to_thread(command.downgrade, migrate.alembic_config(database_url), "0007")
    assert not await _has_table(database_url, "rollup_hours")
    await asyncio.to_thread(migrate.upgrade, database_url)
    assert await _row_count(database_url, "rollup_hours") > 0
    assert await rollups.check(database_url) == []


async def _has_table(database_url: str, table: str) -> bool:
    database = Database.connect(database_url)
    try:
        async with database.read_session() as session:
            connection = await session.connection()
            names = await connection.run_sync(
                lambda sync: sync.dialect.get_table_names(sync)  # type: ignore[no-any-return]
            )
            return table in names
    finally:
        await database.dispose()


@pytest.fixture(autouse=True)
def log_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The log's signing key, which `audittrail seed` creates and verify reads: the test's."""
    path = tmp_path / "seed-log.key"
    monkeypatch.setenv("AUDITTRAIL_LOG_KEY_FILE", str(path))
    return path


def test_a_history_written_across_many_days_is_counted_exactly(database_url: str) -> None:
    """`audittrail seed` appends chunks of thousands of records, each across several days: the
    running totals of actors are taken day by day within each chunk."""
    result = invoke(
        "seed", "--records", "3000", "--seed", "7", env={"AUDITTRAIL_DATABASE_URL": database_url}
    )
    assert result.exit_code == 0, result.output
    assert asyncio.run(rollups.check(database_url)) == []
    result = invoke("verify", "--database", database_url, "--rollups")
    assert result.exit_code == 0, result.output

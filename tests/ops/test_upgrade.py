"""Upgrading: a database that release 0.1.0 wrote (tests/compat/release-0.1.0.*, made by that
release itself: tests/compat/write_release_database.py), with its records, applications, params
and signed checkpoints, is migrated by this release's server as it starts; every record reads as
0.1.0 answered it, search and statistics count the old records, new records join the same log,
and the whole log verifies against the checkpoints 0.1.0 signed."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.conftest import new_postgres_database, skip_without_postgres
from tests.crash.support import (
    LOG,
    Server,
    caught_up_checkpoint,
    log_entries,
    verify_with_key,
)
from tests.helpers import RECORDS

COMPAT = Path(__file__).parents[1] / "compat"
RELEASE = "0.1.0"
ANSWERS = json.loads((COMPAT / f"release-{RELEASE}-answers.json").read_text())


async def _load(url: str, script: str) -> None:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(script)
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def released(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(database kind, URL) of a database as release 0.1.0 left it."""
    if request.param == "sqlite":
        copy = tmp_path / "released.db"
        shutil.copy(COMPAT / f"release-{RELEASE}.sqlite", copy)
        yield "sqlite", f"sqlite:///{copy}"
        return
    with new_postgres_database() as url:
        if url is None:
            skip_without_postgres()
        asyncio.run(_load(url, (COMPAT / f"release-{RELEASE}.sql").read_text()))
        yield "postgresql", url


async def test_a_database_of_release_0_1_0_is_migrated_and_its_log_verifies(
    released: tuple[str, str], tmp_path: Path
) -> None:
    kind, database_url = released
    answered: dict[str, Any] = ANSWERS[kind]
    shutil.copy(COMPAT / f"release-{RELEASE}-log.key", tmp_path / "log.key")
    server = Server(database_url, tmp_path)  # migrates as it starts (AUTO_MIGRATE)
    server.start()
    try:
        async with server.client() as client:
            for old in answered["records"]:
                response = await client.get(f"{RECORDS}/{old['id']}")
                assert response.status_code == 200, response.text
                now = response.json()
                assert {key: now[key] for key in old if key != "application"} == {
                    key: value for key, value in old.items() if key != "application"
                }
                if old["application"] is not None:
                    assert now["application"]["key"] == old["application"]["key"]
            found = await client.get(RECORDS, params={"search": "INV-1003"})
            assert [r["entity_id"] for r in found.json()["records"]] == ["INV-1003"]
            stats = (await client.get("/api/audit-trail/stats")).json()
            old_size = int(answered["checkpoint"].split("\n")[1])
            assert stats["total"] == old_size

            new = {"event_type": "invoice.paid", "summary": "after the upgrade"}
            new |= {"application_key": "billing", "params": {"amount": 1.5}}
            response = await client.post(RECORDS, json=new)
            assert response.status_code == 201, response.text
            entries = await log_entries(client)
            assert [entry["seq"] for entry in entries] == list(range(old_size + 1))
            await caught_up_checkpoint(client, old_size + 1)
            checkpoints = await client.get(f"{LOG}/checkpoints", params={"page_size": 200})
            notes = [checkpoint["note"] for checkpoint in checkpoints.json()["checkpoints"]]
            assert answered["checkpoint"] in notes
    finally:
        server.stop()

    output = await verify_with_key(database_url, answered["verifier_key"], tmp_path)
    assert output.startswith(f"OK: {old_size + 1} records, "), output

"""Migration 0005 moves the stored Merkle tree from tree_nodes into records.tree_hashes.

A log written by the service survives the move back (downgrade to 0004: every node in
tree_nodes again) and forth (upgrade: every record's hashes as they were), and verifies after.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from audittrail.config import Settings
from audittrail.db import migrate
from audittrail.db.engine import Database
from audittrail.integrity.hashing import HASH_SIZE
from audittrail.integrity.tree import Frontier
from tests.conftest import new_postgres_database, skip_without_postgres
from tests.log.support import LOG, checkpoint_now, post_records, running, verify

POSTED = 40


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own, migrated to head: the shared ones must stay at head."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audittrail.db'}"
        migrate.upgrade(url)
        yield url
        return
    with new_postgres_database() as created:
        if created is None:
            skip_without_postgres()
        assert created is not None
        migrate.upgrade(created)
        yield created


async def query(url: str, sql: str) -> list[tuple[object, ...]]:
    database = Database.connect(url)
    try:
        async with database.reader.connect() as connection:
            return [tuple(row) for row in await connection.execute(text(sql))]
    finally:
        await database.dispose()


async def test_a_log_survives_the_move_of_its_tree_both_ways(
    settings: Settings, tmp_path: Path
) -> None:
    url = settings.database_url
    async with running(settings) as (app, client):
        await post_records(client, POSTED)
        await checkpoint_now(app)
        key_file = tmp_path / "verifier.key"
        key_file.write_text((await client.get(f"{LOG}/key")).text)
    stored = dict(await query(url, "SELECT seq, tree_hashes FROM records ORDER BY seq"))
    size = len(stored)
    assert list(stored) == list(range(size))

    await asyncio.to_thread(command.downgrade, migrate.alembic_config(url), "0004")
    nodes = await query(url, "SELECT level, node_index, hash FROM tree_nodes")
    leaves = [bytes(stored[seq][:HASH_SIZE]) for seq in range(size)]
    assert sorted(nodes) == sorted(Frontier().append(leaves))

    await asyncio.to_thread(migrate.upgrade, url)
    assert dict(await query(url, "SELECT seq, tree_hashes FROM records ORDER BY seq")) == stored
    assert stored == dict(enumerate(Frontier().append_completed(leaves)))
    assert not await query(url, "SELECT 1 FROM records WHERE tree_hashes IS NULL")
    result = await verify("--database", url, "--key", str(key_file))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"OK: {size} records")

"""`audittrail import FILE`: in process, as the system, on both databases; and a kill half-way.

The command line acts as the system (whoever runs it holds the database), checks every line
before storing any, says what it did, and exits 1 naming the bad lines. Killed while storing,
then run again, it stores the rest and nothing twice. A dry run writes nothing, not even a
migration.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner, Result

from audittrail import cli
from audittrail.app import create_app
from audittrail.config import Settings
from audittrail.db import migrate as migrations
from audittrail.db.engine import Database
from audittrail.db.models import Record
from audittrail.records import imports
from tests.conftest import ADMIN_KEY, make_client, new_postgres_database
from tests.helpers import create_application
from tests.imports.support import (
    csv_file,
    exported,
    imported,
    ndjson_file,
    post_import,
    stored,
)

AUDITTRAIL = Path(sys.executable).with_name("audittrail")
ALICE = "alice@example.com"
REPLAYED = "{} replayed (imported before)"


def run_import(database_url: str, path: Path, *options: str) -> Result:
    return CliRunner().invoke(
        cli.app,
        ["import", str(path), *options],
        env={"AUDITTRAIL_DATABASE_URL": database_url},
    )


def register_billing(settings: Settings) -> None:
    """billing and its params, made through the API as an admin would."""

    async def register() -> None:
        app = create_app(settings)
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with app.router.lifespan_context(app), make_client(app, admin) as client:
            await create_application(
                client, "billing", params=[{"key": "amount", "type": "number"}]
            )

    asyncio.run(register())


def records_of(database_url: str) -> list[Any]:
    return asyncio.run(imported(database_url))


def test_the_command_line_imports_as_the_system(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    register_billing(settings)
    records = [
        exported(1, application_key="billing", params={"amount": 3}),
        exported(2, actor="bob@example.com"),
        exported(3),
    ]
    path = tmp_path / "records.csv"
    path.write_bytes(csv_file(records, bom=True))

    result = run_import(database_url, path)
    assert result.exit_code == 0, result.output
    assert (
        result.stdout == "imported 3 records: 3 stored, 0 replayed (imported before), 0 refused\n"
    )
    rows = records_of(database_url)
    # The system's records, from no address; the file's actors and addresses in metadata.
    assert {(row.actor, row.ip_address, row.source) for row in rows} == {("system", None, "import")}
    assert [row.metadata["original_actor"] for row in rows] == [
        "alice@example.com",
        "bob@example.com",
        "alice@example.com",
    ]
    assert {row.metadata["original_ip_address"] for row in rows} == {"198.51.100.4"}
    assert {row.metadata["imported_by"] for row in rows} == {"system"}
    assert rows[0].application_key == "billing" and rows[0].params == {"amount": 3}
    note = asyncio.run(stored(database_url))[-1]
    assert (note.event_type, note.actor) == ("records.imported", "system")

    again = run_import(database_url, path, "--database", database_url)
    assert again.exit_code == 0, again.output
    assert again.stdout == f"imported 3 records: 0 stored, {REPLAYED.format(3)}, 0 refused\n"
    assert len(records_of(database_url)) == 3


def test_the_api_replays_what_the_command_line_stored(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    """The claims are the file's, not the importer's."""
    path = tmp_path / "records.ndjson"
    path.write_bytes(ndjson_file([exported(number) for number in range(3)]))
    assert run_import(database_url, path).exit_code == 0

    async def through_the_api() -> httpx.Response:
        app = create_app(settings)
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with app.router.lifespan_context(app), make_client(app, admin) as client:
            return await post_import(client, path.read_bytes())

    response = asyncio.run(through_the_api())
    assert response.status_code == 200, response.text
    assert (response.json()["stored"], response.json()["replayed"]) == (0, 3)
    assert len(records_of(database_url)) == 3


def test_bad_lines_are_named_and_exit_1_with_nothing_stored(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "records.ndjson"
    path.write_bytes(
        ndjson_file([exported(1), {**exported(2), "severity": "grave"}, exported(3, summary="")])
    )
    result = run_import(database_url, path)

    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr == (
        "line 2.severity: Input should be 'critical', 'high', 'medium', 'low' or 'none' (ENUM)\n"
        "line 3.summary: String should have at least 1 character (STRING_TOO_SHORT)\n"
        "error: 2 of 3 lines do not fit; nothing was stored, so the file can be corrected and "
        "imported again.\n"
    )
    assert records_of(database_url) == []


def test_a_dry_run_stores_nothing(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "records.ndjson"
    path.write_bytes(ndjson_file([exported(number) for number in range(1500)]))
    before = len(asyncio.run(stored(database_url)))

    result = run_import(database_url, path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout == "checked 1,500 records: all fit; nothing stored (dry run)\n"
    assert len(asyncio.run(stored(database_url))) == before


@pytest.fixture
def unmigrated_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database of the same kind, migrated to the first revision only."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'old.db'}"
        migrations.upgrade(url, "0001")
        yield url
        return
    with new_postgres_database() as url:
        assert url is not None
        migrations.upgrade(url, "0001")
        yield url


async def revision(database_url: str) -> str | None:
    database = Database.connect(database_url, pool_size=1)
    try:
        async with database.read_session() as session:
            return (await session.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    finally:
        await database.dispose()


def test_a_dry_run_does_not_migrate(unmigrated_url: str, tmp_path: Path) -> None:
    """It writes nothing: on a database behind the schema (or none at all), exit 2 saying so,
    and the database as it was."""
    path = tmp_path / "records.ndjson"
    path.write_bytes(ndjson_file([exported(1)]))
    message = (
        "error: the database is not migrated to this version's schema, and a dry run writes "
        "nothing, not even a migration: migrate it (`audittrail migrate`, on "
        "AUDITTRAIL_DATABASE_URL) and check the file again, or import without --dry-run, "
        "which migrates first.\n"
    )

    result = run_import(unmigrated_url, path, "--dry-run")
    assert result.exit_code == 2, result.output
    assert (result.stdout, result.stderr) == ("", message)
    assert asyncio.run(revision(unmigrated_url)) == "0001"

    if unmigrated_url.startswith("sqlite"):
        nowhere = tmp_path / "nowhere.db"
        result = run_import(f"sqlite:///{nowhere}", path, "--dry-run")
        assert (result.exit_code, result.stderr) == (2, message)
        assert not nowhere.exists()

    # Without --dry-run, the import migrates first, as before.
    result = run_import(unmigrated_url, path)
    assert result.exit_code == 0, result.output
    assert len(records_of(unmigrated_url)) == 1


def test_a_failure_while_storing_says_to_import_the_same_file_again(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not an edited one: its claims would be another file's, and store the committed records
    again."""
    path = tmp_path / "records.ndjson"
    path.write_bytes(ndjson_file([exported(number) for number in range(1500)]))
    store = imports._store

    async def store_then_fail(*args: Any) -> tuple[int, int]:
        await store(*args)
        raise OSError("disk gone")

    monkeypatch.setattr(imports, "_store", store_then_fail)
    result = run_import(database_url, path)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "error: disk gone (1,500 records of the file were committed before it; import the same, "
        "unchanged file again to finish: its stored records are replayed, while an edited file "
        "is another file and would store them twice)\n"
    )
    monkeypatch.undo()

    again = run_import(database_url, path)
    assert again.exit_code == 0, again.output
    assert (
        again.stdout == f"imported 1,500 records: 0 stored, {REPLAYED.format('1,500')}, 0 refused\n"
    )


def test_a_missing_file_is_a_usage_error(database_url: str, tmp_path: Path) -> None:
    result = run_import(database_url, tmp_path / "nowhere.ndjson")
    assert result.exit_code == 2
    assert "does not exist" in result.output


async def count(database_url: str) -> int:
    database = Database.connect(database_url, pool_size=1)
    try:
        async with database.read_session() as session:
            return (await session.execute(select(func.count()).select_from(Record))).scalar_one()
    finally:
        await database.dispose()


RECORDS = 8_000


def test_killed_half_way_then_run_again_stores_nothing_twice(
    database_url: str, tmp_path: Path
) -> None:
    """SIGKILL once the first batch of 1,000 is committed: every batch is one transaction, so
    the run again finds whole batches stored and replays them."""
    path = tmp_path / "records.ndjson"
    path.write_bytes(ndjson_file([exported(number) for number in range(RECORDS)]))
    before = asyncio.run(count(database_url))
    log = tmp_path / "import.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(AUDITTRAIL), "import", str(path)],
            env={**os.environ, "AUDITTRAIL_DATABASE_URL": database_url},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while asyncio.run(count(database_url)) < before + 1000:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "no batch committed in a minute"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    done = asyncio.run(count(database_url)) - before
    assert 1000 <= done < RECORDS and done % 1000 == 0, done

    result = run_import(database_url, path)
    assert result.exit_code == 0, result.output
    replayed = REPLAYED.format(f"{done:,}")
    assert result.stdout == (
        f"imported {RECORDS:,} records: {RECORDS - done:,} stored, {replayed}, 0 refused\n"
    )
    originals = Counter(row.metadata["original_id"] for row in records_of(database_url))
    assert len(originals) == RECORDS
    assert set(originals.values()) == {1}

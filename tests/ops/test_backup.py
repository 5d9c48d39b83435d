"""`audittrail backup` and `audittrail restore`: a restored log is the backed-up one, consistent
with the checkpoints published before the backup; anything that is not a backup for this
database is refused, and a refused or failed restore changes nothing."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from typer.testing import CliRunner, Result

from audittrail import cli
from audittrail.config import Settings
from audittrail.db import backup_postgres, migrate
from audittrail.db.engine import Database
from audittrail.integrity.verify import verify_checkpoint, verify_consistency
from audittrail.log.signer import LogSigner
from tests.conftest import app_settings, new_postgres_database, skip_without_postgres
from tests.crash.support import AUDITTRAIL
from tests.log.support import (
    LOG,
    RECORDS,
    checkpoint_now,
    entry_lines,
    hourly_checkpoints,
    post_records,
    running,
    tamper,
    verify,
)

(HEAD,) = migrate.heads()
VERSION = "UPDATE alembic_version SET version_num = :version"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Checkpoints at start and where a test signs one."""
    return hourly_checkpoints(settings)


def environment(settings: Settings, database_url: str | None = None) -> dict[str, str]:
    return {
        "AUDITTRAIL_DATABASE_URL": database_url or settings.database_url,
        "AUDITTRAIL_LOG_KEY_FILE": str(settings.log_key_file),
        "AUDITTRAIL_LOG_ORIGIN": settings.log_origin,
    }


async def audittrail(
    settings: Settings, *arguments: str, database_url: str | None = None
) -> Result:
    """A command, in a thread: it runs its own event loop."""

    def invoke() -> Result:
        return CliRunner().invoke(cli.app, list(arguments), env=environment(settings, database_url))

    return await asyncio.to_thread(invoke)


async def stored(database_url: str) -> dict[str, Any]:
    """What a restore must leave alone if it is refused or fails."""
    database = Database.connect(database_url)
    try:
        async with database.read_session() as session:
            size, root = (await session.execute(text("SELECT size, root_hash FROM log_head"))).one()
            return {
                "log": (size, root),
                "records": await session.scalar(text("SELECT count(*) FROM records")),
                "checkpoints": await session.scalar(text("SELECT count(*) FROM checkpoints")),
                "users": await session.scalar(text("SELECT count(*) FROM users")),
                "revision": await session.scalar(text("SELECT version_num FROM alembic_version")),
            }
    finally:
        await database.dispose()


async def with_records(settings: Settings, count: int) -> int:
    """The database with ``count`` records more, checkpointed; the log's size."""
    async with running(settings) as (app, client):
        await post_records(client, count)
        await checkpoint_now(app)
        return len(await entry_lines(client))


async def backed_up(settings: Settings, path: Path, database_url: str | None = None) -> Path:
    result = await audittrail(settings, "backup", str(path), database_url=database_url)
    assert (result.exit_code, result.stderr) == (0, ""), result.output
    return path


def backed_up_by_cli(database_url: str, backup: Path) -> None:
    """`audittrail backup` of this database into ``backup``, which must succeed."""
    result = CliRunner().invoke(
        cli.app, ["backup", str(backup)], env={"AUDITTRAIL_DATABASE_URL": database_url}
    )
    assert result.exit_code == 0, result.output


def backups_in(directory: Path) -> list[str]:
    """The names of the backups, whole or partial, in the directory."""
    return sorted(path.name for path in directory.iterdir() if "backup" in path.name)


def kind(database_url: str) -> str:
    return "SQLite" if database_url.startswith("sqlite") else "PostgreSQL"


async def test_a_restore_returns_the_log_to_its_backup(settings: Settings, tmp_path: Path) -> None:
    backup = tmp_path / "audittrail.backup"
    key_file = tmp_path / "verifier.key"
    async with running(settings) as (app, client):
        await post_records(client, 3)
        await checkpoint_now(app)
        published = (await client.get(f"{LOG}/checkpoint")).text
        key_file.write_text((await client.get(f"{LOG}/key")).text)
        await post_records(client, 2)
        await checkpoint_now(app)
        before = await entry_lines(client)
        result = await audittrail(settings, "backup", str(backup))
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.stdout == (
            f"backed up the log of {len(before)} records (schema {HEAD}) to {backup}\n"
        )
        lost = await post_records(client, 4)
        await checkpoint_now(app)
        published_later = (await client.get(f"{LOG}/checkpoint")).text

        result = await audittrail(settings, "restore", "--force", str(backup))
        assert (result.exit_code, result.stdout) == (1, "")
        if settings.database_url.startswith("sqlite"):
            path = settings.database_url.removeprefix("sqlite:///")
            assert result.stderr == (
                f"error: the database at {path} is in use: stop every audittrail process "
                "using it first\n"
            )
        else:
            assert re.fullmatch(
                r"error: database \w+ is in use \(\d+ other sessions\): stop every audittrail "
                r"process using it first\n",
                result.stderr,
            ), result.stderr

    size = len(before) + len(lost)
    result = await audittrail(settings, "restore", str(backup))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: the database holds a log of {size} records and the backup one of {len(before)}: "
        f"its last 4 records, and every checkpoint published past {len(before)}, would be lost; "
        "--force replaces it\n"
    )
    result = await audittrail(settings, "restore", "--force", str(backup))
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        f"restored the log of {len(before)} records (schema {HEAD}) from {backup}, replacing one "
        f"of {size}\n"
    )
    result = await verify("--database", settings.database_url, "--key", str(key_file))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"OK: {len(before)} records, "), result.stdout

    verifier_key = key_file.read_text().strip()
    old = verify_checkpoint(published, verifier_key, origin=settings.log_origin)
    async with running(settings) as (app, client):
        assert await entry_lines(client) == before
        for record_id in lost:
            response = await client.get(f"{RECORDS}/{record_id}")
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "RECORD_NOT_FOUND"
        head = verify_checkpoint(
            (await client.get(f"{LOG}/checkpoint")).text, verifier_key, origin=settings.log_origin
        )
        assert head.size == len(before)
        response = await client.get(
            f"{LOG}/consistency", params={"first": old.size, "second": head.size}
        )
        assert response.status_code == 200, response.text
        proof = [base64.b64decode(element) for element in response.json()["proof"]]
        verify_consistency(old.size, head.size, proof, old.root_hash, head.root_hash)
        # The checkpoint published after the backup covers records the restore took away.
        later = verify_checkpoint(published_later, verifier_key, origin=settings.log_origin)
        response = await client.get(
            f"{LOG}/consistency", params={"first": later.size, "second": head.size}
        )
        assert response.status_code == 422, response.text


@pytest.fixture
def empty_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A SQLite file not yet there, or a new PostgreSQL database, of the test's kind."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'elsewhere.db'}"
        return
    with new_postgres_database() as url:
        assert url is not None
        yield url


async def test_restore_into_an_empty_database(
    settings: Settings, tmp_path: Path, empty_database: str
) -> None:
    """Another machine's: a new SQLite file, or a new PostgreSQL database; without the log's
    key there yet, the restore says so."""
    size = await with_records(settings, 3)
    backup = await backed_up(settings, tmp_path / "audittrail.backup")
    before = await stored(settings.database_url)
    elsewhere = settings.model_copy(update={"log_key_file": tmp_path / "new" / "log.key"})
    result = await audittrail(elsewhere, "restore", str(backup), database_url=empty_database)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"restored the log of {size} records (schema {HEAD}) from {backup}\n"
    assert result.stderr == (
        f"warning: no log signing key at {tmp_path / 'new' / 'log.key'}: put the log's key "
        "there before a server starts, or it makes a new one and signs a new log\n"
    )
    assert await stored(empty_database) == before
    result = await verify("--database", empty_database, env=environment(settings, empty_database))
    assert result.exit_code == 0, result.output

    other_key = tmp_path / "other" / "log.key"
    LogSigner.load(settings.log_origin, other_key)  # another log's key
    elsewhere = settings.model_copy(update={"log_key_file": other_key})
    arguments = ("restore", "--force", str(backup))
    result = await audittrail(elsewhere, *arguments, database_url=empty_database)
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"warning: the restored checkpoints are not signed by the key at {other_key} for "
        f"{settings.log_origin}: put the log's key and origin back before a server starts\n"
    )
    result = await audittrail(settings, *arguments, database_url=empty_database)
    assert (result.exit_code, result.stderr) == (0, "")


async def test_restore_refuses_what_is_no_backup(
    settings: Settings, tmp_path: Path, database_url: str
) -> None:
    await with_records(settings, 2)
    before = await stored(database_url)
    missing = tmp_path / "missing.backup"
    empty = tmp_path / "empty.backup"
    empty.write_bytes(b"")
    notes = tmp_path / "notes.txt"
    notes.write_text("audittrail backup, honest\n")
    foreign = tmp_path / "foreign.db"
    with closing(sqlite3.connect(foreign)) as other:
        other.execute("CREATE TABLE log_head (id INTEGER PRIMARY KEY, size INTEGER)")
    not_ours = (
        "is a SQLite database but not audittrail's (no alembic_version table)"
        if kind(database_url) == "SQLite"
        else "is a SQLite backup, and AUDITTRAIL_DATABASE_URL names a PostgreSQL database: "
        "restore it into a SQLite one"
    )
    no_backup = "is not an audittrail backup (neither a SQLite database nor a pg_dump archive)"
    for path, message in (
        (missing, f"{missing}: no such file"),
        (empty, f"{empty} {no_backup}"),
        (notes, f"{notes} {no_backup}"),
        (foreign, f"{foreign} {not_ours}"),
    ):
        for arguments in (["restore", str(path)], ["restore", "--force", str(path)]):
            result = await audittrail(settings, *arguments)
            assert (result.exit_code, result.stdout) == (1, "")
            assert result.stderr == f"error: {message}\n"
    assert await stored(database_url) == before
    assert not missing.exists()


@pytest.fixture
def other_kind_backup(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest, sqlite_template: Path
) -> Path:
    """A backup of the other kind of database than the test's."""
    backup = tmp_path / "other.backup"
    if database_url.startswith("sqlite"):
        other: str | None = request.getfixturevalue("postgres_url")
        if other is None:
            skip_without_postgres()
    else:
        shutil.copyfile(sqlite_template, tmp_path / "other.db")
        other = f"sqlite:///{tmp_path / 'other.db'}"
    assert other is not None
    backed_up_by_cli(other, backup)
    return backup


async def test_restore_refuses_a_backup_of_the_other_kind(
    settings: Settings, database_url: str, other_kind_backup: Path
) -> None:
    await with_records(settings, 2)
    before = await stored(database_url)
    other = "PostgreSQL" if kind(database_url) == "SQLite" else "SQLite"
    result = await audittrail(settings, "restore", "--force", str(other_kind_backup))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {other_kind_backup} is a {other} backup, and AUDITTRAIL_DATABASE_URL names a "
        f"{kind(database_url)} database: restore it into a {other} one\n"
    )
    assert await stored(database_url) == before


async def test_restore_refuses_a_backup_of_a_schema_it_does_not_know(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    await with_records(settings, 2)
    await tamper(database_url, (VERSION, {"version": "9999_from_the_future"}))
    try:
        backup = await backed_up(settings, tmp_path / "future.backup")
    finally:  # the PostgreSQL test database outlives the test
        await tamper(database_url, (VERSION, {"version": HEAD}))
    before = await stored(database_url)
    result = await audittrail(settings, "restore", "--force", str(backup))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {backup} holds schema revision '9999_from_the_future', which this release of "
        "audittrail does not know: restore it with the release that made it, or a newer one\n"
    )
    assert await stored(database_url) == before


async def test_a_damaged_backup_changes_nothing(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    """Cut short: SQLite's check of the file refuses it; pg_restore fails part-way through, in
    the one transaction it rolls back."""
    backup = await backed_up(settings, tmp_path / "small.backup")
    await with_records(settings, 40)
    before = await stored(database_url)
    whole = backup.read_bytes()
    damaged = tmp_path / "damaged.backup"
    if kind(database_url) == "SQLite":
        damaged.write_bytes(whole[: len(whole) // 2])
        status = 1
        message = f"{damaged} is not a readable SQLite database: database disk image is malformed"
    else:
        damaged.write_bytes(whole[:-16])  # the last table's data
        status = 2
        message = (
            "pg_restore failed; the database is unchanged: could not read from input file: "
            "end of file"
        )
    result = await audittrail(settings, "restore", "--force", str(damaged))
    assert (result.exit_code, result.stdout, result.stderr) == (status, "", f"error: {message}\n")
    assert await stored(database_url) == before


def test_restore_refuses_a_database_at_another_schema(
    postgres_url: str | None, tmp_path: Path
) -> None:
    """PostgreSQL's restore drops what the backup holds: a database whose schema holds more, or
    other, must be a new one. (A SQLite restore replaces the whole file.)"""
    if postgres_url is None:
        skip_without_postgres()
    backup = tmp_path / "audittrail.backup"
    backed_up_by_cli(postgres_url, backup)
    head = ScriptDirectory.from_config(migrate.alembic_config("")).get_revision(HEAD)
    assert head is not None
    previous = str(head.down_revision)
    with new_postgres_database() as older:
        assert older is not None
        migrate.upgrade(older, previous)
        result = CliRunner().invoke(
            cli.app, ["restore", str(backup)], env={"AUDITTRAIL_DATABASE_URL": older}
        )
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == (
            f"error: database {older.rsplit('/', 1)[1]} is at schema revision {previous} and "
            f"the backup at {HEAD}: restore it into a new, empty database\n"
        )


async def test_backup_never_replaces_a_file_unless_forced(
    settings: Settings, tmp_path: Path
) -> None:
    backup = await backed_up(settings, tmp_path / "audittrail.backup")
    first = backup.read_bytes()
    size = await with_records(settings, 2)
    result = await audittrail(settings, "backup", str(backup))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"error: {backup} exists: choose a new name, or --force to replace it\n"
    assert backup.read_bytes() == first
    result = await audittrail(settings, "backup", "--force", str(backup))
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == f"backed up the log of {size} records (schema {HEAD}) to {backup}\n"
    assert backup.read_bytes() != first
    assert backup.stat().st_mode & 0o777 == 0o600
    assert backups_in(tmp_path) == ["audittrail.backup"]
    missing_directory = tmp_path / "no" / "such" / "audittrail.backup"
    result = await audittrail(settings, "backup", str(missing_directory))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: cannot write beside {missing_directory}: No such file or directory\n"
    )


async def test_backup_refuses_a_database_without_a_schema(
    settings: Settings, database_url: str, tmp_path: Path, empty_database: str
) -> None:
    if kind(database_url) == "SQLite":
        path = empty_database.removeprefix("sqlite:///")
        with closing(sqlite3.connect(path)):
            pass
        where = f"the SQLite database at {path}"
    else:
        where = f"database {empty_database.rsplit('/', 1)[1]}"
    backup = tmp_path / "nothing.backup"
    result = await audittrail(settings, "backup", str(backup), database_url=empty_database)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {where} is not audittrail's: it has no schema (audittrail migrate)\n"
    )
    assert backups_in(tmp_path) == []


def test_without_postgresql_client_programs(
    postgres_url: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if postgres_url is None:
        skip_without_postgres()
    backup = tmp_path / "audittrail.backup"
    backed_up_by_cli(postgres_url, backup)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(
        backup_postgres, "POSTGRES_PROGRAMS", str(tmp_path / "postgresql" / "*" / "bin")
    )
    for command, program in (("backup", "pg_dump"), ("restore", "pg_restore")):
        result = CliRunner().invoke(
            cli.app,
            [command, "--force", str(backup)],
            env={"AUDITTRAIL_DATABASE_URL": postgres_url},
        )
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == (
            f"error: {program} was found neither on PATH nor in {tmp_path}/postgresql/*/bin: "
            "install PostgreSQL's client programs, of the server's major version or newer\n"
        )


def test_a_restore_killed_half_way_leaves_the_database_as_it_was(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """SIGKILL while the pages go in: SQLite rolls the uncommitted write back on the next open.
    (PostgreSQL's restore is pg_restore's one transaction: the damaged backup above.)"""
    database = tmp_path / "audittrail.db"
    shutil.copyfile(sqlite_template, database)
    settings = hourly_checkpoints(app_settings(f"sqlite:///{database}", tmp_path))
    asyncio.run(with_records(settings, 3))
    backup = asyncio.run(backed_up(settings, tmp_path / "audittrail.backup"))
    with closing(sqlite3.connect(backup)) as padded:  # long enough to be stopped half-way
        padded.execute("CREATE TABLE padding (content BLOB)")
        padded.execute("INSERT INTO padding VALUES (zeroblob(200 * 1024 * 1024))")
        padded.commit()
    asyncio.run(with_records(settings, 2))
    before = asyncio.run(stored(settings.database_url))

    restoring = subprocess.Popen(
        [str(AUDITTRAIL), "restore", "--force", str(backup)],
        env={**os.environ, **environment(settings)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wal = database.with_name(f"{database.name}-wal")
        deadline = time.monotonic() + 60
        while not wal.exists() or wal.stat().st_size < 20 * 1024 * 1024:
            assert restoring.poll() is None, "the restore ended before it could be stopped"
            assert time.monotonic() < deadline, "the restore never began writing"
            time.sleep(0.01)
    finally:
        restoring.kill()
        restoring.wait()
    assert asyncio.run(stored(settings.database_url)) == before
    with closing(sqlite3.connect(database)) as restored:
        assert restored.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        assert "padding" not in {
            name for (name,) in restored.execute("SELECT name FROM sqlite_master")
        }


def test_the_sqlite_database_is_not_its_own_backup(sqlite_template: Path, tmp_path: Path) -> None:
    database = tmp_path / "audittrail.db"
    shutil.copyfile(sqlite_template, database)
    first = database.read_bytes()
    for arguments in (["backup", "--force"], ["restore", "--force"]):
        result = CliRunner().invoke(
            cli.app,
            [*arguments, str(database)],
            env={"AUDITTRAIL_DATABASE_URL": f"sqlite:///{database}"},
        )
        assert (result.exit_code, result.stdout) == (1, "")
        assert (
            result.stderr == f"error: {database} is the database itself (AUDITTRAIL_DATABASE_URL)\n"
        )
    assert database.read_bytes() == first
    assert [path.name for path in tmp_path.iterdir()] == ["audittrail.db"]

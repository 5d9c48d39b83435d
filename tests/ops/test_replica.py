"""AUDITTRAIL_READ_DATABASE_URL: lists, statistics, exports and proofs read a PostgreSQL streaming
replica, and a lagging one never makes a 201 look lost (docs/operations.md#read-replica).

The replica is real: this module builds a primary (initdb) and a standby of it
(pg_basebackup -R) in a temporary directory, on spare ports, as the postgres OS user, once per
test session. "Lagging" is the standby's replay paused (pg_wal_replay_pause): what the primary
commits meanwhile reaches the standby's disk but not its reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from pydantic import ValidationError
from sqlalchemy import event

from audittrail.config import Settings
from audittrail.db import migrate
from audittrail.db.engine import Database
from tests.conftest import REQUIRE_POSTGRES, app_settings
from tests.crash.support import free_port
from tests.helpers import RECORDS
from tests.log.support import LOG, checkpoint_now, hourly_checkpoints, running

STATS = "/api/audit-trail/stats"
EXPORT = "/api/audit-trail/export"
TILES = f"{LOG}/tlog/tile"
WAIT_SECONDS = 30.0
SERVER_TOOLS = ("initdb", "pg_ctl", "pg_basebackup")
TEMPLATE = "template_audittrail"  # migrated once; each test's database is a copy


def _server_binaries() -> Path | None:
    """The newest PostgreSQL server's bin directory that has every tool needed, if any."""
    found = [Path(d) for d in glob.glob("/usr/lib/postgresql/*/bin")]
    found = [d for d in found if all((d / tool).exists() for tool in SERVER_TOOLS)]
    return max(found, key=lambda d: int(d.parent.name), default=None)


@dataclass
class Cluster:
    """A primary and its streaming standby, in one temporary directory, run as postgres."""

    binaries: Path
    root: Path
    primary_port: int = field(default_factory=free_port)
    standby_port: int = field(default_factory=free_port)

    def _run(self, tool: str, *arguments: str) -> None:
        command = [str(self.binaries / tool), *arguments]
        if os.geteuid() == 0:  # initdb refuses root: the server runs as postgres
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{tool} failed: {done.stderr}"

    def start(self) -> None:
        primary, standby = self.root / "primary", self.root / "standby"
        self._run("initdb", "-D", str(primary), "-U", "postgres", "--auth=trust", "--no-sync",
                  "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
        with (primary / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.primary_port}\n"
                f"unix_socket_directories = '{self.root}'\n"
                "shared_buffers = 16MB\nmax_connections = 60\n"
                # A test cluster: surviving a power cut is the other tests' business.
                "fsync = off\nfull_page_writes = off\n"
            )
        self._pg_ctl(primary, "start")
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port),
                  "-U", "postgres", "-D", str(standby), "-R", "-X", "stream",
                  "-c", "fast", "--no-sync")  # fmt: skip
        with (standby / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {self.standby_port}\n")  # the last of a setting wins
        self._pg_ctl(standby, "start")

    def _pg_ctl(self, data: Path, action: str) -> None:
        self._run("pg_ctl", "-D", str(data), "-l", f"{data}.log", "-w", "-t", "30", action)

    def stop(self) -> None:
        for data in (self.root / "standby", self.root / "primary"):
            if (data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")

    def url(self, port: int, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{database}"


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    binaries = _server_binaries()
    if binaries is None:
        reason = "PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) not found"
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason} under /usr/lib/postgresql/*/bin")
        pytest.skip(f"{reason} under /usr/lib/postgresql/*/bin: no replica to test against")
    root = Path(tempfile.mkdtemp(prefix="audittrail-replica-"))
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        os.chown(root, postgres.pw_uid, postgres.pw_gid)
    built = Cluster(binaries, root)
    try:
        built.start()
        admin = built.url(built.primary_port, "postgres")
        asyncio.run(_execute(admin, f"CREATE DATABASE {TEMPLATE}"))
        migrate.upgrade(built.url(built.primary_port, TEMPLATE))
        yield built
    finally:
        built.stop()
        shutil.rmtree(root, ignore_errors=True)


async def _execute(url: str, sql: str) -> Any:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


@dataclass(frozen=True)
class Replicated:
    """One test's database: on the primary, and as the standby replays it."""

    cluster: Cluster
    name: str

    @property
    def primary_url(self) -> str:
        return self.cluster.url(self.cluster.primary_port, self.name)

    @property
    def standby_url(self) -> str:
        return self.cluster.url(self.cluster.standby_port, self.name)

    async def standby(self, sql: str) -> Any:
        """Run on the standby's own database: replay is the whole server's."""
        return await _execute(self.cluster.url(self.cluster.standby_port, "postgres"), sql)

    async def caught_up(self) -> None:
        """Once the standby has replayed everything the primary has committed so far."""
        primary = self.cluster.url(self.cluster.primary_port, "postgres")
        target = await _execute(primary, "SELECT pg_current_wal_lsn()::text")
        await _until(
            lambda: self.standby(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"),
            "the standby to catch up",
        )

    @contextlib.asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """The standby replays nothing more while inside: its reads stay where they were."""
        await self.caught_up()
        await self.standby("SELECT pg_wal_replay_pause()")
        try:
            await _until(
                lambda: self.standby("SELECT pg_get_wal_replay_pause_state() = 'paused'"),
                "the standby's replay to pause",
            )
            yield
        finally:
            await self.standby("SELECT pg_wal_replay_resume()")

    async def log_size(self) -> int:
        """The log's size as the standby has replayed it."""
        size: int = await _execute(self.standby_url, "SELECT size FROM log_head")
        return size


async def _until(check: Callable[[], Awaitable[Any]], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not await check():
        assert time.monotonic() < deadline, f"waited {WAIT_SECONDS} s for {what}"
        await asyncio.sleep(0.02)


@pytest.fixture
def replicated(cluster: Cluster) -> Iterator[Replicated]:
    """A fresh database of the migrated template, on the primary and, replayed, on the standby."""
    name = f"audittrail_{uuid.uuid4().hex[:12]}"
    admin = cluster.url(cluster.primary_port, "postgres")
    asyncio.run(_execute(admin, f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}'))
    found = Replicated(cluster, name)
    try:
        asyncio.run(found.caught_up())
        yield found
    finally:
        asyncio.run(_execute(admin, f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture
def replica_settings(replicated: Replicated, tmp_path: Path) -> Settings:
    """Checkpoints where a test signs them: a proof's checkpoint says which database it read."""
    return hourly_checkpoints(
        app_settings(
            replicated.primary_url,
            tmp_path,
            read_database_url=replicated.standby_url,
            database_pool_size=4,
        )
    )


READS_RECORDS = re.compile(r"^\s*(SELECT|WITH)\b.*\b(records|rollup_\w+)\b", re.S | re.I)
# A statement that writes (the rollups' upserts are one WITH ... INSERT on PostgreSQL).
WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE)\b", re.I)


def reads_records(statement: str) -> bool:
    return bool(READS_RECORDS.match(statement)) and not WRITES.search(statement)


@dataclass
class Statements:
    """Every statement the app ran, by database: the primary's engine, the replica's."""

    primary: list[str] = field(default_factory=list)
    replica: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.primary.clear()
        self.replica.clear()

    @property
    def primary_reads(self) -> list[str]:
        """The primary's statements that read records (or their rollups)."""
        return [s for s in self.primary if reads_records(s)]

    @property
    def replica_reads(self) -> list[str]:
        return [s for s in self.replica if reads_records(s)]


def watch(database: Database) -> Statements:
    seen = Statements()
    assert database.replica is not None
    for engine, kept in ((database.writer, seen.primary), (database.replica, seen.replica)):

        def note(*arguments: Any, kept: list[str] = kept) -> None:
            kept.append(arguments[2])  # conn, cursor, statement, ...

        event.listen(engine.sync_engine, "before_cursor_execute", note)
    return seen


async def post(client: httpx.AsyncClient, event_type: str, n: int = 0) -> httpx.Response:
    body = {"event_type": event_type, "summary": f"record {n}", "metadata": {"n": n}}
    response = await client.post(RECORDS, json=body)
    assert response.status_code == 201, response.text
    return response


async def listed(
    client: httpx.AsyncClient, event_type: str, **headers: str
) -> tuple[list[str], httpx.Response]:
    response = await client.get(RECORDS, params={"event_types": event_type}, headers=headers)
    assert response.status_code == 200, response.text
    return [record["id"] for record in response.json()["records"]], response


def log_size(response: httpx.Response) -> int:
    return int(response.headers["log-size"])


async def test_reads_of_records_go_to_the_replica(
    replicated: Replicated, replica_settings: Settings
) -> None:
    """Records written on the primary are listed, counted, proved and exported from the
    replica; the primary reads none of them for it (the statements each engine ran)."""
    async with running(replica_settings) as (app, client):
        created = [(await post(client, "replica.read", n)).json() for n in range(3)]
        await checkpoint_now(app)
        await replicated.caught_up()
        size = await replicated.log_size()
        seen = watch(app.state.database)

        ids, response = await listed(client, "replica.read")
        assert ids == [record["id"] for record in reversed(created)]
        assert log_size(response) == size
        stats = await client.get(STATS, params={"event_types": "replica.read"})
        assert (stats.status_code, stats.json()["total"]) == (200, 3)
        proof = await client.get(f"{RECORDS}/{created[0]['id']}/proof")
        assert (proof.status_code, proof.json()["tree_size"]) == (200, size)
        consistency = await client.get(f"{LOG}/consistency", params={"first": 1, "second": size})
        assert consistency.status_code == 200
        tile = await client.get(f"{TILES}/0/000.p/{size}")
        assert (tile.status_code, len(tile.content)) == (200, 32 * size)
        assert seen.replica_reads
        assert seen.primary_reads == []

        seen.clear()
        exported = await client.get(EXPORT, params={"event_types": "replica.read"})
        assert exported.status_code == 200, exported.text
        *lines, _manifest = exported.content.splitlines()
        assert [orjson.loads(line)["id"] for line in lines] == ids  # the list's order
        assert seen.replica_reads  # the export's pages
        assert seen.primary_reads == []

        # The viewer's list, statistics and dashboard too.
        for page in ("/records", "/records/rows", "/stats", "/"):
            seen.clear()
            shown = await client.get(page, params={"event_types": "replica.read"})
            assert shown.status_code == 200, (page, shown.text)
            if page.startswith("/records"):
                assert created[0]["id"] in shown.text, page
            assert seen.replica_reads, page
            assert seen.primary_reads == [], page


async def test_a_paused_replica_lags_the_list_but_never_hides_a_201(
    replicated: Replicated, replica_settings: Settings
) -> None:
    async with running(replica_settings) as (app, client), replicated.paused():
        behind = await replicated.log_size()
        response = await post(client, "replica.lag")
        record, wanted = response.json(), log_size(response)
        assert wanted > behind

        # The list reads the replica, which has not replayed the record yet: it says how far it
        # has come. The get reads the primary.
        ids, listing = await listed(client, "replica.lag")
        assert (ids, log_size(listing)) == ([], behind)
        got = await client.get(f"{RECORDS}/{record['id']}")
        assert (got.status_code, got.json()) == (200, record)

        # Statistics lag as the list does; naming the 201's Log-Size reads a database that has
        # it: the primary.
        for minimum, total in (({}, 0), ({"Min-Log-Size": str(wanted)}, 1)):
            stats = await client.get(STATS, params={"event_types": "replica.lag"}, headers=minimum)
            assert (stats.status_code, stats.json()["total"]) == (200, total)
        ids, listing = await listed(client, "replica.lag", **{"Min-Log-Size": str(wanted)})
        assert ids == [record["id"]]
        assert log_size(listing) >= wanted

        # Proofs of what the replica has not reached come from the primary.
        await checkpoint_now(app)
        proof = await client.get(f"{RECORDS}/{record['id']}/proof")
        assert (proof.status_code, proof.json()["tree_size"]) == (200, wanted)
        pinned = await client.get(f"{RECORDS}/{record['id']}/proof", params={"tree_size": wanted})
        assert pinned.status_code == 200, pinned.text
        consistency = await client.get(f"{LOG}/consistency", params={"first": 1, "second": wanted})
        assert consistency.status_code == 200, consistency.text
        tile = await client.get(f"{TILES}/0/000.p/{wanted}")
        assert (tile.status_code, len(tile.content)) == (200, 32 * wanted)
        entries = await client.get(f"{LOG}/entries", params={"start": wanted - 1})
        assert entries.status_code == 200, entries.text
        assert orjson.loads(entries.content)["id"] == record["id"]

        # An export is taken against a checkpoint of the primary's; the replica has not
        # reached it, so the primary's rows are read.
        exported = await client.get(EXPORT, params={"event_types": "replica.lag"})
        assert exported.status_code == 200, exported.text
        *lines, _manifest = exported.content.splitlines()
        assert [orjson.loads(line)["id"] for line in lines] == [record["id"]]

        # Still paused: the list still lags.
        assert (await listed(client, "replica.lag"))[0] == []

    # Resumed: the replica catches up, and its list shows the record.
    await replicated.caught_up()
    async with running(replica_settings) as (app, client):
        ids, listing = await listed(client, "replica.lag")
        assert ids == [record["id"]]
        assert log_size(listing) >= wanted


async def test_a_checkpoint_the_replica_has_not_replayed_is_the_primarys(
    replicated: Replicated, replica_settings: Settings
) -> None:
    """The usual lag: the record has reached the replica, the checkpoint signed a moment later
    has not. The replica's 409 (no checkpoint covers it) is asked again of the primary."""
    async with running(replica_settings) as (app, client):
        record = (await post(client, "replica.checkpoint")).json()
        async with replicated.paused():
            await checkpoint_now(app)
            proof = await client.get(f"{RECORDS}/{record['id']}/proof")
            assert proof.status_code == 200, proof.text
            assert proof.json()["tree_size"] == await replicated.log_size()
        await replicated.caught_up()
        replayed = await client.get(f"{RECORDS}/{record['id']}/proof")
        assert replayed.json() == proof.json()


async def test_a_get_reads_the_primary_alone(
    replicated: Replicated, replica_settings: Settings
) -> None:
    """A get must find what a 201 announced a moment ago: it never asks the replica, whose miss
    would cost a second read (and whose absence would fail it)."""
    async with running(replica_settings) as (app, client):
        record = (await post(client, "replica.get")).json()
        seen = watch(app.state.database)
        got = await client.get(f"{RECORDS}/{record['id']}")
        assert (got.status_code, got.json()) == (200, record)
        response = await client.get(f"{RECORDS}/0190a000-0000-7000-8000-000000000000")
        assert response.status_code == 404
        assert response.json() == {
            "error": {
                "code": "RECORD_NOT_FOUND",
                "message": "No record 0190a000-0000-7000-8000-000000000000.",
            }
        }
        assert seen.replica_reads == []
        assert seen.primary_reads


async def test_a_min_log_size_the_replica_has_reached_reads_the_replica(
    replicated: Replicated, replica_settings: Settings
) -> None:
    async with running(replica_settings) as (app, client):
        wanted = log_size(await post(client, "replica.reached"))
        await replicated.caught_up()
        seen = watch(app.state.database)
        ids, listing = await listed(client, "replica.reached", **{"Min-Log-Size": str(wanted)})
        assert len(ids) == 1
        assert log_size(listing) >= wanted
        assert seen.replica_reads
        assert seen.primary_reads == []


async def test_migrations_and_writes_never_touch_the_replica(
    replica_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started with auto-migrate, the app migrates the primary only, and a record's intake runs
    nothing on the replica."""
    migrated: list[str] = []
    upgrade = migrate.upgrade

    def noted(url: str) -> None:
        migrated.append(url)
        upgrade(url)

    monkeypatch.setattr(migrate, "upgrade", noted)
    migrating = replica_settings.model_copy(update={"auto_migrate": True})
    async with running(migrating) as (app, client):
        assert migrated == [replica_settings.database_url]
        seen = watch(app.state.database)
        await post(client, "replica.write")
        assert seen.primary
        assert seen.replica == []


async def test_a_replica_that_does_not_answer_is_503_and_writes_go_on(
    replica_settings: Settings,
) -> None:
    away = replica_settings.model_copy(
        update={"read_database_url": f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"}
    )
    async with running(away) as (_, client):
        record = (await post(client, "replica.away")).json()
        got = await client.get(f"{RECORDS}/{record['id']}")
        assert (got.status_code, got.json()) == (200, record)  # the primary's
        listing = await client.get(RECORDS)
        stats = await client.get(STATS)
        for response in (listing, stats):
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
            assert response.json() == {
                "error": {
                    "code": "DATABASE_UNAVAILABLE",
                    "message": "The database is unavailable; nothing was stored. Retry shortly.",
                }
            }
        assert (await client.get(f"{LOG}/head")).status_code == 200


def test_a_replica_is_refused_with_sqlite(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(
            database_url=f"sqlite:///{tmp_path}/audittrail.db",
            read_database_url="postgresql://replica.example/audittrail",
        )
    assert (
        "AUDITTRAIL_READ_DATABASE_URL needs a PostgreSQL AUDITTRAIL_DATABASE_URL: SQLite has no "
        "streaming replica; unset it"
    ) in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        Settings(
            database_url="postgresql://primary.example/audittrail",
            read_database_url=f"sqlite:///{tmp_path}/copy.db",
        )
    assert (
        "AUDITTRAIL_READ_DATABASE_URL must be a postgresql:// URL of a streaming replica of "
        "AUDITTRAIL_DATABASE_URL"
    ) in str(refused.value)
    unset = Settings(database_url=f"sqlite:///{tmp_path}/audittrail.db", read_database_url="")
    assert unset.read_database_url is None


async def test_without_a_replica_every_read_is_the_primarys(
    database_url: str, tmp_path: Path
) -> None:
    """Both databases, no replica: a 201 says its Log-Size all the same, any Min-Log-Size is met
    by the one database (reads say no Log-Size: there is nothing else they could have read),
    and a bad one is a 422."""
    async with running(app_settings(database_url, tmp_path)) as (_, client):
        first, second = await post(client, "primary.only", 0), await post(client, "primary.only", 1)
        assert log_size(second) == log_size(first) + 1
        head = await client.get(f"{LOG}/head")
        assert log_size(second) == head.json()["tree_size"]
        ids, listing = await listed(
            client, "primary.only", **{"Min-Log-Size": str(log_size(second) + 1000)}
        )
        assert ids == [second.json()["id"], first.json()["id"]]
        # A batch's: the log's size with all its records in; a replay's: the first answer's.
        batch = [{"event_type": "primary.only", "summary": f"batch {n}"} for n in range(3)]
        batch[0]["idempotency_key"] = "once"
        created = await client.post(f"{RECORDS}/batch", json=batch)
        assert (created.status_code, log_size(created)) == (201, log_size(second) + 3)
        replayed = await client.post(f"{RECORDS}/batch", json=batch[:1])
        assert (replayed.status_code, log_size(replayed)) == (200, log_size(second) + 1)
        assert "log-size" not in listing.headers
        bad = await client.get(RECORDS, headers={"Min-Log-Size": "-1"})
        assert bad.status_code == 422
        assert bad.json() == {
            "error": {
                "code": "VALIDATION_ERROR",
                "message": "Invalid request: header.Min-Log-Size.",
                "details": [
                    {
                        "field": "header.Min-Log-Size",
                        "code": "GREATER_THAN_EQUAL",
                        "message": "Input should be greater than or equal to 0",
                    }
                ],
            }
        }

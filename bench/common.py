"""Shared by the log benchmarks: the machine, medians, scratch databases, a seeded log, output.

Every benchmark prints exactly one JSON line on stdout (anything else goes to stderr), so a run
can be collected with ``make bench-log > results.ndjson``. The machines these run on are shared
and noisy: results are medians, and each benchmark also measures a baseline in the same run so
a reader can compare ratios rather than absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any, BinaryIO

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import make_url

from audittrail.db import migrate
from audittrail.db.engine import Database
from audittrail.ids import new_id
from audittrail.integrity.canonical import LEAF_FIELDS, record_leaf_bytes, stored_json
from audittrail.integrity.hashing import leaf_hash
from audittrail.integrity.tree import Frontier
from audittrail.log import head as log_head
from audittrail.log import repository as log_repo
from audittrail.log import tree_store
from audittrail.log.append import AppendedRecord
from audittrail.log.signer import LogSigner

POSTGRES_URL = os.environ.get(
    "AUDITTRAIL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DATABASES = ("postgresql", "sqlite")
ORIGIN = "bench.audittrail.example/log"
SEED_CHUNK = 50_000


def log(message: str) -> None:
    """Progress for the person watching: stderr, so stdout stays one JSON line."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# The machine


def machine() -> dict[str, Any]:
    """What the numbers were measured on; the load average says how busy it was at the start."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(_meminfo_kib("MemTotal") / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": _postgres_version(),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _meminfo_kib(field: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    return 0


def _postgres_version() -> str | None:
    async def version() -> str:
        connection = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL), timeout=5)
        try:
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    try:
        return asyncio.run(version())
    except (OSError, asyncpg.PostgresError):
        return None


# Statistics


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that was actually measured."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def at_most(value: float, limit: float) -> dict[str, Any]:
    return {"value": value, "target": limit, "rule": "value <= target", "met": value <= limit}


def below(value: float, limit: float) -> dict[str, Any]:
    return {"value": value, "target": limit, "rule": "value < target", "met": value < limit}


def at_least(value: float, limit: float) -> dict[str, Any]:
    return {"value": value, "target": limit, "rule": "value >= target", "met": value >= limit}


# Command line and output


def parser(description: str, *, records: int, meaning: str = "log size") -> argparse.ArgumentParser:
    """The options every log benchmark takes; ``--records`` smaller for a quick check."""
    arguments = argparse.ArgumentParser(description=description)
    arguments.add_argument(
        "--records", type=_positive, default=records, help=f"{meaning} (default {records:,})"
    )
    arguments.add_argument(
        "--databases",
        type=_databases,
        default=DATABASES,
        help="comma-separated, of: postgresql, sqlite (default both)",
    )
    return arguments


def _positive(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError("must be at least 2")
    return value


def _databases(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in DATABASES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(DATABASES)}")
    return names


def run(benchmark: str, body: Callable[[], tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Run ``body`` (results, targets) with stdout sent to stderr; then print the one line."""
    described = machine()
    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        results, targets = body()
    described["load_average_at_end"] = [round(load, 2) for load in os.getloadavg()]
    line = {
        "benchmark": benchmark,
        "machine": described,
        "seconds": round(time.perf_counter() - started, 1),
        "results": results,
        "targets": targets,
        "all_met": all(target["met"] for target in targets.values()),
    }
    print(json.dumps(line, sort_keys=False), flush=True)


# Scratch databases


@contextlib.contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    """A new, migrated database of this kind, dropped afterwards; its URL."""
    scratch = _scratch_postgres() if kind == "postgresql" else _scratch_sqlite()
    with scratch as url:
        log(f"{kind}: migrating a scratch database")
        migrate.upgrade(url)
        yield url


@contextlib.contextmanager
def _scratch_postgres() -> Iterator[str]:
    name = f"audittrail_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_postgres_admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def _scratch_sqlite() -> Iterator[str]:
    folder = Path(tempfile.mkdtemp(prefix="audittrail-bench-"))
    try:
        yield f"sqlite:///{folder / 'audittrail.db'}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _postgres_admin(sql: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL), timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_path(url: str) -> str:
    database = make_url(url).database
    assert database is not None
    return database


# A seeded log: records, their tree, the head and one signed checkpoint, loaded in bulk


# The records table's columns are exactly the leaf fields, in the same order.
RECORD_COLUMNS = (*LEAF_FIELDS, "tree_hashes")
APPLICATION_COLUMNS = (
    "id",
    "key",
    "name",
    "description",
    "accent_color",
    "allow_unknown_params",
    "archived_at",
    "created_at",
    "updated_at",
)
EVENTS = (
    ("user.login", "auth", "Signed in"),
    ("user.login_failed", "auth", "Sign-in failed"),
    ("invoice.paid", "billing", "Invoice paid"),
    ("document.updated", "documents", "Document updated"),
    ("role.granted", "access", "Role granted"),
    ("export.completed", "data", "Export completed"),
)
SEVERITIES = ("none", "low", "low", "low", "medium", "medium", "high", "critical")
ACTORS = ("user:alice@example.com", "user:bob@example.com", "api_key:billing-sync", "system")
APPLICATION_KEYS = ("billing", "documents", "identity")


@dataclass
class SeededLog:
    url: str
    size: int
    ids: list[str]
    root: bytes
    checkpoint_note: str
    verifier_key: str
    seconds: float


def seed_records(
    start: int, count: int, first_at: datetime, applications: Sequence[tuple[str, str]]
) -> list[AppendedRecord]:
    """Records ``start .. start + count - 1``: varied like real traffic, one millisecond apart."""
    rng = Random(start)
    rows = []
    for seq in range(start, start + count):
        event_type, category, summary = EVENTS[rng.randrange(len(EVENTS))]
        actor = ACTORS[rng.randrange(len(ACTORS))]
        application = applications[seq % 4] if seq % 4 < len(applications) else None
        rows.append(
            AppendedRecord(
                id=new_id(),
                seq=seq,
                created_at=first_at + timedelta(milliseconds=seq),
                event_type=event_type,
                category=category,
                summary=f"{summary} ({seq})",
                severity=SEVERITIES[rng.randrange(len(SEVERITIES))],
                actor=actor,
                application_id=application[0] if application else None,
                application_key=application[1] if application else None,
                entity_type="invoice" if application else None,
                entity_id=f"inv_{rng.randrange(100_000):06d}" if application else None,
                params={
                    "amount": rng.randrange(100_000) / 4,
                    "currency": "EUR",
                    "attempt": rng.randrange(3),
                    "approved": rng.random() < 0.9,
                },
                metadata={"request_id": f"req-{seq:08d}"},
                ip_address=None if actor == "system" else f"203.0.113.{rng.randrange(1, 255)}",
                source="system" if actor == "system" else "manual",
                application=None,
            )
        )
    return rows


class _Loader:
    """Bulk writes into one database; inserts only, so the append-only triggers stay in place."""

    async def applications(self, rows: Sequence[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    async def records(self, rows: Sequence[AppendedRecord], tree_hashes: Sequence[bytes]) -> None:
        """The records, each with what it stores of the tree (log/tree_store.py)."""
        raise NotImplementedError

    async def finish(self, head: tuple[int, bytes, datetime], checkpoint: tuple[Any, ...]) -> None:
        raise NotImplementedError


class _PostgresLoader(_Loader):
    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def applications(self, rows: Sequence[tuple[Any, ...]]) -> None:
        await self.connection.copy_records_to_table(
            "applications", records=rows, columns=APPLICATION_COLUMNS
        )

    async def records(self, rows: Sequence[AppendedRecord], tree_hashes: Sequence[bytes]) -> None:
        await self.connection.copy_records_to_table(
            "records",
            records=[
                (
                    *_row_values(row),
                    stored_json(row.params),
                    stored_json(row.metadata),
                    row.ip_address,
                    row.source,
                    hashes,
                )
                for row, hashes in zip(rows, tree_hashes, strict=True)
            ],
            columns=RECORD_COLUMNS,
        )

    async def finish(self, head: tuple[int, bytes, datetime], checkpoint: tuple[Any, ...]) -> None:
        await self.connection.execute(
            "UPDATE log_head SET size = $1, root_hash = $2, last_created_at = $3 WHERE id = 1",
            *head,
        )
        await self.connection.execute(
            "INSERT INTO checkpoints (tree_size, root_hash, created_at, note) "
            "VALUES ($1, $2, $3, $4)",
            *checkpoint,
        )
        # Autovacuum would get there on its own in a while; the proofs are measured after it.
        for table in ("records", "applications"):
            await self.connection.execute(f"VACUUM ANALYZE {table}")


class _SqliteLoader(_Loader):
    """Writes what the service would: naive UTC timestamps as text, JSON as its stored text."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    async def applications(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._insert("applications", APPLICATION_COLUMNS, [_sqlite_values(row) for row in rows])

    async def records(self, rows: Sequence[AppendedRecord], tree_hashes: Sequence[bytes]) -> None:
        self._insert(
            "records",
            RECORD_COLUMNS,
            [
                (
                    row.id,
                    row.seq,
                    _sqlite_timestamp(row.created_at),
                    *_row_values(row)[3:],
                    stored_json(row.params),
                    stored_json(row.metadata),
                    row.ip_address,
                    row.source,
                    hashes,
                )
                for row, hashes in zip(rows, tree_hashes, strict=True)
            ],
        )

    async def finish(self, head: tuple[int, bytes, datetime], checkpoint: tuple[Any, ...]) -> None:
        size, root, last_created_at = head
        with self.connection:
            self.connection.execute(
                "UPDATE log_head SET size = ?, root_hash = ?, last_created_at = ? WHERE id = 1",
                (size, root, _sqlite_timestamp(last_created_at)),
            )
        self._insert(
            "checkpoints",
            ("tree_size", "root_hash", "created_at", "note"),
            [_sqlite_values(checkpoint)],
        )

    def _insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        marks = ", ".join("?" for _ in columns)
        with self.connection:
            self.connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
            )


def _row_values(row: AppendedRecord) -> tuple[Any, ...]:
    return (
        row.id,
        row.seq,
        row.created_at,
        row.event_type,
        row.category,
        row.summary,
        row.severity,
        row.actor,
        row.application_id,
        row.application_key,
        row.entity_type,
        row.entity_id,
    )


def _sqlite_timestamp(moment: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME text of the UTCDateTime column: naive UTC, microseconds."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _sqlite_values(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(
        _sqlite_timestamp(value) if isinstance(value, datetime) else value for value in row
    )


async def seed_log(url: str, size: int, *, entries_file: Path | None = None) -> SeededLog:
    """Load a log of ``size`` records into a migrated, empty database, fast.

    The rows are built here, hashed with the service's own leaf encoding and tree code, and
    written in bulk (COPY on PostgreSQL, executemany on SQLite). With ``entries_file``, the
    NDJSON export of the same log is written there too (each line a record's leaf bytes, as
    /log/entries serves it).
    """
    started = time.perf_counter()
    kind = make_url(url).get_backend_name()
    if kind == "postgresql":
        connection = await asyncpg.connect(_asyncpg_dsn(url))
        await connection.execute("SET synchronous_commit TO off")
        loader: _Loader = _PostgresLoader(connection)
        close: Callable[[], Any] = connection.close
    else:
        sqlite = sqlite3.connect(sqlite_path(url))
        sqlite.execute("PRAGMA synchronous=OFF")
        sqlite.execute("PRAGMA cache_size=-262144")
        loader = _SqliteLoader(sqlite)
        close = sqlite.close
    try:
        with contextlib.ExitStack() as stack:
            export = stack.enter_context(entries_file.open("wb")) if entries_file else None
            seeded = await _seed(loader, url, size, export)
    finally:
        await _maybe_await(close())
    seeded.seconds = round(time.perf_counter() - started, 1)
    await _check_read_back(seeded)
    log(f"{kind}: seeded {size:,} records in {seeded.seconds} s")
    return seeded


async def _maybe_await(value: Any) -> None:
    if asyncio.iscoroutine(value):
        await value


async def _seed(loader: _Loader, url: str, size: int, export: BinaryIO | None) -> SeededLog:
    now = datetime.now(UTC)
    first_at = now - timedelta(milliseconds=size) - timedelta(hours=1)
    applications = [
        (new_id(), key, key.title(), f"The {key} service", "#336699", True, None, now, now)
        for key in APPLICATION_KEYS
    ]
    await loader.applications(applications)
    frontier = Frontier()
    ids: list[str] = []
    last_created_at = first_at
    for start in range(0, size, SEED_CHUNK):
        rows = seed_records(start, min(SEED_CHUNK, size - start), first_at, applications)
        lines = [record_leaf_bytes(row.leaf_fields()) + b"\n" for row in rows]
        tree_hashes = frontier.append_completed(leaf_hash(line[:-1]) for line in lines)
        await loader.records(rows, tree_hashes)
        if export is not None:
            export.writelines(lines)
        ids.extend(row.id for row in rows)
        last_created_at = rows[-1].created_at
        log(f"  seeded {start + len(rows):,} / {size:,}")
    root = frontier.root()
    signer = LogSigner(ORIGIN, Ed25519PrivateKey.generate())
    note = signer.sign(size, root)
    await loader.finish((size, root, last_created_at), (size, root, now, note))
    return SeededLog(url, size, ids, root, note, signer.verifier_key, 0.0)


async def _check_read_back(seeded: SeededLog) -> None:
    """The service, reading the rows back, must hash them to the leaves written beside them."""
    database = Database.connect(seeded.url)
    try:
        async with database.read_session() as session:
            for seq in (0, seeded.size - 1):
                [row] = await log_repo.leaf_rows(session, seq, seq + 1)
                stored = await tree_store.nodes(session, [(0, seq)])
                if leaf_hash(record_leaf_bytes(row._asdict())) != stored.get((0, seq)):
                    raise RuntimeError(f"seeded record {seq} does not read back as written")
            head = await log_head.read(session)
            if (head.size, head.root_hash) != (seeded.size, seeded.root):
                raise RuntimeError("the seeded log head does not read back as written")
    finally:
        await database.dispose()

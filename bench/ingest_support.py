"""What bench.ingest needs beyond bench.common: servers, wrk, the baselines, the checks.

- the echo app: baseline (a), a bare FastAPI app that validates a record with the service's own
  RecordCreate and echoes it, with no database, served the same way as the service;
- a uvicorn server in a subprocess, whose resident memory is sampled from /proc while it runs;
- wrk with bench/wrk/records.lua, read back from the one JSON line the script prints;
- raw driver inserts: baseline (b), the same rows written with no HTTP and no log (asyncpg
  COPY on PostgreSQL, sqlite3 executemany on SQLite), one transaction per batch;
- the checks afterwards: every acknowledged record stored, the log verifies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI, status
from sqlalchemy.engine import make_url

from audittrail.ids import new_id
from audittrail.integrity.hashing import HASH_SIZE
from audittrail.records.schemas import RecordCreate
from bench import common

ROOT = Path(__file__).resolve().parent.parent
WRK_SCRIPT = ROOT / "bench" / "wrk" / "records.lua"
HOST = "127.0.0.1"
API_KEY = "bench-ingest-api-key-0123456789abcdef"
RECORDS_PATH = "/api/audit-trail/records"
APPLICATION = {
    "key": "billing",
    "name": "Billing",
    "allow_unknown_params": False,
    "params": [
        {"key": "amount", "type": "number", "required": True},
        {"key": "currency", "type": "enum", "enum_values": ["EUR", "USD"]},
        {"key": "attempt", "type": "integer"},
    ],
}


# Baseline (a): the echo app


def create_echo_app() -> FastAPI:
    """POST /api/audit-trail/records: the body checked by RecordCreate and sent back; no more."""
    app = FastAPI()

    @app.post(RECORDS_PATH, status_code=status.HTTP_201_CREATED)
    async def echo(body: RecordCreate) -> RecordCreate:
        return body

    return app


# Servers


def plain_environment() -> dict[str, str]:
    """This process's environment without any AUDITTRAIL_ setting of the person running it."""
    return {name: value for name, value in os.environ.items() if not name.startswith("AUDITTRAIL_")}


def audittrail_environment(database_url: str, folder: Path, name: str) -> dict[str, str]:
    """Settings as a deployment would set them; the signing key and secrets live in ``folder``."""
    environment = plain_environment()
    environment.update(
        AUDITTRAIL_ENV="development",
        AUDITTRAIL_DATABASE_URL=database_url,
        AUDITTRAIL_SECRET_KEY="bench-ingest-secret-key-not-for-production",
        AUDITTRAIL_SECRET_KEY_FILE=str(folder / f"{name}.secret"),
        AUDITTRAIL_BOOTSTRAP_ADMIN_EMAIL="bench@example.com",
        AUDITTRAIL_BOOTSTRAP_ADMIN_PASSWORD="bench-ingest-password",
        AUDITTRAIL_BOOTSTRAP_API_KEY=API_KEY,
        AUDITTRAIL_LOG_KEY_FILE=str(folder / f"{name}-log.key"),
        AUDITTRAIL_LOG_ORIGIN="bench.audittrail.example/ingest",
    )
    return environment


class RssSampler(threading.Thread):
    """The resident set of a process and its children (a server's workers), summed, read from
    /proc every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True, name=f"rss-{pid}")
        self.pid = pid
        self.interval = interval
        self.max_kib = 0
        self.last_kib = 0
        self._stop_sampling = threading.Event()

    def run(self) -> None:
        while not self._stop_sampling.is_set():
            kib = resident_kib(self.pid)
            if kib is None:
                return
            kib += sum(resident_kib(child) or 0 for child in process_tree(self.pid)[1:])
            self.last_kib = kib
            self.max_kib = max(self.max_kib, kib)
            self._stop_sampling.wait(self.interval)

    def stop(self) -> None:
        self._stop_sampling.set()
        self.join()


def resident_kib(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far (/proc/<pid>/stat); 0 once gone."""
    try:
        after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    utime, stime = int(after_name[11]), int(after_name[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (a server's workers and their helpers), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(stat.parent.name))
    tree, index = [pid], 0
    while index < len(tree):
        tree.extend(children.get(tree[index], []))
        index += 1
    return tree


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """A server process: ``app`` under uvicorn (uvloop and httptools, no access log), or with
    ``app`` None, audittrail as deployed (`audittrail serve`: the same, and its own shutdown and
    metrics across workers); ``workers`` worker processes."""

    name: str
    app: str | None
    environment: dict[str, str]
    log_file: Path
    workers: int = 1
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    sampler: RssSampler | None = None
    started_kib: int = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        listen = ("--host", HOST, "--port", str(self.port), "--workers", str(self.workers))
        if self.app is None:
            return [str(Path(sys.executable).with_name("audittrail")), "serve", *listen]
        return [
            *(sys.executable, "-m", "uvicorn", self.app, "--factory", *listen),
            *("--loop", "uvloop", "--http", "httptools"),
            *("--no-access-log", "--no-proxy-headers", "--log-level", "warning"),
        ]

    def start(self) -> None:
        with self.log_file.open("ab") as output:
            self.process = subprocess.Popen(
                self.command(), cwd=ROOT, env=self.environment, stdout=output, stderr=output
            )
        self._wait_until_ready()
        self.started_kib = resident_kib(self.process.pid) or 0
        self.sampler = RssSampler(self.process.pid)
        self.sampler.start()
        common.log(f"{self.name}: serving on {self.url} (pid {self.process.pid})")

    def _wait_until_ready(self, timeout: float = 120) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/openapi.json", timeout=5).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within {timeout} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 120) -> int | None:
        """Shut down as an operator would (SIGINT: the lifespan commits and checkpoints)."""
        if self.process is None:
            return None
        if self.sampler is not None:
            self.sampler.stop()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    @property
    def cpu_seconds(self) -> float:
        """Of the process and its workers."""
        assert self.process is not None
        return sum(cpu_seconds(pid) for pid in process_tree(self.process.pid))

    @property
    def max_rss_mib(self) -> float:
        return round((self.sampler.max_kib if self.sampler else 0) / 1024, 1)

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return ""


@contextlib.contextmanager
def serving(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


def admin_client(server: Server) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60
    )


def register_application(server: Server) -> None:
    """The application the records name, with typed params, so each record's are checked."""
    with admin_client(server) as client:
        client.post("/api/audit-trail/applications", json=APPLICATION).raise_for_status()


def commit_counters(server: Server) -> dict[str, int]:
    """The group-commit writer's counters from /metrics."""
    with admin_client(server) as client:
        answer = client.get("/metrics")
    answer.raise_for_status()
    counters = {}
    for line in answer.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            counters[name.removeprefix("audittrail_")] = int(float(value))
    return counters


def verifier_key(server: Server, path: Path) -> Path:
    """The published verifier key (GET /log/key), written where `audittrail verify` reads it."""
    answer = httpx.get(f"{server.url}/api/audit-trail/log/key", timeout=30)
    answer.raise_for_status()
    path.write_text(answer.text)
    return path


# wrk


@dataclass(frozen=True)
class WrkRun:
    """One wrk run: answers by status, errors, and latency (ms) from the script's JSON line."""

    per_request: int
    connections: int
    seconds: float
    requests: int
    statuses: dict[int, int]
    errors: dict[str, int]
    latency_ms: dict[str, float]

    @property
    def acknowledged_requests(self) -> int:
        return sum(count for code, count in self.statuses.items() if 200 <= code < 300)

    @property
    def acknowledged_records(self) -> int:
        return self.acknowledged_requests * max(1, self.per_request)

    @property
    def records_per_s(self) -> float:
        return self.acknowledged_records / self.seconds

    @property
    def failures(self) -> dict[str, int]:
        """Answers other than 2xx, and socket errors; empty when all went well."""
        failed = {str(code): n for code, n in self.statuses.items() if not 200 <= code < 300}
        failed.update({kind: n for kind, n in self.errors.items() if n and kind != "status"})
        return failed


def run_wrk(
    url: str,
    *,
    per_request: int,
    connections: int,
    seconds: int,
    tag: str,
    limit: int = 0,
) -> WrkRun:
    """Drive ``url`` for ``seconds`` (or until each thread has ``limit`` answers) with wrk."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: make bench-ingest installs it")
    path = RECORDS_PATH + ("/batch" if per_request else "")
    command = [
        *("wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s"),
        *("-s", str(WRK_SCRIPT), url + path, "--", API_KEY, tag, str(per_request), str(limit)),
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stderr is not None
        errors = []
        if limit:
            # wrk sleeps out its whole duration after its thread stopped; SIGINT ends the sleep
            # and it reports as usual.
            for line in process.stderr:
                if line.strip() == "WRK_LIMIT_REACHED":
                    process.send_signal(signal.SIGINT)
                    break
                errors.append(line)
        output, rest = process.communicate()
    lines = [line for line in output.splitlines() if line.startswith("WRK_JSON ")]
    if process.returncode != 0 or not lines:
        message = "".join(errors) + rest
        raise RuntimeError(f"wrk failed ({process.returncode}): {message.strip()}")
    answer = json.loads(lines[-1].removeprefix("WRK_JSON "))
    return WrkRun(
        per_request=per_request,
        connections=connections,
        seconds=answer["duration_us"] / 1e6,
        requests=answer["requests"],
        statuses={int(code): count for code, count in answer["statuses"].items()},
        errors=answer["errors"],
        latency_ms={name: value / 1000 for name, value in answer["latency_us"].items()},
    )


# Baseline (b): raw driver inserts of the same rows


def raw_rows(
    first_seq: int, count: int, application: tuple[str, str], tag: str
) -> list[tuple[Any, ...]]:
    """Rows as the service writes them for the records the wrk script posts, in RECORD_COLUMNS
    order (params and metadata as JSON text, created_at aware UTC), with as many bytes of tree
    hashes as the service stores for each seq (random: nothing reads them)."""
    created_at = datetime.now(UTC)
    application_id, application_key = application
    rows = []
    for seq in range(first_seq, first_seq + count):
        invoice = seq % 100_000
        rows.append(
            (
                new_id(),
                seq,
                created_at,
                "invoice.refunded",
                "billing",
                f"Refunded invoice INV-{invoice} ({tag}-1-{seq})",
                "medium",
                f"api_key:{application_key}-bench",
                application_id,
                application_key,
                "invoice",
                f"INV-{invoice}",
                json.dumps({"amount": seq % 1000 + 0.5, "currency": "EUR", "attempt": seq % 3}),
                json.dumps({"request_id": f"req_{tag}_1_{seq}"}),
                HOST,
                "manual",
                os.urandom(HASH_SIZE * (((seq + 1) & -(seq + 1)).bit_length())),
            )
        )
    return rows


def _application_row() -> tuple[Any, ...]:
    now = datetime.now(UTC)
    return (new_id(), "billing", "Billing", None, "#336699", False, None, now, now)


@dataclass
class RawInserts:
    """Baseline (b) on one scratch database: batches appended for a while, rows/s of insert time.

    Only the insert and the commit are timed, not building the rows in Python."""

    url: str
    next_seq: int = 0
    application: tuple[str, str] | None = None

    def rows_per_s(self, per_batch: int, seconds: float, tag: str) -> float:
        if make_url(self.url).get_backend_name() == "postgresql":
            return asyncio.run(self._postgres(per_batch, seconds, tag))
        return self._sqlite(per_batch, seconds, tag)

    async def _postgres(self, per_batch: int, seconds: float, tag: str) -> float:
        connection = await asyncpg.connect(_asyncpg_dsn(self.url))
        try:
            if self.application is None:
                row = _application_row()
                await connection.copy_records_to_table(
                    "applications", records=[row], columns=common.APPLICATION_COLUMNS
                )
                self.application = (row[0], row[1])
            spent, rows = 0.0, 0
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                batch = raw_rows(self.next_seq, per_batch, self.application, tag)
                started = time.perf_counter()
                async with connection.transaction():
                    await connection.copy_records_to_table(
                        "records", records=batch, columns=common.RECORD_COLUMNS
                    )
                spent += time.perf_counter() - started
                rows += per_batch
                self.next_seq += per_batch
            return rows / spent
        finally:
            await connection.close()

    def _sqlite(self, per_batch: int, seconds: float, tag: str) -> float:
        connection = sqlite3.connect(common.sqlite_path(self.url), isolation_level=None)
        try:
            # The service's own settings (db/engine.py, Settings.sqlite_synchronous default).
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            if self.application is None:
                row = _application_row()
                _sqlite_insert(connection, "applications", common.APPLICATION_COLUMNS, [row])
                self.application = (row[0], row[1])
            spent, rows = 0.0, 0
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                batch = raw_rows(self.next_seq, per_batch, self.application, tag)
                started = time.perf_counter()
                _sqlite_insert(connection, "records", common.RECORD_COLUMNS, batch)
                spent += time.perf_counter() - started
                rows += per_batch
                self.next_seq += per_batch
            return rows / spent
        finally:
            connection.close()


def _sqlite_insert(
    connection: sqlite3.Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """One transaction, as the service's writer opens it (BEGIN IMMEDIATE)."""
    marks = ", ".join("?" for _ in columns)
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
        [tuple(_sqlite_value(value) for value in row) for row in rows],
    )
    connection.execute("COMMIT")


def _sqlite_value(value: Any) -> Any:
    """SQLAlchemy's SQLite text for the UTCDateTime column: naive UTC with microseconds."""
    if isinstance(value, datetime):
        naive = value.astimezone(UTC).replace(tzinfo=None)
        return naive.isoformat(sep=" ", timespec="microseconds")
    return value


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# Checks


async def _postgres_fetch(url: str, sql: str) -> Any:
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        return await connection.fetchrow(sql)
    finally:
        await connection.close()


def fetch_one(url: str, sql: str) -> tuple[Any, ...]:
    """One row of a query, on either database."""
    if make_url(url).get_backend_name() == "postgresql":
        return tuple(asyncio.run(_postgres_fetch(url, sql)))
    with contextlib.closing(sqlite3.connect(common.sqlite_path(url))) as connection:
        row: tuple[Any, ...] = connection.execute(sql).fetchone()
        return row


def stored_manual_records(url: str) -> dict[str, int]:
    """Manual records in the database, and how many distinct summaries they have."""
    total, distinct = fetch_one(
        url, "SELECT count(*), count(DISTINCT summary) FROM records WHERE source = 'manual'"
    )
    return {"stored": int(total), "distinct_summaries": int(distinct)}


def synchronous_commit(url: str) -> str:
    """PostgreSQL's synchronous_commit as a new connection (the service's) gets it."""
    return str(fetch_one(url, "SHOW synchronous_commit")[0])


def verify_log(database_url: str, key_file: Path) -> dict[str, Any]:
    """`audittrail verify --database URL --key FILE`: its exit code, time and last line."""
    command = [
        str(Path(sys.executable).parent / "audittrail"),
        *("verify", "--database", database_url, "--key", str(key_file)),
    ]
    started = time.perf_counter()
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        env=plain_environment(),
        cwd=key_file.parent,
    )
    output = (completed.stdout + completed.stderr).strip().splitlines()
    return {
        "exit_code": completed.returncode,
        "seconds": round(time.perf_counter() - started, 1),
        "output": output[-1] if output else "",
    }

"""Helpers of the crash tests: a real server process, a concurrent ingest, and the log after it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from audittrail.log import rollups
from audittrail.records.writer import COMMIT_FAILED as COMMIT_FAILED_MESSAGE
from tests.conftest import ADMIN_EMAIL, ADMIN_KEY, ADMIN_PASSWORD
from tests.helpers import APPLICATIONS, RECORDS

AUDITTRAIL = Path(sys.executable).with_name("audittrail")
LOG = "/api/audit-trail/log"
START_SECONDS = 20.0
EVENT_TYPE = "crash.test"
APPLICATION_KEY = "crash"
WORKERS = 32
BATCH_SIZE = 4
# A bound on every request: a request that takes longer counts as hung.
REQUEST_TIMEOUT = 10.0
# What a request may be answered while the database is away: 503, with Retry-After.
UNAVAILABLE = {
    "DATABASE_UNAVAILABLE": "The database is unavailable; nothing was stored. Retry shortly.",
    "COMMIT_FAILED": COMMIT_FAILED_MESSAGE,
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """`audittrail serve` in its own process over one database; started, killed, restarted."""

    database_url: str
    directory: Path
    settings: dict[str, str] = field(default_factory=dict)  # AUDITTRAIL_* overrides
    arguments: tuple[str, ...] = ()  # of `audittrail serve`, beyond the port
    process: subprocess.Popen[bytes] | None = None
    url: str = ""
    starts: int = 0

    @property
    def output(self) -> Path:
        return self.directory / f"server-{self.starts}.log"

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "AUDITTRAIL_DATABASE_URL": self.database_url,
            "AUDITTRAIL_AUTO_MIGRATE": "true",
            "AUDITTRAIL_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
            "AUDITTRAIL_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "AUDITTRAIL_BOOTSTRAP_API_KEY": ADMIN_KEY,
            "AUDITTRAIL_SECRET_KEY_FILE": str(self.directory / "secret"),
            "AUDITTRAIL_LOG_KEY_FILE": str(self.directory / "log.key"),
            "AUDITTRAIL_CHECKPOINT_INTERVAL": "0.2",
            **self.settings,
        }

    def start(self) -> None:
        assert self.process is None, "already running"
        self.starts += 1
        port = free_port()
        with self.output.open("wb") as log_file:
            self.process = subprocess.Popen(
                [str(AUDITTRAIL), "serve", "--port", str(port), *self.arguments],
                env=self.environment(),
                cwd=self.directory,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        self.url = f"http://127.0.0.1:{port}"
        self._wait_until_serving()

    def _wait_until_serving(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_SECONDS
        with httpx.Client(base_url=self.url) as client:
            while True:
                assert self.process.poll() is None, f"the server exited: {self.log()}"
                assert time.monotonic() < deadline, f"no answer in time: {self.log()}"
                try:
                    if client.get(f"{LOG}/head").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no lifespan; what a power cut does to the process."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None

    def log(self) -> str:
        """What every start of the server printed, for failure messages."""
        return "\n".join(
            (self.directory / f"server-{start}.log").read_text(errors="replace")
            for start in range(1, self.starts + 1)
        )

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=REQUEST_TIMEOUT,
            limits=httpx.Limits(max_connections=WORKERS, max_keepalive_connections=WORKERS),
        )


@dataclass
class Ingest:
    """What WORKERS concurrent connections posting records (one, or a batch) were answered.

    Every summary is unique, so each can be looked for in the log afterwards.
    """

    sent: set[str] = field(default_factory=set)
    acknowledged: dict[str, str] = field(default_factory=dict)  # summary -> record id
    statuses: Counter[int] = field(default_factory=Counter)
    refusals: list[httpx.Response] = field(default_factory=list)  # answers other than 201
    unanswered: list[str] = field(default_factory=list)  # transport errors, timeouts included

    @asynccontextmanager
    async def running(self, client: httpx.AsyncClient, first: int = 0) -> AsyncIterator[None]:
        """The workers (numbered from ``first``: another client's have other numbers) post
        while the block runs; they stop as soon as it ends."""
        stop = asyncio.Event()
        numbers = range(first, first + WORKERS)
        workers = asyncio.gather(*(self._worker(client, n, stop) for n in numbers))
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(workers, REQUEST_TIMEOUT + 5)

    async def _worker(self, client: httpx.AsyncClient, worker: int, stop: asyncio.Event) -> None:
        sequence = 0
        while not stop.is_set():
            size = BATCH_SIZE if sequence % 5 == 4 else 1
            records = [record_body(f"w{worker:02d}-{sequence:05d}-{n}") for n in range(size)]
            sequence += 1
            await self.post(client, records)

    async def post(self, client: httpx.AsyncClient, records: list[dict[str, Any]]) -> int | None:
        """Post one record (a list of one) or a batch; its status, None when unanswered."""
        self.sent.update(record["summary"] for record in records)
        try:
            if len(records) == 1:
                response = await client.post(RECORDS, json=records[0])
            else:
                response = await client.post(f"{RECORDS}/batch", json=records)
        except httpx.TransportError as error:
            self.unanswered.append(repr(error))
            return None
        self.statuses[response.status_code] += 1
        if response.status_code != 201:
            self.refusals.append(response)
            return response.status_code
        created = response.json()
        for record in created.get("records", [created]):
            self.acknowledged[record["summary"]] = record["id"]
        return 201


def record_body(summary: str) -> dict[str, Any]:
    """A record; every third names an application, so its request reads before it writes."""
    body: dict[str, Any] = {"event_type": EVENT_TYPE, "summary": summary, "severity": "low"}
    if sum(summary.encode()) % 3 == 0:
        body["application_key"] = APPLICATION_KEY
    return body


async def create_application(client: httpx.AsyncClient) -> None:
    response = await client.post(APPLICATIONS, json={"key": APPLICATION_KEY, "name": "Crash"})
    assert response.status_code == 201, response.text


async def log_entries(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Every record of the log, in seq order, as its NDJSON entry."""
    response = await client.get(f"{LOG}/entries")
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.content.splitlines()]


async def check_log(client: httpx.AsyncClient, ingest: Ingest) -> list[dict[str, Any]]:
    """Seq runs 0..n-1 without a gap; every acknowledged record is there, with the id it was
    acknowledged with; no record is there twice; nothing is there that was not sent."""
    entries = await log_entries(client)
    assert [entry["seq"] for entry in entries] == list(range(len(entries)))
    ours = [entry for entry in entries if entry["event_type"] == EVENT_TYPE]
    counts = Counter(entry["summary"] for entry in ours)
    assert [summary for summary, count in counts.items() if count > 1] == []
    stored = {entry["summary"]: entry["id"] for entry in ours}
    lost = {s: i for s, i in ingest.acknowledged.items() if stored.get(s) != i}
    assert lost == {}, f"{len(lost)} acknowledged records are missing or changed"
    assert set(stored) <= ingest.sent
    return entries


async def check_search(client: httpx.AsyncClient, entries: list[dict[str, Any]]) -> None:
    """Full-text search agrees with the log: a search for the ingest's event type finds exactly
    its records there (each acknowledged one among them), whatever the kill interrupted."""
    stored = {entry["id"] for entry in entries if entry["event_type"] == EVENT_TYPE}
    found: list[str] = []
    params: dict[str, Any] = {"search": EVENT_TYPE, "page_size": 200}
    while True:
        response = await client.get(RECORDS, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["total"] == len(stored)
        found.extend(record["id"] for record in page["records"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert len(found) == len(set(found)) == len(stored)
    assert set(found) == stored


async def check_rollups(
    client: httpx.AsyncClient, database_url: str, entries: list[dict[str, Any]]
) -> None:
    """The rollups equal a recount of what is stored, and statistics count every record once."""
    disagreements = await rollups.check(database_url)
    assert disagreements == [], disagreements
    response = await client.get("/api/audit-trail/stats")
    assert response.status_code == 200, response.text
    stats = response.json()
    assert (stats["total"], stats["from_rollups"]) == (len(entries), True)
    ours = sum(1 for entry in entries if entry["event_type"] == EVENT_TYPE)
    assert {"value": EVENT_TYPE, "count": ours} in stats["top"]["event_types"]["items"]


async def caught_up_checkpoint(client: httpx.AsyncClient, size: int) -> None:
    """Wait until the checkpointer has signed a checkpoint of this size."""
    deadline = time.monotonic() + 30
    while True:
        response = await client.get(f"{LOG}/checkpoint")
        if response.status_code == 200 and int(response.text.split("\n")[1]) == size:
            return
        assert time.monotonic() < deadline, f"no checkpoint covered {size} records in time"
        await asyncio.sleep(0.05)


async def verify_database(database_url: str, client: httpx.AsyncClient, directory: Path) -> str:
    """`audittrail verify --database` with the published verifier key; its output when it
    exits 0."""
    return await verify_with_key(database_url, (await client.get(f"{LOG}/key")).text, directory)


async def verify_with_key(database_url: str, verifier_key: str, directory: Path) -> str:
    """`audittrail verify --database` with this verifier key; its output when it exits 0."""
    key_file = directory / "verifier.key"
    key_file.write_text(verifier_key)
    process = await asyncio.create_subprocess_exec(
        str(AUDITTRAIL),
        "verify",
        "--database",
        database_url,
        "--key",
        str(key_file),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=directory,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode()
    return output.decode()

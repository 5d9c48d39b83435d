"""Prometheus metrics: GET /metrics (admins), or a port of their own; one process or several.

What the code counts as it works is in instruments.py. Here: the gauges sampled rather than
counted (the write queue, the connection pools, the log's size and its latest checkpoint), and
where a scrape reads everything.

- One process: prometheus_client's default registry, in memory. GET /metrics samples, then
  answers.
- Several workers (`audittrail serve --workers N`): `for_workers` gives them a directory for
  their values before uvicorn starts them (PROMETHEUS_MULTIPROC_DIR: the operator's if set, else
  a temporary one made for the run and removed after). A scrape, whichever worker answers it,
  adds up every worker's files. Each worker samples its gauges every SAMPLE_SECONDS (and the one
  answering a scrape, then), so another worker's are at most that old. A worker that stops drops
  its gauges; one that died is found out at the next scrape. Counts of either stay counted.
- AUDITTRAIL_METRICS_PORT: the same metrics on that port instead, without authentication, bound
  to AUDITTRAIL_METRICS_ADDRESS (127.0.0.1 unless told), by prometheus_client's own server in a
  thread; GET /metrics is then no route at all (404, as any unknown path). With one process the
  app serves that port (sampling every SAMPLE_SECONDS); with several, `audittrail serve`'s parent
  process does, over the workers' files: it answers whichever worker is being restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from wsgiref.simple_server import WSGIServer

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy.pool import QueuePool

from audittrail import clock, instruments
from audittrail.access import Admin
from audittrail.config import Settings
from audittrail.db.engine import Database
from audittrail.log import repository as log_repo
from audittrail.records.writer import GroupCommitWriter

router = APIRouter(tags=["operations"])
log = structlog.get_logger(__name__)

# prometheus_client reads it when it is first imported: set, every value goes to files there.
DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# How often each process samples its gauges where a scrape may not reach it.
SAMPLE_SECONDS = 2.0
# How long the log's two rows may take to read for a sample.
DATABASE_SECONDS = 2.0


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
)
async def metrics(_: Admin, request: Request) -> Response:
    state = request.app.state
    await sample(state.database, state.writer, state.started_at)
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(await asyncio.to_thread(encode, registry()), media_type=content_type)


def routers(settings: Settings) -> tuple[APIRouter, ...]:
    """GET /metrics, unless the metrics have a port of their own."""
    return () if settings.metrics_port is not None else (router,)


def several_processes() -> bool:
    """Whether this process writes its values to files for a scrape to add up."""
    return bool(os.environ.get(DIRECTORY_VARIABLE))


def registry() -> Collector:
    """What a scrape of this process reads: its own values, or every worker's."""
    if several_processes():
        return worker_registry(Path(os.environ[DIRECTORY_VARIABLE]))
    return REGISTRY


def worker_registry(directory: Path) -> CollectorRegistry:
    """Every worker's values, from their files in this directory."""
    workers = CollectorRegistry(auto_describe=False)
    workers.register(WorkerFiles(directory))
    return workers


MERGE_ATTEMPTS = 3
# The file of a process's live gauges (queue, pools, the log's): `gauge_livesum_<pid>.db`.
_LIVE_GAUGES = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


class WorkerFiles(Collector):
    """The workers' files, added up; first, the gauges of workers no longer running dropped
    (prometheus_client's mark_process_dead: what they counted stays)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files = multiprocess.MultiProcessCollector(None, path=str(directory))  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        names = (_LIVE_GAUGES.match(name) for name in os.listdir(self.directory))
        for pid in {int(name.group(1)) for name in names if name} - {os.getpid()}:
            if not _running(pid):
                with contextlib.suppress(FileNotFoundError):  # a scrape beside us removed it
                    multiprocess.mark_process_dead(pid, str(self.directory))  # type: ignore[no-untyped-call]
        # A scrape in another worker may remove a dead worker's file between this one listing
        # the files and reading them: read them again.
        for _ in range(MERGE_ATTEMPTS - 1):
            with contextlib.suppress(FileNotFoundError):
                return list(self.files.collect())  # type: ignore[no-untyped-call]
        return list(self.files.collect())  # type: ignore[no-untyped-call]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal: only whether it exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process (its pid reused): running
        return True
    return True


async def sample(database: Database, writer: GroupCommitWriter, started_at: datetime) -> None:
    """Set the gauges that describe this process and the log, as they are now."""
    instruments.write_queue.set(writer.queued)
    for name, pool in pools(database):
        instruments.pool_checked_out.labels(name).set(pool.checkedout())
        instruments.pool_size.labels(name).set(pool.size())
    try:
        async with asyncio.timeout(DATABASE_SECONDS), database.read_session() as session:
            coverage = await log_repo.coverage(session)
    except Exception as error:  # the log's gauges keep their last values; readyz says why
        log.warning("metrics: the log could not be read", error=f"{type(error).__name__}")
        return
    instruments.log_records.set(coverage.size)
    instruments.checkpoint_records.set(coverage.covered)
    signed = coverage.signed_at or started_at
    instruments.checkpoint_age_seconds.set((clock.now() - signed).total_seconds())


def pools(database: Database) -> list[tuple[str, QueuePool]]:
    """The pools by name: `write`; `read` where reads have a pool of their own (SQLite's second
    engine; PostgreSQL's reads share the writer's); `replica` where there is one."""
    named = [("write", database.writer.sync_engine.pool)]
    if database.reader.sync_engine.pool is not database.writer.sync_engine.pool:
        named.append(("read", database.reader.sync_engine.pool))
    if database.replica is not None:
        named.append(("replica", database.replica.sync_engine.pool))
    return [(name, pool) for name, pool in named if isinstance(pool, QueuePool)]


@dataclass
class Exposition:
    """A process's part beyond the route: with several workers, or with a metrics port, a task
    that samples every SAMPLE_SECONDS; with one process and a metrics port, that port's server.
    Started and stopped by the app's lifespan."""

    sampling: asyncio.Task[None] | None
    server: WSGIServer | None

    @classmethod
    def start(
        cls, database: Database, writer: GroupCommitWriter, settings: Settings, started_at: datetime
    ) -> Exposition:
        sampling = server = None
        if several_processes() or settings.metrics_port is not None:
            sampling = asyncio.create_task(
                _keep_sampling(database, writer, started_at), name="metrics-sampling"
            )
        if settings.metrics_port is not None and not several_processes():
            server = serve_port(settings, REGISTRY)
        return cls(sampling, server)

    async def stop(self) -> None:
        if self.server is not None:
            await asyncio.to_thread(_close, self.server)  # up to half a second: not on the loop
        if self.sampling is not None:
            self.sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.sampling
        if several_processes():  # this worker's gauges go; its counts stay
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


async def _keep_sampling(database: Database, writer: GroupCommitWriter, started: datetime) -> None:
    while True:
        await sample(database, writer, started)
        await asyncio.sleep(SAMPLE_SECONDS)


def serve_port(settings: Settings, collector: Collector) -> WSGIServer:
    """prometheus_client's server on the metrics port, in a thread: no authentication."""
    assert settings.metrics_port is not None
    server, _thread = start_http_server(
        settings.metrics_port, addr=settings.metrics_address, registry=collector
    )
    log.info("metrics served", address=settings.metrics_address, port=settings.metrics_port)
    return server


def _close(server: WSGIServer) -> None:
    server.shutdown()
    server.server_close()


@contextlib.contextmanager
def for_workers(settings: Settings, workers: int) -> Iterator[None]:
    """`audittrail serve`'s part, around uvicorn: with several workers, the directory they write
    their values to, and the metrics port served from here over all of them."""
    if workers == 1 and not several_processes():
        yield  # the app does it all (Exposition)
        return
    made = None
    if not several_processes():
        made = tempfile.mkdtemp(prefix="audittrail-metrics-")
        os.environ[DIRECTORY_VARIABLE] = made  # the workers inherit it
    directory = Path(os.environ[DIRECTORY_VARIABLE])
    server = None
    if settings.metrics_port is not None:
        server = serve_port(settings, worker_registry(directory))
    try:
        yield
    finally:
        if server is not None:
            _close(server)
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
            del os.environ[DIRECTORY_VARIABLE]

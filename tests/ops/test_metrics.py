"""Prometheus metrics: requests by route template, the group commit, the log and the pools;
admins only on the API's port, or a port of their own; summed over several worker processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from audittrail import instruments, metrics
from audittrail.config import Settings
from tests.crash.support import Server, free_port
from tests.helpers import RECORDS, post_record
from tests.ingest.support import METRICS, samples
from tests.ingest.support import metrics as scrape
from tests.log.support import checkpoint_now, head_size, hourly_checkpoints, running

BATCH = f"{RECORDS}/batch"
ONE_RECORD = f"{RECORDS}/{{record_uuid}}"
FORBIDDEN = {"error": {"code": "FORBIDDEN", "message": "This needs the scope admin."}}
UNAUTHENTICATED = {
    "error": {"code": "UNAUTHENTICATED", "message": "Missing, invalid or expired credentials."}
}
NOT_FOUND = {"error": {"code": "NOT_FOUND", "message": "No such resource."}}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Checkpoints only where a test signs them (and one at start)."""
    return hourly_checkpoints(settings)


def requests(
    route: str, method: str, status: int, name: str = "audittrail_http_requests_total"
) -> str:
    """The sample of one route, method and status, as tests.ingest.support.samples names it."""
    return f'{name}{{method="{method}",route="{route}",status="{status}"}}'


def gain(before: dict[str, float], after: dict[str, float], sample: str) -> float:
    return after.get(sample, 0.0) - before.get(sample, 0.0)


async def label_values(client: httpx.AsyncClient, label: str) -> set[str]:
    """Every value a label of the request metrics takes."""
    response = await client.get(METRICS)
    assert response.status_code == 200, response.text
    return {
        sample.labels[label]
        for family in text_string_to_metric_families(response.text)
        if family.name.startswith("audittrail_http_request")
        for sample in family.samples
        if label in sample.labels
    }


async def test_requests_are_counted_under_their_route_template(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    created = await post_record(client)
    batch = await client.post(BATCH, json=[{"event_type": "a", "summary": "in a batch"}])
    assert batch.status_code == 201, batch.text
    assert (await client.get(f"{RECORDS}/{created['id']}")).status_code == 200
    assert (await client.get(f"{RECORDS}/{uuid.uuid4()}")).status_code == 404
    assert (await client.get("/no/such/page")).status_code == 404
    after = await scrape(client)

    assert gain(before, after, requests(RECORDS, "POST", 201)) == 1
    assert gain(before, after, requests(BATCH, "POST", 201)) == 1
    assert gain(before, after, requests(ONE_RECORD, "GET", 200)) == 1
    assert gain(before, after, requests(ONE_RECORD, "GET", 404)) == 1
    assert gain(before, after, requests(instruments.UNMATCHED, "GET", 404)) == 1
    assert gain(before, after, requests("/metrics", "GET", 200)) == 1  # the first scrape
    timed = "audittrail_http_request_duration_seconds_count"
    for route, method, status in (
        (RECORDS, "POST", 201),
        (ONE_RECORD, "GET", 404),
        (instruments.UNMATCHED, "GET", 404),
    ):
        assert (
            after[requests(route, method, status, timed)] == after[requests(route, method, status)]
        )
    assert not [sample for sample in after if created["id"] in sample]


async def test_hostile_paths_and_methods_add_no_label_values(client: httpx.AsyncClient) -> None:
    # Warm up: one unknown path and one unknown record give the labels every wave below uses.
    await client.get("/warm/up")
    await client.get(f"{RECORDS}/{uuid.uuid4()}")
    routes = await label_values(client, "route")
    hostile = [
        *(f"{RECORDS}/{uuid.uuid4()}" for _ in range(20)),
        f"{RECORDS}/not-an-id",
        f"{RECORDS}/x/y/z",
        "/api/audit-trail/" + "a" * 3000,
        '/quote"}{route="evil',
        "/%7Broute%7D/%2e%2e/%2e%2e/etc/passwd",
        "/metrics/evil",
        f"{RECORDS}%00",
    ]
    for path in hostile:
        for method in ("GET", "POST", "PROPFIND", "EVIL-METHOD"):
            response = await client.request(method, path, content=b"{}")
            assert response.status_code in (400, 404, 405, 422), (method, path, response.text)

    assert await label_values(client, "route") == routes
    assert await label_values(client, "method") <= instruments.METHODS | {instruments.OTHER_METHOD}
    text = (await client.get(METRICS)).text
    for fragment in ("aaaaaaaa", "evil", "passwd", "PROPFIND", "EVIL-METHOD", "not-an-id"):
        assert fragment not in text


async def test_group_commits_and_the_log_are_measured(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    before = await scrape(client)
    answers = await asyncio.gather(
        *(client.post(RECORDS, json={"event_type": "m", "summary": f"{n}"}) for n in range(20))
    )
    assert [answer.status_code for answer in answers] == [201] * 20
    three = [{"event_type": "m", "summary": f"batch {n}"} for n in range(3)]
    assert (await client.post(BATCH, json=three)).status_code == 201
    await checkpoint_now(app)
    after = await scrape(client)

    def gained(sample: str) -> float:
        return gain(before, after, sample)

    assert gained("audittrail_committed_records_total") == 23
    batches = gained("audittrail_commit_batches_total")
    assert 1 <= batches <= 21
    assert gained("audittrail_commit_batch_records_count") == batches
    assert gained("audittrail_commit_batch_records_sum") == 23
    assert gained('audittrail_commit_batch_records_bucket{le="+Inf"}') == batches
    assert gained("audittrail_commit_wait_seconds_count") == 21  # one per request
    assert gained("audittrail_commit_wait_seconds_sum") > 0
    assert after["audittrail_write_queue_requests"] == 0
    size = await head_size(client)
    assert after["audittrail_log_records"] == size >= 23
    assert after["audittrail_checkpoint_records"] == size
    assert 0 <= after["audittrail_checkpoint_age_seconds"] < 60
    pool = app.state.settings.database_pool_size if not app.state.settings.is_sqlite else 5
    assert after['audittrail_database_pool_size{pool="write"}'] == pool
    if app.state.settings.is_sqlite:  # PostgreSQL's reads share the writer's pool
        assert after['audittrail_database_pool_size{pool="read"}'] == pool


async def test_connections_in_use_are_measured(app: FastAPI, client: httpx.AsyncClient) -> None:
    pool = "read" if app.state.settings.is_sqlite else "write"
    in_use = f'audittrail_database_connections_checked_out{{pool="{pool}"}}'
    await scrape(client)  # the key's first use, stamped in a write of its own, out of the way

    async def in_use_least() -> float:
        """The fewest in use over a few scrapes: a background task's moment of reading (the
        export runner polls every second) is not the test's connection."""
        return min([(await scrape(client))[in_use] for _ in range(3)])

    idle = await in_use_least()  # the scrape's own connections
    async with app.state.database.read_session() as session:
        await session.connection()  # checked out until the block ends
        assert await in_use_least() == idle + 1
    assert await in_use_least() == idle


async def test_503s_are_counted_by_code(app: FastAPI, client: httpx.AsyncClient) -> None:
    sample = 'audittrail_unavailable_responses_total{code="NOT_READY"}'
    before = await scrape(client)
    await app.state.writer.stop()
    try:
        assert (await client.get("/readyz")).status_code == 503
    finally:
        app.state.writer.start()  # for the lifespan's own stop
    assert gain(before, await scrape(client), sample) == 1


async def test_metrics_are_for_admins_only(app: FastAPI, client: httpx.AsyncClient) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anonymous:
        response = await anonymous.get(METRICS)
        assert (response.status_code, response.json()) == (401, UNAUTHENTICATED)
        for role in ("reader", "writer", "auditor"):
            made = await client.post("/api/api-keys", json={"name": role, "roles": [role]})
            assert made.status_code == 201, made.text
            headers = {"Authorization": f"Bearer {made.json()['key']}"}
            response = await anonymous.get(METRICS, headers=headers)
            assert (response.status_code, response.json()) == (403, FORBIDDEN)


async def test_a_metrics_port_serves_them_instead(settings: Settings) -> None:
    port = free_port()
    settings = settings.model_copy(update={"metrics_port": port})
    url = f"http://127.0.0.1:{port}/metrics"
    async with running(settings) as (_app, client), httpx.AsyncClient(timeout=10) as outside:
        before = samples((await outside.get(url)).text)
        await post_record(client)
        answer = await outside.get(url)  # no credentials
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        assert gain(before, samples(answer.text), requests(RECORDS, "POST", 201)) == 1
        response = await client.get(METRICS)
        assert (response.status_code, response.json()) == (404, NOT_FOUND)
        response = await client.get(METRICS, headers={"Authorization": ""})
        assert (response.status_code, response.json()) == (404, NOT_FOUND)
        assert METRICS not in (await client.get("/openapi.json")).json()["paths"]
        # The sampled gauges come every SAMPLE_SECONDS.
        size = await head_size(client)
        for _ in range(round(3 * metrics.SAMPLE_SECONDS / 0.1)):
            if samples((await outside.get(url)).text)["audittrail_log_records"] == size:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the log's size was not sampled in time")
    async with httpx.AsyncClient(timeout=10) as outside:
        with pytest.raises(httpx.ConnectError):  # closed with the app
            await outside.get(url)


# Run in a process of its own: instruments.py, imported with PROMETHEUS_MULTIPROC_DIR set.
WORKER = """
import sys
from audittrail import instruments
instruments.committed_records.inc(int(sys.argv[1]))
instruments.write_queue.set(int(sys.argv[1]))
print("ready", flush=True)
sys.stdin.read()
"""


def test_several_processes_are_added_up(tmp_path: Path) -> None:
    environment = {**os.environ, metrics.DIRECTORY_VARIABLE: str(tmp_path)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(count)],
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for count in (3, 4)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline() == b"ready\n"
        both = samples(generate_latest(metrics.worker_registry(tmp_path)).decode())
        assert both["audittrail_committed_records_total"] == 7
        assert both["audittrail_write_queue_requests"] == 7
    finally:
        for worker in workers:
            worker.communicate(b"", timeout=10)
    ended = samples(generate_latest(metrics.worker_registry(tmp_path)).decode())
    assert ended["audittrail_committed_records_total"] == 7  # what they counted stays counted
    assert "audittrail_write_queue_requests" not in ended  # their gauges went with them
    assert not list(tmp_path.glob("gauge_live*"))


async def post_concurrently(server: Server, count: int) -> None:
    async with server.client() as client:
        answers = await asyncio.gather(
            *(
                client.post(RECORDS, json={"event_type": "w", "summary": f"{n}"})
                for n in range(count)
            )
        )
    assert [answer.status_code for answer in answers] == [201] * count


def metric_directories(tmp: Path) -> list[Path]:
    return list(tmp.glob("audittrail-metrics-*"))


async def test_workers_of_one_server_are_added_up(database_url: str, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    server = Server(database_url, tmp_path, {"TMPDIR": str(tmp)}, arguments=("--workers", "2"))
    posted = requests(RECORDS, "POST", 201)
    server.start()
    try:
        assert len(metric_directories(tmp)) == 1
        await post_concurrently(server, 32)
        async with server.client() as client:
            # Whichever worker answers a scrape, it counts every worker's requests.
            for _ in range(6):
                assert (await scrape(client))[posted] == 32
    finally:
        server.stop()
    assert metric_directories(tmp) == []  # removed with the server

    port = free_port()
    server.settings["AUDITTRAIL_METRICS_PORT"] = str(port)
    server.start()
    try:
        await post_concurrently(server, 10)
        async with server.client() as client, httpx.AsyncClient(timeout=10) as outside:
            assert (await client.get(METRICS)).status_code == 404
            answer = await outside.get(f"http://127.0.0.1:{port}/metrics")
            found = samples(answer.text)
            assert found[posted] == 10  # this run's: the first run's files went with it
            assert found['audittrail_database_pool_size{pool="write"}'] > 0
    finally:
        server.stop()
    assert metric_directories(tmp) == []

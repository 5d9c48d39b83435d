"""Export jobs from the outside: a job's file is the direct export's bytes at the same checkpoint
(NDJSON, CSV, packs), its progress, 409 before it is done, 410 once expired and its files gone,
a job that survives its process (stopped, or dead), whose jobs a caller sees, a bound key's job,
a job that fails, and every bad input's exact answer (and that a refused job stores nothing)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import update

from audittrail import clock
from audittrail.app import create_app
from audittrail.config import Settings
from audittrail.db.models import ExportJob
from audittrail.integrity.manifest import verify_manifest
from audittrail.integrity.pack import verify_pack
from audittrail.records.export import job_runner, jobs, parameters, reader
from tests.auth.conftest import MovableClock, moved_clock  # noqa: F401  (a fixture)
from tests.conftest import ADMIN_KEY, make_client
from tests.export.support import (
    EXPORT,
    REFUSED,
    checkpoint_now,
    export,
    export_records,
    read_ndjson,
    shop,
)
from tests.helpers import create_application, post_record
from tests.search.support import key_client

EXPORTS = "/api/audit-trail/exports"
Job = dict[str, Any]


async def start_job(client: httpx.AsyncClient, params: Any = None) -> Job:
    response = await client.post(EXPORTS, params=params)
    assert response.status_code == 202, response.text
    job: Job = response.json()
    assert response.headers["location"] == f"{EXPORTS}/{job['id']}"
    return job


async def job_of(client: httpx.AsyncClient, job_id: str) -> Job:
    response = await client.get(f"{EXPORTS}/{job_id}")
    assert response.status_code == 200, response.text
    job: Job = response.json()
    return job


async def until(
    client: httpx.AsyncClient, job_id: str, holds: Callable[[Job], bool], seconds: float = 30
) -> Job:
    """The job, once it is as `holds` says."""
    deadline = time.monotonic() + seconds
    while True:
        job = await job_of(client, job_id)
        if holds(job):
            return job
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.02)


async def finished(client: httpx.AsyncClient, job_id: str) -> Job:
    return await until(client, job_id, lambda job: job["status"] in ("done", "failed"))


async def download(client: httpx.AsyncClient, job_id: str) -> httpx.Response:
    response = await client.get(f"{EXPORTS}/{job_id}/download")
    assert response.status_code == 200, response.text
    return response


def exported_files(settings: Settings) -> set[str]:
    directory = settings.export_directory
    return {path.name for path in directory.iterdir()} if directory.exists() else set()


def not_found(job_id: str) -> Any:
    return {"error": {"code": "EXPORT_NOT_FOUND", "message": f"No export job {job_id}."}}


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Exports read two records a page and stop after their first page until the gate opens;
    progress is written at once."""
    opened = asyncio.Event()
    pages = reader.pages

    async def gated(*args: Any) -> AsyncIterator[list[dict[str, Any]]]:
        first = True
        async for page in pages(*args):
            yield page
            if first:
                first = False
                await opened.wait()

    monkeypatch.setattr(reader, "PAGE", 2)
    monkeypatch.setattr(reader, "pages", gated)
    monkeypatch.setattr(job_runner, "PROGRESS_SECONDS", 0.01)
    return opened


async def test_a_csv_job_is_the_direct_exports_bytes_with_its_manifest_beside(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await shop(client)
    await checkpoint_now(app)
    created = await start_job(client, {"format": "csv", "application_key": "shop", "bom": "1"})
    tree_size = created["tree_size"]
    assert created == {
        "id": created["id"],
        "status": "queued",
        "format": "csv",
        "owner": "api_key:bootstrap",
        "filters": {"application_key": "shop"},
        "records_written": 0,
        "estimated_total": 4,
        "tree_size": tree_size,
        "created_at": created["created_at"],
        "started_at": None,
        "finished_at": None,
        "expires_at": None,
        "error": None,
    }
    await post_record(client, application_key="shop")  # after the job's checkpoint: not in it
    job = await finished(client, created["id"])
    assert (job["status"], job["records_written"], job["error"]) == ("done", 4, None)
    created_at, started_at, finished_at, expires_at = (
        datetime.fromisoformat(job[name])
        for name in ("created_at", "started_at", "finished_at", "expires_at")
    )
    assert created_at <= started_at <= finished_at
    assert expires_at - finished_at == timedelta(days=1)  # by default

    response = await download(client, job["id"])
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="audittrail-export-{tree_size}.csv"'
    )
    assert response.headers["audittrail-tree-size"] == str(tree_size)
    direct = await export(
        client, format="csv", application_key="shop", bom="1", tree_size=tree_size
    )
    assert response.content == direct.content

    link = response.headers["link"]
    assert link == f'<{EXPORTS}/{job["id"]}/manifest>; rel="describedby"'
    fetched = await client.get(link[1 : link.index(">")])
    assert fetched.status_code == 200, fetched.text
    assert fetched.headers["content-type"].startswith("text/plain")
    manifest = verify_manifest(fetched.text, app.state.signer.verifier_key)
    assert (manifest.format, manifest.records, manifest.tree_size) == ("csv", 4, tree_size)
    assert manifest.filters == {"application_key": "shop"}
    assert manifest.data_sha256 == hashlib.sha256(response.content).hexdigest()

    [recorded] = [r for r in await export_records(client) if r["entity_id"] == job["id"]]
    assert recorded["actor"] == "api_key:bootstrap"
    assert recorded["ip_address"] == "203.0.113.7"
    assert recorded["params"]["job_id"] == job["id"]
    assert recorded["params"]["records"] == 4
    assert recorded["params"]["data_sha256"] == manifest.data_sha256
    assert exported_files(settings) == {f"{job['id']}.csv", f"{job['id']}.manifest.txt"}


async def test_an_ndjson_job_is_parsed_again_as_the_request_was(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await shop(client)
    await post_record(client, summary="Order in the EU", metadata={"region": "eu"})
    await checkpoint_now(app)
    # Every kind of parameter: a list, JSON, a time, a flag, and a scalar given twice (the
    # last one counts, as in the request).
    params = [
        ("date_from", "2000-01-01T00:00:00+02:00"),
        ("param_filters", '[{"key": "amount", "operator": "gte", "value": 10}]'),
        ("severities", "low"),
        ("severities", "high,critical,medium"),
        ("sort_by", "severity"),
        ("registered_params_only", "true"),
        ("search", "order"),
    ]
    created = await start_job(client, params)
    assert created["estimated_total"] == 3
    job = await finished(client, created["id"])
    assert (job["status"], job["records_written"]) == ("done", 3)
    content = (await download(client, job["id"])).content
    in_job = read_ndjson(app, content)
    direct = read_ndjson(
        app, (await client.get(EXPORT, params=[*params, ("tree_size", job["tree_size"])])).content
    )
    assert in_job.lines == direct.lines
    assert [r["summary"] for r in in_job.records] == ["Order 2", "Order 1", "Order 3"]
    assert in_job.manifest.filters == direct.manifest.filters == job["filters"]
    assert job["filters"]["severities"] == "high,critical,medium"  # as applied: the last
    # The manifest beside is the file's own last line's.
    manifest = (await client.get(f"{EXPORTS}/{job['id']}/manifest")).text
    assert orjson.loads(content.splitlines()[-1])["manifest"] == manifest

    metadata = await start_job(client, [("metadata", "region:eu")])
    done = await finished(client, metadata["id"])
    records = read_ndjson(app, (await download(client, done["id"])).content).records
    assert [r["summary"] for r in records] == ["Order in the EU"]


async def test_a_pack_job_downloads_a_zip_that_verifies(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await shop(client)
    await checkpoint_now(app)
    job = await finished(client, (await start_job(client, {"format": "pack"}))["id"])
    assert job["status"] == "done", job
    response = await download(client, job["id"])
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].endswith('.zip"')
    report = verify_pack(io.BytesIO(response.content), app.state.signer.verifier_key)
    assert report.ok, report.problems
    assert report.records == job["records_written"] == job["estimated_total"] == job["tree_size"]
    assert report.manifest is not None and report.manifest.range == (0, job["tree_size"])


async def test_progress_shows_while_it_runs_and_the_file_is_409_until_done(
    app: FastAPI, client: httpx.AsyncClient, gate: asyncio.Event
) -> None:
    for number in range(7):
        await post_record(client, summary=f"n{number}")
    await checkpoint_now(app)
    created = await start_job(client, {"event_types": "test.event", "format": "csv"})
    assert created["estimated_total"] == 7
    running = await until(client, created["id"], lambda job: job["records_written"] == 2)
    assert running["status"] == "running"
    assert running["started_at"] is not None
    for path in ("download", "manifest"):
        response = await client.get(f"{EXPORTS}/{created['id']}/{path}")
        assert response.status_code == 409, response.text
        assert response.headers["retry-after"] == "2"
        assert response.json() == {
            "error": {
                "code": "EXPORT_NOT_READY",
                "message": f"Export job {created['id']} is running; its file is not ready yet.",
            }
        }
    gate.set()
    job = await finished(client, created["id"])
    assert (job["status"], job["records_written"]) == ("done", 7)


async def test_a_queued_job_waits_for_a_runner(app: FastAPI, client: httpx.AsyncClient) -> None:
    await checkpoint_now(app)
    runner = app.state.export_runner
    await runner.stop()
    created = await start_job(client)
    await asyncio.sleep(0.1)
    assert (await job_of(client, created["id"]))["status"] == "queued"
    response = await client.get(f"{EXPORTS}/{created['id']}/download")
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "EXPORT_NOT_READY"
    runner.start()
    assert (await finished(client, created["id"]))["status"] == "done"


async def test_a_job_its_process_stopped_is_finished_by_the_next(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, gate: asyncio.Event
) -> None:
    for number in range(5):
        await post_record(client, summary=f"n{number}")
    await checkpoint_now(app)
    created = await start_job(client, {"event_types": "test.event"})
    await until(client, created["id"], lambda job: job["records_written"] == 2)
    await app.state.export_runner.stop()  # as the app does when it shuts down
    stopped = await job_of(client, created["id"])
    assert (stopped["status"], stopped["records_written"], stopped["started_at"]) == (
        "queued",
        0,
        None,
    )
    assert exported_files(settings) == set()  # its partial file removed
    gate.set()
    next_process = create_app(settings)
    async with (
        next_process.router.lifespan_context(next_process),
        make_client(next_process, {"Authorization": f"Bearer {ADMIN_KEY}"}) as other,
    ):
        job = await finished(other, created["id"])
        assert (job["status"], job["records_written"]) == ("done", 5)
        content = (await download(other, job["id"])).content
    direct = await export(client, event_types="test.event", tree_size=job["tree_size"])
    assert read_ndjson(app, content).lines == read_ndjson(app, direct.content).lines
    assert len([r for r in await export_records(client) if r["entity_id"] == job["id"]]) == 1


async def test_two_processes_never_run_one_job(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "MAX_UNFINISHED", 6)
    await checkpoint_now(app)
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        runners = [app.state.export_runner, other.state.export_runner]
        for runner in runners:
            await runner.stop()
        created = [await start_job(client) for _ in range(6)]
        for runner in runners:
            runner.start()  # both at once, after the same queue
        done = [await finished(client, job["id"]) for job in created]
    assert {job["status"] for job in done} == {"done"}
    recorded = [r["entity_id"] for r in await export_records(client)]
    assert sorted(recorded) == sorted(job["id"] for job in created)


async def test_a_job_whose_process_died_is_queued_again_and_run(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await post_record(client)
    await checkpoint_now(app)
    runner = app.state.export_runner
    await runner.stop()
    created = await start_job(client)
    # As a process leaves it when it dies: running, under its claim, silent since.
    async with app.state.database.write_session() as session:
        await session.execute(
            update(ExportJob)
            .where(ExportJob.id == created["id"])
            .values(
                status="running",
                runner="dead",
                records_written=1,
                heartbeat_at=clock.now() - timedelta(seconds=job_runner.LEASE_SECONDS - 5),
            )
        )
    settings.export_directory.mkdir(exist_ok=True)
    partial = settings.export_directory / f".{created['id']}.dead.part"
    partial.write_bytes(b"half a file")
    await runner.sweep()  # not silent long enough yet
    assert (await job_of(client, created["id"]))["status"] == "running"
    async with app.state.database.write_session() as session:
        await session.execute(
            update(ExportJob)
            .where(ExportJob.id == created["id"])
            .values(heartbeat_at=clock.now() - timedelta(seconds=job_runner.LEASE_SECONDS + 1))
        )
    runner.start()  # its first sweep is at its start
    job = await finished(client, created["id"])
    assert (job["status"], job["records_written"]) == ("done", job["estimated_total"])
    assert not partial.exists()
    direct = await export(client, tree_size=job["tree_size"])
    content = (await download(client, job["id"])).content
    assert read_ndjson(app, content).lines == read_ndjson(app, direct.content).lines


async def test_an_expired_jobs_file_is_gone(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    moved_clock: MovableClock,  # noqa: F811
) -> None:
    await checkpoint_now(app)
    job = await finished(client, (await start_job(client, {"format": "csv"}))["id"])
    assert len(exported_files(settings)) == 2
    moved_clock.advance(settings.export_retention_seconds - 10)
    await download(client, job["id"])
    moved_clock.advance(11)
    # Expired to the second, before the sweep removes the files.
    assert (await job_of(client, job["id"]))["status"] == "expired"
    gone = {
        "error": {
            "code": "EXPORT_EXPIRED",
            "message": f"Export job {job['id']} expired: its file was removed. Start the "
            "export again.",
        }
    }
    for path in ("download", "manifest"):
        response = await client.get(f"{EXPORTS}/{job['id']}/{path}")
        assert response.status_code == 410, response.text
        assert response.json() == gone
    await app.state.export_runner.sweep()
    assert exported_files(settings) == set()
    async with app.state.database.read_session() as session:
        assert (await session.get(ExportJob, job["id"])).status == "expired"  # type: ignore[union-attr]


async def test_a_job_is_seen_by_its_maker_and_admins_only(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await checkpoint_now(app)
    async with (
        await key_client(app, client, "alice", ["export"]) as alice,
        await key_client(app, client, "bob", ["export"]) as bob,
    ):
        job = await finished(alice, (await start_job(alice))["id"])
        assert job["owner"] == "api_key:alice"
        for path in ("", "/download", "/manifest"):
            response = await bob.get(f"{EXPORTS}/{job['id']}{path}")
            assert response.status_code == 404, response.text
            assert response.json() == not_found(job["id"])
            assert (await client.get(f"{EXPORTS}/{job['id']}{path}")).status_code == 200
        bobs = await bob.get(EXPORTS)
        assert bobs.json() == {
            "exports": [],
            "total": 0,
            "page": 1,
            "page_size": 50,
            "total_pages": 0,
        }
        assert [j["id"] for j in (await alice.get(EXPORTS)).json()["exports"]] == [job["id"]]
        mine = await start_job(client)
        everyone = (await client.get(EXPORTS, params={"page_size": 1})).json()
        assert (everyone["total"], everyone["total_pages"]) == (2, 2)
        assert [j["id"] for j in everyone["exports"]] == [mine["id"]]  # newest first
    response = await client.get(f"{EXPORTS}/no-such-job")
    assert response.status_code == 404
    assert response.json() == not_found("no-such-job")


async def test_a_bound_keys_job_covers_its_applications_only(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await shop(client)
    await create_application(client, "other")
    await post_record(client, application_key="other", summary="not yours")
    shop_id = (await client.get("/api/audit-trail/applications/shop")).json()["id"]
    await checkpoint_now(app)
    async with await key_client(app, client, "bound", ["export"], [shop_id]) as bound:
        created = await start_job(bound)
        assert created["estimated_total"] == 4
        job = await finished(bound, created["id"])
        exported = read_ndjson(app, (await download(bound, job["id"])).content)
        direct = read_ndjson(app, (await export(bound, tree_size=job["tree_size"])).content)
    assert exported.lines == direct.lines
    assert {r["application_key"] for r in exported.records} == {"shop"}
    assert {r["params"]["card"] for r in exported.records} == {"[masked]"}
    assert exported.manifest.range is None


async def test_a_job_that_cannot_be_written_fails_with_its_reason(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await shop(client)
    await checkpoint_now(app)
    async with await key_client(app, client, "auditor", ["export"]) as auditor:
        job = await finished(auditor, (await start_job(auditor, {"format": "pack"}))["id"])
        assert job["status"] == "failed"
        assert job["error"].startswith("An evidence pack holds records' exact bytes")
        assert job["finished_at"] is not None
        response = await auditor.get(f"{EXPORTS}/{job['id']}/download")
        assert response.status_code == 409, response.text
        assert response.json() == {
            "error": {
                "code": "EXPORT_FAILED",
                "message": f"Export job {job['id']} failed: {job['error']}",
            }
        }
    assert exported_files(settings) == set()
    assert await export_records(client) == []


@pytest.mark.parametrize(
    ("params", "status", "body"),
    [
        *REFUSED,
        (
            {"format": "xml"},
            422,
            {
                "error": {
                    "code": "VALIDATION_ERROR",
                    "message": "Invalid request: query.format.",
                    "details": [
                        {
                            "field": "query.format",
                            "code": "ENUM",
                            "message": "Input should be 'ndjson', 'csv' or 'pack'",
                        }
                    ],
                }
            },
        ),
    ],
)
async def test_bad_inputs_are_refused_and_store_nothing(
    app: FastAPI, client: httpx.AsyncClient, params: dict[str, str], status: int, body: Any
) -> None:
    await checkpoint_now(app)
    response = await client.post(EXPORTS, params=params)
    assert response.status_code == status, response.text
    assert response.json() == body
    assert (await client.get(EXPORTS)).json()["total"] == 0


async def test_a_sensitive_filter_is_refused_to_a_non_admin_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await shop(client)
    await checkpoint_now(app)
    async with await key_client(app, client, "auditor", ["export"]) as auditor:
        response = await auditor.post(
            EXPORTS, params={"param_filters": '[{"key": "card", "operator": "exists"}]'}
        )
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "SENSITIVE_PARAM"
    assert (await client.get(EXPORTS)).json()["total"] == 0


def test_a_job_stores_every_parameter_its_export_reads() -> None:
    """A parameter the export routes come to read that a job would not store (and so not read
    again when it runs) fails here. tree_size is the job's own column."""
    document = create_app(Settings(database_url="sqlite://")).openapi()
    operation = document["paths"][EXPORTS]["post"]
    read = {param["name"] for param in operation["parameters"] if param["in"] == "query"}
    every = Request({"type": "http", "query_string": urlencode([(n, "x") for n in read]).encode()})
    assert set(parameters.given(every)) == read - {"tree_size"}


async def test_one_owner_has_at_most_four_jobs_waiting(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await app.state.export_runner.stop()
    for _ in range(jobs.MAX_UNFINISHED):
        await start_job(client)
    response = await client.post(EXPORTS)
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == str(jobs.RETRY_AFTER_SECONDS)
    assert response.json() == {
        "error": {
            "code": "EXPORT_JOBS_BUSY",
            "message": "4 of your export jobs are queued or running: wait for one to finish.",
        }
    }
    listed = (await client.get(EXPORTS)).json()
    assert listed["total"] == jobs.MAX_UNFINISHED  # the refused one is not stored
    app.state.export_runner.start()
    for job in listed["exports"]:
        await finished(client, job["id"])
    assert (await client.post(EXPORTS)).status_code == 202


async def test_a_job_is_no_longer_its_makers_once_they_may_not_see_what_it_holds(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    email, password = "ops@jobs.example.com", "jobs-Passphrase-4711-unguessable"
    response = await client.post(
        "/api/users", json={"email": email, "password": password, "roles": ["admin"]}
    )
    assert response.status_code == 201, response.text
    user_id = response.json()["id"]

    async def signed_in() -> httpx.AsyncClient:
        async with make_client(app) as anonymous:
            login = await anonymous.post(
                "/api/auth/login", json={"email": email, "password": password}
            )
        assert login.status_code == 200, login.text
        return make_client(app, {"Authorization": f"Bearer {login.json()['access_token']}"})

    await checkpoint_now(app)
    async with await signed_in() as admin:
        made = await finished(admin, (await start_job(admin))["id"])
        assert (await admin.get(f"{EXPORTS}/{made['id']}/download")).status_code == 200
    # Made by an admin, it holds sensitive values unmasked: an auditor may not take it.
    response = await client.patch(f"/api/users/{user_id}", json={"roles": ["auditor"]})
    assert response.status_code == 200, response.text
    async with await signed_in() as auditor:
        for path in ("", "/download", "/manifest"):
            response = await auditor.get(f"{EXPORTS}/{made['id']}{path}")
            assert response.status_code == 404, response.text
            assert response.json() == not_found(made["id"])

"""Export, import into a fresh database, export again: the same records, but for what each log
gives them (id, seq, created_at, its application's id), what the credential gives them (actor
and IP address: the importer's, the file's in metadata.original_*), their source ("import")
and what the import adds to metadata."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audittrail.app import create_app
from audittrail.db import migrate
from audittrail.log import checkpointer
from tests.conftest import (
    ADMIN_KEY,
    CLIENT_ADDRESS,
    app_settings,
    make_client,
    new_postgres_database,
)
from tests.helpers import create_application
from tests.imports.support import CSV, NDJSON, post_import

EXPORT = "/api/audit-trail/export"
PARAMS = [
    {"key": "amount", "type": "number"},
    {"key": "currency", "type": "string"},
    {"key": "card", "type": "string", "sensitive": True},
]
# What each log gives a record, and so differs between the two exports.
GIVEN = ("id", "seq", "created_at", "application_id")
# What the credential gives, the import's: kept in metadata as original_<name>.
CREDENTIAL = ("actor", "ip_address")
ADDED = (
    "original_id",
    "original_created_at",
    "original_actor",
    "original_ip_address",
    "imported_by",
)
# The first database's records are a writer's; the importer is its admin, from elsewhere.
WRITER = "api_key:ledger"
IMPORTER_ADDRESS = "192.0.2.9"


def the_records() -> list[dict[str, Any]]:
    base = {"event_type": "invoice.paid", "category": "trip"}
    return [
        {**base, "summary": "Plain", "metadata": {"request_id": "req_1"}},
        {
            **base,
            "summary": '=HYPERLINK("http://x"), with a comma',
            "application_key": "billing",
            "params": {"amount": -12.5, "currency": "EUR", "card": "4111"},
            "severity": "high",
            "entity_type": "invoice",
            "entity_id": "-42",
        },
        {**base, "summary": "Line\r\nbreak 'quoted' \"twice\"", "metadata": {"n": [1, None]}},
        {**base, "summary": "Ünïcödé ✓", "entity_id": "@x", "application_key": "billing"},
    ]


@pytest.fixture
def fresh_url(database_url: str, sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """A second database of the same kind, migrated and empty."""
    if database_url.startswith("sqlite"):
        path = tmp_path / "fresh.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    with new_postgres_database() as url:
        assert url is not None
        migrate.upgrade(url)
        yield url


@asynccontextmanager
async def admin_of(
    database_url: str, directory: Path
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app over the database, with billing registered, and its bootstrap admin's client."""
    app = create_app(app_settings(database_url, directory))
    async with (
        app.router.lifespan_context(app),
        make_client(app, {"Authorization": f"Bearer {ADMIN_KEY}"}) as client,
    ):
        await create_application(client, "billing", params=PARAMS)
        yield app, client


async def export(app: FastAPI, client: httpx.AsyncClient, **params: Any) -> bytes:
    """The records of the_records(), oldest first, once a checkpoint covers them."""
    await checkpointer.checkpoint_head(app.state.database, app.state.signer)
    response = await client.get(EXPORT, params={"categories": "trip", "sort_dir": "asc", **params})
    assert response.status_code == 200, response.text
    return response.content


def ndjson_records(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.splitlines()[:-1]]  # the manifest line aside


def csv_records(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def same_but_given(first: dict[str, Any], second: dict[str, Any], metadata: Any) -> None:
    """The second export's record is the first's, but for what its log and its importer's
    credential gave it; the first's in its metadata."""
    assert metadata["original_id"] == first["id"]
    assert metadata["original_created_at"] == first["created_at"]
    assert (metadata["original_actor"], first["actor"]) == (WRITER, WRITER)
    assert (metadata["original_ip_address"], first["ip_address"]) == (CLIENT_ADDRESS[0],) * 2
    assert metadata["imported_by"] == "api_key:bootstrap"
    assert (second["actor"], second["ip_address"]) == ("api_key:bootstrap", IMPORTER_ADDRESS)
    assert (first["source"], second["source"]) == ("manual", "import")
    differing = {name for name in first if first[name] != second[name]}
    assert {*CREDENTIAL, "source", "metadata"} <= differing, differing
    assert differing <= {*GIVEN, *CREDENTIAL, "source", "metadata"}, differing


@pytest.mark.parametrize("format", ["ndjson", "csv"])
async def test_export_import_export_gives_the_same_records(
    database_url: str, fresh_url: str, tmp_path: Path, format: str
) -> None:
    async with admin_of(database_url, tmp_path / "first") as (app, first):
        created = await first.post("/api/api-keys", json={"name": "ledger", "roles": ["writer"]})
        writer = {"Authorization": f"Bearer {created.json()['key']}"}
        async with make_client(app, writer) as ledger:
            response = await ledger.post("/api/audit-trail/records/batch", json=the_records())
        assert response.status_code == 201, response.text
        exported = await export(app, first, format=format)

    async with admin_of(fresh_url, tmp_path / "fresh") as (app, fresh):
        elsewhere = httpx.ASGITransport(app=app, client=(IMPORTER_ADDRESS, 50000))
        async with httpx.AsyncClient(
            transport=elsewhere, base_url="http://testserver", headers=fresh.headers
        ) as importer:
            response = await post_import(importer, exported, NDJSON if format == "ndjson" else CSV)
        assert response.status_code == 201, response.text
        assert response.json()["stored"] == 4
        again = await export(app, fresh, format=format)

    if format == "ndjson":
        before, after = ndjson_records(exported), ndjson_records(again)
        assert len(before) == len(after) == 4
        for one, two in zip(before, after, strict=True):
            same_but_given(one, two, two["metadata"])
            kept = {k: v for k, v in two["metadata"].items() if k not in ADDED}
            assert kept == one["metadata"]
    else:
        rows, rows_again = csv_records(exported), csv_records(again)
        assert len(rows) == len(rows_again) == 4
        for one, two in zip(rows, rows_again, strict=True):
            metadata = json.loads(two["metadata"])
            same_but_given(one, two, metadata)
            kept = {k: v for k, v in metadata.items() if k not in ADDED}
            assert kept == json.loads(one["metadata"])

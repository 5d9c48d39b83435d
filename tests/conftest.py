"""Every database test runs twice: on SQLite (a copy of a migrated file) and on PostgreSQL.

PostgreSQL gets one fresh database per test session, created and dropped here, emptied
between tests. Where it is unreachable the PostgreSQL half is skipped, loudly, unless
AUDITTRAIL_TEST_REQUIRE_POSTGRES=1 (as in CI), where it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from audittrail.app import create_app
from audittrail.config import Settings
from audittrail.db import migrate
from audittrail.db.models import Base
from audittrail.integrity.hashing import EMPTY_ROOT

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"
ADMIN_KEY = "atk_test_" + "k" * 40
CLIENT_ADDRESS = ("203.0.113.7", 40123)
POSTGRES_URL = os.environ.get(
    "AUDITTRAIL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("AUDITTRAIL_TEST_REQUIRE_POSTGRES") == "1"


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "audittrail.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@contextlib.contextmanager
def new_postgres_database() -> Iterator[str | None]:
    """An empty database of its own on the test PostgreSQL, dropped after; None where that is
    unreachable (and allowed to be)."""
    admin_dsn = _asyncpg_dsn(POSTGRES_URL)
    name = f"audittrail_test_{uuid.uuid4().hex[:12]}"

    async def execute(sql: str) -> None:
        connection = await asyncpg.connect(admin_dsn, timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    try:
        asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as error:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but unreachable at {POSTGRES_URL}: {error}")
        yield None
        return
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(execute(f'DROP DATABASE "{name}" WITH (FORCE)'))


def skip_without_postgres() -> None:
    pytest.skip(
        f"POSTGRESQL UNREACHABLE at {POSTGRES_URL}: the PostgreSQL half of this test did not run"
    )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    with new_postgres_database() as url:
        if url is not None:
            migrate.upgrade(url)
        yield url


async def _empty_postgres(url: str) -> None:
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        # Replica mode skips the append-only triggers: only a superuser's test harness may.
        await connection.execute("SET session_replication_role = replica")
        await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        await connection.execute(
            "INSERT INTO log_head (id, size, root_hash) VALUES (1, 0, $1)", EMPTY_ROOT
        )
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "audittrail.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str | None = request.getfixturevalue("postgres_url")
    if url is None:
        skip_without_postgres()
    asyncio.run(_empty_postgres(url))
    return url


def app_settings(database_url: str, directory: Path, **overrides: Any) -> Settings:
    """The settings of a test's app: the bootstrap admin and key above, files in directory."""
    return Settings(
        database_url=database_url,
        auto_migrate=False,
        bootstrap_admin_email=ADMIN_EMAIL,
        bootstrap_admin_password=ADMIN_PASSWORD,
        bootstrap_api_key=ADMIN_KEY,
        secret_key="test-secret-" + "s" * 40,
        secret_key_file=directory / "secret",
        log_key_file=directory / "log.key",
        export_directory=directory / "exports",
        tune_gc=False,
        **overrides,
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return app_settings(database_url, tmp_path)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def make_client(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=CLIENT_ADDRESS)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Authenticated as the bootstrap admin's API key."""
    async with make_client(app, {"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        yield client


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app) as client:
        yield client

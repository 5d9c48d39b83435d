"""The dashboard: in a real browser over the seeded records, and (the red state, which needs a
database changed behind the log's back) over an app of its own."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from audittrail.config import Settings
from audittrail.db import migrate
from tests.conftest import (
    app_settings,
    make_client,
    new_postgres_database,
    skip_without_postgres,
)
from tests.helpers import create_application, post_record
from tests.log.support import checkpoint_now, hourly_checkpoints, post_records, running, tamper
from tests.web.support import (
    PEOPLE_PASSWORD,
    Site,
    check_accessible,
    check_accessible_narrow,
    covered_by_checkpoint,
    screenshots,
    sign_in,
)

API_KEYS = "/api/api-keys"


def test_dashboard_shows_counts_the_checkpoint_and_the_verified_records(
    admin: Page, site: Site
) -> None:
    size = covered_by_checkpoint(site)
    admin.goto("/")
    expect(admin.locator("[data-verification=verified]")).to_have_text(
        re.compile(r"20 of 20 newest records verified against the checkpoint of size [\d,]+\.")
    )
    assert int(admin.locator("[data-tree-size]").inner_text().replace(",", "")) >= size
    expect(admin.get_by_text("Root hash")).to_be_visible()
    expect(admin.get_by_text("await the next checkpoint")).to_have_count(0)
    days = admin.get_by_role("group", name="Records per day over the last 30 days")
    expect(days.locator("a").last).to_have_attribute("href", re.compile(r"^/records\?date_from="))
    severities = admin.get_by_role("table", name="Records per severity, last 30 days")
    expect(severities.locator("tbody tr")).to_have_count(5)
    applications = admin.get_by_role("table", name="Records per application, last 30 days")
    expect(applications.get_by_role("link", name="billing")).to_have_attribute(
        "href", re.compile(f"application_id={site.applications['billing']['id']}")
    )
    check_accessible(admin)
    screenshots(admin, site, "dashboard")
    check_accessible_narrow(admin)


def test_a_severity_opens_its_records(admin: Page) -> None:
    admin.goto("/")
    severities = admin.get_by_role("table", name="Records per severity, last 30 days")
    severities.get_by_role("link", name="high").click()
    expect(admin).to_have_url(re.compile(r"/records\?date_from=.*&severities=high"))
    shown = admin.locator("table.records tbody tr td:nth-child(2)")
    expect(shown.first).to_have_text("high")
    assert set(shown.all_inner_texts()) == {"high"}


def test_a_writer_is_welcomed(context: BrowserContext, site: Site) -> None:
    email = f"writer-{uuid.uuid4().hex[:8]}@example.com"
    with site.api() as api:
        body = {"email": email, "password": PEOPLE_PASSWORD, "roles": ["writer"]}
        assert api.post("/api/users", json=body).status_code == 201
    sign_in(context, site, email, PEOPLE_PASSWORD)
    page = context.new_page()
    page.goto("/")
    expect(page.get_by_text(f"Welcome, {email}.")).to_be_visible()
    expect(page.locator("svg.chart, [data-verification]")).to_have_count(0)
    check_accessible(page)


# Over an app and a database of their own, with checkpoints only where the test signs them.


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


def apart(
    scenario: Callable[[Settings], Coroutine[Any, Any, None]], database: str, directory: Path
) -> None:
    """Run the scenario over a new database in a thread of its own: Playwright's sync API keeps
    an event loop running on the main thread once a browser test has started, and asyncio.run
    fails there."""

    def run() -> None:
        with new_database(database, directory) as url:
            settings = hourly_checkpoints(app_settings(url, directory))
            asyncio.run(scenario(settings))

    with ThreadPoolExecutor(1) as pool:
        pool.submit(run).result()


@contextlib.contextmanager
def new_database(database: str, directory: Path) -> Iterator[str]:
    if database == "sqlite":
        url = f"sqlite:///{directory / 'audittrail.db'}"
        migrate.upgrade(url)
        yield url
        return
    with new_postgres_database() as found:
        if found is None:
            skip_without_postgres()
        assert found is not None
        migrate.upgrade(found)
        yield found


def test_newer_records_await_the_next_checkpoint(database: str, tmp_path: Path) -> None:
    async def scenario(settings: Settings) -> None:
        async with running(settings) as (app, client):
            await post_records(client, 3)
            await checkpoint_now(app)
            await post_record(client, summary="after the checkpoint")
            page = await dashboard(client)
        assert 'data-verification="verified"' in page
        assert "1 newer record awaits the next checkpoint." in page

    apart(scenario, database, tmp_path)


def test_a_changed_record_turns_the_verification_red(database: str, tmp_path: Path) -> None:
    async def scenario(settings: Settings) -> None:
        async with running(settings) as (app, client):
            ids = await post_records(client, 3)
            await checkpoint_now(app)
        changed = "UPDATE records SET summary = 'rewritten' WHERE id = :id", {"id": ids[1]}
        await tamper(settings.database_url, changed)
        async with running(settings) as (app, client):
            page = await dashboard(client)
        assert 'data-verification="failed"' in page
        assert f'<a href="/records/{ids[1]}"><code>{ids[1]}</code></a>' in page
        assert "inclusion proof does not lead to the given root" in page

    apart(scenario, database, tmp_path)


def test_a_bound_key_sees_only_its_applications(database: str, tmp_path: Path) -> None:
    async def scenario(settings: Settings) -> None:
        async with running(settings) as (app, client):
            await create_application(client, "billing")
            await create_application(client, "shop")
            for key in ("billing", "shop", "billing"):
                await post_record(client, application_key=key)
            await checkpoint_now(app)
            body = {"name": "reader", "scopes": ["records:read", "stats:read"]}
            made = await client.post(API_KEYS, json={**body, "applications": ["billing"]})
            assert made.status_code == 201, made.text
            async with make_client(app, {"X-API-Key": made.json()["key"]}) as bound:
                page = await dashboard(bound)
        assert "2 of 2 newest records verified" in page
        assert "shop" not in page

    apart(scenario, database, tmp_path)


def test_a_principal_without_reading_scopes_is_welcomed(database: str, tmp_path: Path) -> None:
    async def scenario(settings: Settings) -> None:
        async with running(settings) as (app, client):
            made = await client.post(API_KEYS, json={"name": "writer", "scopes": ["records:write"]})
            assert made.status_code == 201, made.text
            async with make_client(app, {"X-API-Key": made.json()["key"]}) as writer:
                page = await dashboard(writer)
        assert "Welcome, writer." in page
        assert "data-verification" not in page

    apart(scenario, database, tmp_path)


async def dashboard(client: httpx.AsyncClient) -> str:
    response = await client.get("/")
    assert response.status_code == 200, response.text
    return response.text

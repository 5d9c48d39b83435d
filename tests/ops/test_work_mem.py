"""AUDITTRAIL_DATABASE_WORK_MEM: the service's work_mem on PostgreSQL (32MB by default), or, set
empty, the server's own; SQLite has none and starts with either."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from audittrail.config import Settings
from tests.conftest import app_settings
from tests.helpers import RECORDS
from tests.log.support import running


async def work_mem_of(settings: Settings) -> tuple[str, str] | None:
    """The app's connections' work_mem and who set it (pg_settings' source: "client" for the
    service's), None on SQLite; and that the app serves."""
    async with running(settings) as (app, client):
        assert (await client.get(RECORDS)).status_code == 200
        if settings.is_sqlite:
            return None
        async with app.state.database.read_session() as session:
            shown = await session.execute(
                text("SELECT setting, source FROM pg_settings WHERE name = 'work_mem'")
            )
            setting, source = shown.one()
            return setting, source


async def test_the_service_sets_its_work_mem_unless_set_empty(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured = app_settings(database_url, tmp_path)
    assert configured.database_work_mem == "32MB"
    monkeypatch.setenv("AUDITTRAIL_DATABASE_WORK_MEM", "")
    servers_own = app_settings(database_url, tmp_path)
    assert servers_own.database_work_mem is None
    if configured.is_sqlite:
        assert await work_mem_of(servers_own) is None
        return
    assert await work_mem_of(configured) == ("32768", "client")  # in kB
    own = await work_mem_of(servers_own)
    assert own is not None and own[1] != "client"

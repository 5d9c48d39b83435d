"""On PostgreSQL, at a size where the planner weighs its choices, no query shape of the record
list reads the records table from end to end: every filter, search and sort has an index.

The log is filled by `audittrail seed` (realistic data, then VACUUM ANALYZE, as after any load)
and each shape's values are picked from it by SQL. The statements the service sends are captured
and EXPLAINed with their parameters.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from typer.testing import CliRunner

from audittrail import cli
from audittrail.config import Settings
from tests.plans import plans

SEEDED = 60_000


@pytest.fixture
def seeded(database_url: str, settings: Settings) -> str:
    """The test's PostgreSQL database, seeded before the app starts (the seed wants an empty
    log, and the app's first start writes the bootstrap's records), its checkpoints signed with
    the app's key (a server refuses a log another key signed)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's planner only")
    result = CliRunner().invoke(
        cli.app,
        ["seed", "--records", str(SEEDED), "--seed", "3"],
        env={
            "AUDITTRAIL_DATABASE_URL": database_url,
            "AUDITTRAIL_LOG_KEY_FILE": str(settings.log_key_file),
        },
    )
    assert result.exit_code == 0, result.output
    return database_url


async def scalar(app: FastAPI, sql: str) -> Any:
    async with app.state.database.reader.connect() as connection:
        return (await connection.execute(text(sql))).scalar_one()


async def shapes(app: FastAPI) -> list[dict[str, Any]]:
    """The main shapes, with values the seeded log holds (the most common, or a rare one)."""

    async def most(column: str) -> Any:
        return await scalar(
            app, f"SELECT {column} FROM records GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )

    async def rarest(column: str) -> Any:
        return await scalar(
            app,
            f"SELECT {column} FROM records WHERE {column} IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*), 1 LIMIT 1",
        )

    event_type, category, actor, severity = [
        await most(column) for column in ("event_type", "category", "actor", "severity")
    ]
    entity_type, entity_id = await scalar(
        app,
        "SELECT ARRAY[entity_type, entity_id] FROM records WHERE entity_id IS NOT NULL "
        "GROUP BY entity_type, entity_id ORDER BY count(*) DESC LIMIT 1",
    )
    application_key = await most("application_key")
    middle = await scalar(app, f"SELECT created_at FROM records WHERE seq = {SEEDED // 2}")
    day = {"date_from": middle.isoformat(), "date_to": middle.replace(hour=23).isoformat()}
    words, its_event_type = await scalar(
        app, f"SELECT ARRAY[search_text, event_type] FROM records WHERE seq = {SEEDED // 3}"
    )
    common, *rest = words.split()
    invoice = await scalar(
        app,
        f"SELECT params->>'invoice_number' FROM records WHERE params ? 'invoice_number' "
        f"AND seq > {SEEDED // 2} ORDER BY seq LIMIT 1",
    )
    return [
        {"event_types": event_type},
        {"categories": category},
        {"actors": actor},
        {"actors": await rarest("actor")},
        {"severities": severity},
        {"entity_type": entity_type, "entity_id": entity_id},
        {"application_key": application_key},
        day,
        {"event_types": event_type, "severities": severity, **day},
        {"search": common},
        {"search": rest[-1]},
        {"search": f"{common[:3]}*"},
        {"search": f'"{" ".join(words.split()[:2])}"'},
        {"search": common, "event_types": its_event_type},
        {
            "application_key": "billing",
            "param_filters": json.dumps(
                [{"key": "invoice_number", "operator": "eq", "value": invoice}]
            ),
        },
        *(
            {"sort_by": sort_by, "sort_dir": sort_dir}
            for sort_by in ("created_at", "event_type", "category", "actor", "severity")
            for sort_dir in ("asc", "desc")
        ),
    ]


async def test_no_shape_reads_the_whole_records_table(
    seeded: str, client: httpx.AsyncClient, app: FastAPI
) -> None:
    assert await scalar(app, "SELECT count(*) FROM records") >= SEEDED
    for params in await shapes(app):
        for plan in await plans(client, app, params):
            assert "Seq Scan on records" not in plan, (params, plan)

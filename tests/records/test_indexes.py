"""On PostgreSQL, the record list's common filters and orders read an index, not the table.

The records table is filled with 60,000 rows, then each listing is requested through the API;
the SQL the service sends is captured and EXPLAINed with the same parameters.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import RECORDS, create_application
from tests.plans import plans

ROWS = 60_000

# Rows written straight into the table, as the sequencer would: seq continues the log without a
# gap and created_at never runs backwards along it. The Merkle tree is not extended for them,
# so nothing may be appended after them in the test.
FILL = text(
    """
    INSERT INTO records (id, seq, created_at, event_type, category, summary, severity, actor,
                         application_id, application_key, entity_type, entity_id, params,
                         metadata, ip_address, source)
    SELECT gen_random_uuid()::text,
           head.size + i,
           head.last_created_at + i * interval '1 millisecond',
           'event.' || (i % 200),
           'cat' || (i % 40),
           'bulk record ' || i,
           CASE WHEN i % 100 = 0 THEN 'critical' WHEN i % 10 = 0 THEN 'high' ELSE 'low' END,
           'user' || (i % 1000),
           CASE WHEN i % 50 = 0 THEN :application_id END,
           CASE WHEN i % 50 = 0 THEN 'billing' END,
           'type' || (i % 20),
           'E' || (i % 10000),
           '{}'::jsonb,
           '{}'::jsonb,
           NULL,
           'manual'
    FROM log_head AS head, generate_series(1, :rows) AS i
    WHERE head.id = 1
    """
)
MOVE_HEAD = text(
    "UPDATE log_head SET size = (SELECT count(*) FROM records), "
    "last_created_at = (SELECT max(created_at) FROM records) WHERE id = 1"
)


@pytest.fixture
def postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's planner only")


@pytest.fixture
async def filled(postgres_only: None, client: httpx.AsyncClient, app: FastAPI) -> datetime:
    """The created_at of the first filled row."""
    billing = await create_application(client, "billing")
    engine: AsyncEngine = app.state.database.writer
    async with engine.begin() as connection:
        await connection.execute(FILL, {"rows": ROWS, "application_id": billing["id"]})
        await connection.execute(MOVE_HEAD)
    autocommit = await engine.connect()
    try:
        await autocommit.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM (ANALYZE) records"))
    finally:
        await autocommit.close()
    first = (await client.get(RECORDS, params={"sort_dir": "asc", "page_size": 3})).json()
    assert first["total"] == ROWS + 3  # and the bootstrap and application records
    return datetime.fromisoformat(first["records"][2]["created_at"])


def window(start: datetime, seconds: int) -> dict[str, str]:
    return {
        "date_from": (start + timedelta(seconds=seconds)).isoformat(),
        "date_to": (start + timedelta(seconds=seconds + 2)).isoformat(),
    }


def cases(start: datetime, billing_id: str) -> list[dict[str, Any]]:
    return [
        {"actors": "user7"},
        {"actors": "user7,user8"},
        {"event_types": "event.7"},
        {"categories": "cat7"},
        {"severities": "critical"},
        {"entity_type": "type3", "entity_id": "E1003"},
        {"entity_id": "E1003"},
        {"application_id": billing_id},
        {"application_key": "billing"},
        window(start, 30),
        {**window(start, 30), "sort_dir": "asc"},
        {"actors": "user7", "event_types": "event.7"},
        {"actors": "user7", **window(start, 20)},
    ]


async def test_common_filters_and_orders_read_an_index(
    client: httpx.AsyncClient, app: FastAPI, filled: datetime
) -> None:
    billing_id = (await client.get("/api/audit-trail/applications/billing")).json()["id"]
    for params in cases(filled, billing_id):
        found = await plans(client, app, params)
        assert len(found) == 2, found  # the count and the page
        for plan in found:
            assert "Seq Scan on records" not in plan, (params, plan)
            assert " using ix_records_" in plan or " on ix_records_" in plan, (params, plan)
    # Unfiltered, the total is the log's size (its head): only the page reads records.
    cursor = (await client.get(RECORDS)).json()["next_cursor"]
    for params in ({}, {"sort_dir": "asc"}, {"cursor": cursor}, {"page": 3, "page_size": 200}):
        [page] = await plans(client, app, params)
        assert "Seq Scan on records" not in page, (params, page)
        assert "ix_records_created_at_seq" in page, (params, page)
    # Each sort reads the index of its key in order: no sort of the whole table, first page or
    # any later one (the cursor starts at an index entry).
    for sort_by, index in SORT_INDEXES.items():
        for sort_dir in ("asc", "desc"):
            params = {"sort_by": sort_by, "sort_dir": sort_dir}
            [first] = await plans(client, app, params)
            cursor = (await client.get(RECORDS, params=params)).json()["next_cursor"]
            [later] = await plans(client, app, {**params, "cursor": cursor})
            for plan in (first, later):
                assert f"using {index} on records" in plan, (params, plan)
                assert "Sort" not in plan.split("\n")[1], (params, plan)


SORT_INDEXES = {
    "event_type": "ix_records_event_type_created_at_seq",
    "category": "ix_records_category_created_at_seq",
    "actor": "ix_records_actor_created_at_seq",
    "severity": "ix_records_severity_rank_created_at_seq",
}

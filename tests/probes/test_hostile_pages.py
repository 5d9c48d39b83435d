"""Hostile query strings and cookies against every page of the viewer (web/): never a 5xx,
never an unescaped echo.

The fuzz run (tests/fuzz) covers the API through its OpenAPI document, where pages are not;
this is the same check for them, in-process, as the admin (who may open every page) and as a
reader, on both databases. Deterministic: the same cases every run.
"""

from __future__ import annotations

import random
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ADMIN_KEY, make_client

PAGES = (
    "/",
    "/records",
    "/records/rows",
    "/records/{record}",
    "/stats",
    "/analytics",
    "/applications",
    "/applications/new",
    "/applications/{application}",
    "/api-keys",
    "/users",
    "/login",
)
NAMES = (
    "search", "event_types", "categories", "actors", "severities", "entity_type", "entity_id",
    "date_from", "date_to", "application_id", "application_key", "param_filters", "metadata",
    "sort_by", "sort_dir", "cursor", "page", "page_size", "preset", "from_day", "to_day",
    "bucket", "tz", "application", "param", "next", "limit", "unknown",
)  # fmt: skip
SCRIPT = "<script>alert(1)</script>"
VALUES = (
    "", " ", "'", '"', SCRIPT, "\u202e", "9" * 30, "-1", "0", "1e309", "NaN", "[]", "{}",
    '[{"key": 1, "operator": "gte", "value": {}}]', "x" * 3000, "../../etc/passwd",
    "Europe/Nowhere", "2026-13-45", "2026-02-30T25:61:00Z", "🙂", "critical,,high", "a:b:c",
    "eyJ0eXAiOiJKV1Qi", "hour", "year", "%ff", "%00", "%E2%80%AE",
)  # fmt: skip
CASES = 25


def hostile_queries(seed: int) -> list[str]:
    """Query strings of one to four hostile parameters; raw percent escapes kept as they are."""
    chooser = random.Random(seed)
    queries = []
    for _ in range(CASES):
        parts = []
        for _ in range(chooser.randint(1, 4)):
            value = chooser.choice(VALUES)
            raw = value if value.startswith("%") else quote(value, safe="")
            parts.append(f"{chooser.choice(NAMES)}={raw}")
        queries.append("&".join(parts))
    return queries


async def _ids(client: httpx.AsyncClient) -> dict[str, str]:
    created = await client.post(
        "/api/audit-trail/applications",
        json={"key": "billing", "name": "Billing", "params": [{"key": "amount", "type": "number"}]},
    )
    assert created.status_code == 201, created.text
    record = await client.post(
        "/api/audit-trail/records",
        json={"event_type": "a.b", "summary": "s", "application_key": "billing"},
    )
    assert record.status_code == 201, record.text
    return {"record": record.json()["id"], "application": "billing"}


@pytest.mark.parametrize("path", PAGES)
async def test_no_hostile_query_breaks_a_page(app: FastAPI, path: str) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}", "Accept": "text/html"}
    async with make_client(app, headers) as client:
        target = path.format(**await _ids(client))
        for number, query in enumerate(hostile_queries(PAGES.index(path))):
            zone = VALUES[number % len(VALUES)].replace("%", "")
            client.cookies.set("tz", quote(zone, safe=""))
            response = await client.get(f"{target}?{query}")
            assert response.status_code < 500, f"{target}?{query}: {response.text[:300]}"
            assert SCRIPT not in response.text, f"{target}?{query} echoes markup"
            if response.status_code > 400:  # a 400 may be a guard's, outside the pages
                assert response.headers["content-type"].startswith("text/html"), query


@pytest.mark.parametrize("path", PAGES)
async def test_no_page_echoes_a_script_in_any_parameter(app: FastAPI, path: str) -> None:
    """The script payload in every parameter of every page, one at a time: the random draws
    above reach a given parameter with it only by chance."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}", "Accept": "text/html"}
    async with make_client(app, headers) as client:
        target = path.format(**await _ids(client))
        for name in NAMES:
            response = await client.get(f"{target}?{name}={quote(SCRIPT, safe='')}")
            assert response.status_code < 500, f"{target}?{name}: {response.text[:300]}"
            assert SCRIPT not in response.text, f"{target}?{name} echoes markup"

"""GET /api/audit-trail/stats from the outside: who may ask, what a bound key's answer covers,
and every bad input's exact answer (and that a refused request changes nothing)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.helpers import RECORDS, create_application, post_record, query_problem
from tests.search.support import key_client

STATS = "/api/audit-trail/stats"


async def log_size(client: httpx.AsyncClient) -> int:
    response = await client.get(RECORDS, params={"page_size": 1})
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


async def two_applications(client: httpx.AsyncClient) -> None:
    await create_application(
        client, "billing", params=[{"key": "card", "type": "string", "sensitive": True}]
    )
    await create_application(client, "shop")
    for _ in range(3):
        await post_record(client, application_key="billing", event_type="invoice.paid")
    for _ in range(2):
        await post_record(client, application_key="shop", event_type="order.placed")
    await post_record(client, event_type="loose.end")


async def test_a_bound_key_counts_its_applications_records_only(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await two_applications(client)
    billing = (await client.get("/api/audit-trail/applications/billing")).json()["id"]
    async with await key_client(app, client, "bound", ["stats:read"], [billing]) as bound:
        response = await bound.get(STATS)
        assert response.status_code == 200, response.text
        stats = response.json()
        assert stats["total"] == 3
        assert stats["top"]["applications"] == {
            "items": [{"value": "billing", "count": 3}],
            "other": 0,
        }
        assert stats["top"]["event_types"] == {
            "items": [{"value": "invoice.paid", "count": 3}],
            "other": 0,
        }
        # Naming another application or a search finds nothing of it either.
        for params in ({"application_key": "shop"}, {"search": "order"}):
            response = await bound.get(STATS, params=params)
            assert response.status_code == 200, response.text
            assert response.json()["total"] == 0
    everything = (await client.get(STATS)).json()
    assert everything["total"] == await log_size(client)
    assert everything["total"] > 6


async def test_an_empty_application_id_names_no_application(client: httpx.AsyncClient) -> None:
    """The rollups hold records without an application under "": a filter of "" still finds
    none of them, as the list does."""
    await two_applications(client)
    for params in ({"application_id": ""}, {"application_key": ""}):
        response = await client.get(STATS, params=params)
        assert response.status_code == 200, response.text
        stats = response.json()
        assert (stats["total"], stats["first_record_at"], stats["busiest_day"]) == (0, None, None)
        assert stats["total"] == (await client.get(RECORDS, params=params)).json()["total"]


async def test_stats_need_the_stats_scope(app: FastAPI, client: httpx.AsyncClient) -> None:
    async with await key_client(app, client, "lister", ["records:read"]) as lister:
        response = await lister.get(STATS)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    async with await key_client(app, client, "counter", ["stats:read"]) as counter:
        response = await counter.get(STATS)
    assert response.status_code == 200, response.text


BAD_INPUTS = [
    pytest.param(
        {"tz": "Mars/Olympus_Mons"},
        query_problem(
            "tz", "'Mars/Olympus_Mons' is not an IANA time zone name (as Europe/Berlin)."
        ),
        id="unknown zone",
    ),
    pytest.param(
        {"tz": "../../etc/passwd"},
        query_problem("tz", "'../../etc/passwd' is not an IANA time zone name (as Europe/Berlin)."),
        id="a path for a zone",
    ),
    pytest.param(
        {"tz": "+05:00"},
        query_problem("tz", "'+05:00' is not an IANA time zone name (as Europe/Berlin)."),
        id="an offset for a zone",
    ),
    pytest.param(
        {"bucket": "year"},
        {
            "error": {
                "code": "VALIDATION_ERROR",
                "message": "Invalid request: query.bucket.",
                "details": [
                    {
                        "field": "query.bucket",
                        "code": "ENUM",
                        "message": "Input should be 'hour', 'day', 'week' or 'month'",
                    }
                ],
            }
        },
        id="unknown bucket",
    ),
    pytest.param(
        {"bucket": "hour", "date_from": "2020-01-01T00:00:00Z", "date_to": "2026-01-01T00:00:00Z"},
        query_problem(
            "bucket",
            "the range spans more than 10,000 hour buckets: narrow date_from and date_to, or "
            "choose a longer bucket.",
        ),
        id="too many buckets",
    ),
    pytest.param(
        {"date_from": "1000-01-01T00:00:00Z", "date_to": "2026-01-01T00:00:00Z"},
        query_problem(
            "bucket",
            "the range spans more than 10,000 month buckets: narrow date_from and date_to, or "
            "choose a longer bucket.",
        ),
        id="a millennium by default",
    ),
    pytest.param(
        {"severities": "urgent"},
        query_problem("severities", "'urgent' is not one of critical, high, medium, low, none."),
        id="a filter's bad value, as the list answers it",
    ),
    pytest.param(
        {"search": '"unclosed'},
        {
            "error": {
                "code": "VALIDATION_ERROR",
                "message": 'Invalid query parameter search: a quote (") is not closed.',
                "details": [
                    {
                        "field": "query.search",
                        "code": "INVALID_SEARCH",
                        "message": 'has a quote (") that is not closed.',
                    }
                ],
            }
        },
        id="unclosed quote",
    ),
]


@pytest.mark.parametrize(("params", "body"), BAD_INPUTS)
async def test_bad_input_is_a_422_naming_it_and_changes_nothing(
    client: httpx.AsyncClient, params: dict[str, str], body: Any
) -> None:
    await post_record(client)
    before = await log_size(client)
    response = await client.get(STATS, params=params)
    assert (response.status_code, response.json()) == (422, body)
    if set(params) & {"severities", "search"}:  # the list's own filters are refused alike
        list_answer = await client.get(RECORDS, params=params)
        assert (list_answer.status_code, list_answer.json()) == (422, body)
    assert await log_size(client) == before


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
async def test_limit_is_1_to_100(client: httpx.AsyncClient, limit: str) -> None:
    response = await client.get(STATS, params={"limit": limit})
    assert response.status_code == 422
    [detail] = response.json()["error"]["details"]
    assert detail["field"] == "query.limit"


async def test_a_sensitive_param_filter_is_refused_to_readers(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await two_applications(client)
    params = {
        "application_key": "billing",
        "param_filters": '[{"key": "card", "operator": "eq", "value": "4242"}]',
    }
    async with await key_client(app, client, "reader", ["stats:read"]) as reader:
        response = await reader.get(STATS, params=params)
    assert (response.status_code, response.json()) == (
        403,
        {
            "error": {
                "code": "SENSITIVE_PARAM",
                "message": "Only an admin may filter by a sensitive param: card.",
            }
        },
    )
    response = await client.get(STATS, params=params)
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 0


async def test_hostile_input_never_gives_a_500(client: httpx.AsyncClient) -> None:
    await post_record(client)
    for params in (
        {"tz": "\u0000"},
        {"tz": "x" * 65},
        {"tz": "UTC", "date_from": "0001-01-01T00:00:00Z", "date_to": "0001-01-02T00:00:00Z"},
        {"date_from": "9999-12-31T00:00:00Z", "date_to": "9999-12-31T23:59:59.999999Z"},
        {"date_from": "9999-12-31T23:59:59.5Z"},
        {"date_to": "0001-01-01T00:00:00Z", "tz": "Pacific/Kiritimati"},
        {"date_from": "0001-01-01T00:30:00Z", "tz": "America/Adak", "bucket": "month"},
        {"date_from": "2030-01-01T00:00:00Z", "date_to": "2020-01-01T00:00:00Z"},
        {"tz": "Pacific/Kiritimati", "bucket": "month"},
        {"metadata": "a:\u0000"},
        {"param_filters": "[" * 5000},
    ):
        response = await client.get(STATS, params=params)
        assert response.status_code in (200, 400, 422), (params, response.text)
        assert "error" in response.json() or "total" in response.json()

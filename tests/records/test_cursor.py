"""Keyset paging of GET /api/audit-trail/records: `cursor` and `next_cursor`.

A walk with the cursor gives the same records in the same order as paging by number, and,
unlike paging by number, never skips or repeats a record while others are being appended.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audittrail.db.models import SEVERITY_RANKS
from audittrail.log import append as log_append
from audittrail.log.append import NewRecord
from audittrail.records.schemas import SEVERITY_RANK as SERVICE_SEVERITY_RANK
from tests.helpers import RECORDS, record_total

SEVERITIES = ["critical", "high", "medium", "low", "none"]
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(reversed(SEVERITIES))}
SORTS = ["created_at", "severity", "event_type", "actor", "category"]


def body_number(number: int) -> dict[str, Any]:
    """A record with many ties on every sort key."""
    return {
        "event_type": f"bulk.{number % 7}",
        "summary": f"record {number}",
        "category": f"cat{number % 3}",
        "severity": SEVERITIES[number % 5],
    }


async def post_many(
    client: httpx.AsyncClient, bodies: list[dict[str, Any]], chunk: int = 25
) -> list[dict[str, Any]]:
    """Post the records, `chunk` at a time concurrently; the created records, in any order."""
    created: list[dict[str, Any]] = []
    for start in range(0, len(bodies), chunk):
        responses = await asyncio.gather(
            *(client.post(RECORDS, json=body) for body in bodies[start : start + chunk])
        )
        for response in responses:
            assert response.status_code == 201, response.text
            created.append(response.json())
    return created


async def page_of(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(RECORDS, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def walk(client: httpx.AsyncClient, page_size: int, **params: Any) -> list[dict[str, Any]]:
    """Every record, following next_cursor from the first page to the last."""
    body = await page_of(client, page_size=page_size, **params)
    records = list(body["records"])
    while body["next_cursor"] is not None:
        assert len(body["records"]) == page_size
        body = await page_of(client, page_size=page_size, cursor=body["next_cursor"], **params)
        assert body["records"], "a cursor was issued for an empty page"
        records += body["records"]
    return records


async def by_number(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every record, paging by number."""
    records: list[dict[str, Any]] = []
    page = 1
    while True:
        body = await page_of(client, page=page, page_size=200, **params)
        records += body["records"]
        if page >= body["total_pages"]:
            return records
        page += 1


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["id"] for record in records]


def sort_value(record: dict[str, Any], sort_by: str) -> Any:
    if sort_by == "severity":
        return SEVERITY_RANK[record["severity"]]
    if sort_by == "created_at":
        return datetime.fromisoformat(record["created_at"])
    return record[sort_by] or ""


def orders() -> Iterator[tuple[str, str]]:
    for sort_by in SORTS:
        for sort_dir in ("desc", "asc"):
            yield sort_by, sort_dir


async def test_walk_matches_paging_by_number_for_every_sort(client: httpx.AsyncClient) -> None:
    await post_many(client, [body_number(number) for number in range(40)])
    for sort_by, sort_dir in orders():
        expected = await by_number(client, sort_by=sort_by, sort_dir=sort_dir)
        assert len(expected) == 42  # and the 2 bootstrap records
        walked = await walk(client, 9, sort_by=sort_by, sort_dir=sort_dir)
        assert ids(walked) == ids(expected), (sort_by, sort_dir)


async def test_walk_with_filters_and_the_last_page(client: httpx.AsyncClient) -> None:
    await post_many(client, [body_number(number) for number in range(30)])
    filters = {"categories": "cat1,cat2", "severities": "critical,low,none", "sort_by": "severity"}
    expected = await by_number(client, **filters)
    assert len(expected) == 12
    first = await page_of(client, page_size=5, **filters)
    assert first["total"] == 12 and first["next_cursor"] is not None
    second = await page_of(client, page_size=5, cursor=first["next_cursor"], **filters)
    # The envelope's total counts every match, not the ones after the cursor.
    assert second["total"] == 12
    last = await page_of(client, page_size=5, cursor=second["next_cursor"], **filters)
    assert ids(first["records"] + second["records"] + last["records"]) == ids(expected)
    assert len(last["records"]) == 2 and last["next_cursor"] is None
    # A page that ends exactly at the last record has no next_cursor either.
    exact = await page_of(client, page_size=12, **filters)
    assert len(exact["records"]) == 12 and exact["next_cursor"] is None
    # page is ignored with a cursor.
    again = await page_of(client, page_size=5, page=7, cursor=first["next_cursor"], **filters)
    assert ids(again["records"]) == ids(second["records"])
    # A page numbered past the first still hands out a cursor to the one after it.
    middle = await page_of(client, page_size=4, page=2, **filters)
    after = await page_of(client, page_size=4, cursor=middle["next_cursor"], **filters)
    assert ids(after["records"]) == ids(expected[8:12])


async def test_no_next_cursor_when_everything_fits(client: httpx.AsyncClient) -> None:
    body = await page_of(client)
    assert body["total"] == 2 and body["next_cursor"] is None
    empty = await page_of(client, event_types="nothing")
    assert empty["records"] == [] and empty["next_cursor"] is None


WALKS = [("created_at", "desc"), ("created_at", "asc"), ("severity", "desc"), ("event_type", "asc")]


async def append_directly(app: FastAPI, count: int) -> None:
    """Many records fast: batches through the log's own append, as group commit writes them."""
    for start in range(0, count, 250):
        batch = [
            NewRecord(source="manual", actor="api_key:bootstrap", **body_number(number))
            for number in range(start, min(start + 250, count))
        ]
        async with app.state.database.write_session() as session:
            await log_append.append(session, batch)


async def test_walk_of_a_thousand_records_while_others_are_appended(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await append_directly(app, 1000)
    appended = 0

    async def append(count: int) -> None:
        nonlocal appended
        await post_many(client, [body_number(appended + n) for n in range(count)], chunk=count)
        appended += count

    for sort_by, sort_dir in WALKS:
        existing = set(ids(await by_number(client)))
        params = {"sort_by": sort_by, "sort_dir": sort_dir, "page_size": 97}
        body = await page_of(client, **params)
        walked = body["records"]
        while body["next_cursor"] is not None:
            # Appends between page fetches, and others running while the next page is read.
            await append(1)
            _, body = await asyncio.gather(
                append(2), page_of(client, cursor=body["next_cursor"], **params)
            )
            walked += body["records"]
        case = (sort_by, sort_dir)
        assert len(ids(walked)) == len(set(ids(walked))), f"{case}: a record came twice"
        assert existing <= set(ids(walked)), f"{case}: a record was skipped"
        values = [sort_value(record, sort_by) for record in walked]
        assert values == sorted(values, reverse=sort_dir == "desc"), case
        if sort_dir == "desc" and sort_by == "created_at":
            # Newer records sort before the cursor: a descending walk sees none of them.
            assert set(ids(walked)) == existing, case
    assert appended > 0


def token(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


NOT_ISSUED = "is not a cursor this service issued."
OTHER_SORT = "was issued for another sort_by or sort_dir."


def cursor_error(message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": f"Invalid query parameter cursor: {message}",
            "details": [{"field": "query.cursor", "code": "INVALID_CURSOR", "message": message}],
        }
    }


# (cursor, other query parameters, message)
BAD_CURSORS: list[tuple[str, dict[str, str], str]] = [
    ("garbage", {}, NOT_ISSUED),
    ("!!!!", {}, NOT_ISSUED),
    ("a", {}, NOT_ISSUED),
    (base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(), {}, NOT_ISSUED),
    (base64.urlsafe_b64encode(b"[" * 5000).decode(), {}, NOT_ISSUED),
    (token("created_at", "desc", "2024-01-01T00:00:00+00:00"), {}, NOT_ISSUED),
    (token("created_at", "desc", "2024-01-01T00:00:00+00:00", 1, 2), {}, NOT_ISSUED),
    (token("created", "desc", "2024-01-01T00:00:00+00:00", 1), {}, NOT_ISSUED),
    (token("created_at", "down", "2024-01-01T00:00:00+00:00", 1), {}, NOT_ISSUED),
    (token("created_at", "desc", "yesterday", 1), {}, NOT_ISSUED),
    (token("created_at", "desc", 1700000000, 1), {}, NOT_ISSUED),
    (token("created_at", "desc", "2024-01-01T00:00:00", 1), {}, NOT_ISSUED),  # no offset
    (token("created_at", "desc", "2024-01-01T00:00:00+00:00", "one"), {}, NOT_ISSUED),
    (token("created_at", "desc", "2024-01-01T00:00:00+00:00", -1), {}, NOT_ISSUED),
    (token("created_at", "desc", "2024-01-01T00:00:00+00:00", 2**63), {}, NOT_ISSUED),
    (token("created_at", "desc", "2024-01-01T00:00:00+00:00", 1.5), {}, NOT_ISSUED),
    (token("created_at", "desc", "2024-01-01T00:00:00+00:00", True), {}, NOT_ISSUED),
    (token("severity", "desc", "high", 1), {"sort_by": "severity"}, NOT_ISSUED),
    (token("severity", "desc", 9, 1), {"sort_by": "severity"}, NOT_ISSUED),
    (token("event_type", "asc", 5, 1), {"sort_by": "event_type", "sort_dir": "asc"}, NOT_ISSUED),
    (token("actor", "asc", None, 1), {"sort_by": "actor", "sort_dir": "asc"}, NOT_ISSUED),
    (token("category", "desc", ["a"], 1), {"sort_by": "category"}, NOT_ISSUED),
    (token("created_at", "desc", "2024-01-01T00:00:00+00:00", 1), {"sort_dir": "asc"}, OTHER_SORT),
    (token("severity", "desc", 3, 1), {"sort_by": "category"}, OTHER_SORT),
    (token("created_at", "desc", "2024-01-01T00:00:00+00:00", 1), {"sort_by": "actor"}, OTHER_SORT),
]


async def test_bad_cursors_are_422(client: httpx.AsyncClient) -> None:
    stored = await record_total(client)
    for cursor, params, message in BAD_CURSORS:
        response = await client.get(RECORDS, params={"cursor": cursor, **params})
        assert response.status_code == 422, (cursor, params, response.text)
        assert response.json() == cursor_error(message), (cursor, params)
    assert await record_total(client) == stored


async def test_issued_cursor_is_refused_for_another_sort(client: httpx.AsyncClient) -> None:
    await post_many(client, [body_number(number) for number in range(5)])
    issued = (await page_of(client, page_size=2, sort_by="event_type"))["next_cursor"]
    for params in ({}, {"sort_by": "event_type", "sort_dir": "asc"}, {"sort_by": "actor"}):
        response = await client.get(RECORDS, params={"cursor": issued, **params})
        assert response.status_code == 422
        assert response.json() == cursor_error(OTHER_SORT)
    response = await client.get(RECORDS, params={"cursor": issued, "sort_by": "event_type"})
    assert response.status_code == 200


def decoded(cursor: str) -> list[Any]:
    parts: list[Any] = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return parts


@pytest.mark.parametrize("hours", [0, 5.5, -8])
async def test_created_at_cursor_names_an_instant_whatever_its_offset(
    client: httpx.AsyncClient, hours: float
) -> None:
    """The cursor is opaque, but a time in it written with another UTC offset is the same."""
    await post_many(client, [body_number(number) for number in range(6)], chunk=1)
    everything = await by_number(client)
    issued = (await page_of(client, page_size=3))["next_cursor"]
    sort_by, sort_dir, value, seq = decoded(issued)
    moment = datetime.fromisoformat(value).astimezone(timezone(timedelta(hours=hours)))
    shifted = token(sort_by, sort_dir, moment.isoformat(), seq)
    response = await client.get(RECORDS, params={"cursor": shifted, "page_size": 3})
    assert response.status_code == 200, response.text
    assert ids(response.json()["records"]) == ids(everything[3:6])


def _token(items: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(items).encode()).decode().rstrip("=")


async def test_cursors_issued_before_they_carried_the_time_still_page(
    client: httpx.AsyncClient,
) -> None:
    """A sort by another field's cursor now carries the last record's time (a later page starts
    at an index entry); one without it, as issued before, still gives the same next page."""
    await post_many(client, [body_number(n) for n in range(12)])
    for sort_by in ("severity", "event_type", "actor", "category"):
        params = {"sort_by": sort_by, "sort_dir": "desc", "page_size": 5}
        first = await page_of(client, **params)
        items = json.loads(base64.urlsafe_b64decode(first["next_cursor"] + "=="))
        assert len(items) == 5, items  # sort_by, sort_dir, value, seq, created_at
        assert datetime.fromisoformat(items[4]) == datetime.fromisoformat(
            first["records"][-1]["created_at"]
        )
        new = await page_of(client, **params, cursor=first["next_cursor"])
        old = await page_of(client, **params, cursor=_token(items[:4]))
        assert [r["id"] for r in old["records"]] == [r["id"] for r in new["records"]], sort_by
        assert old["next_cursor"] == new["next_cursor"]
    forged = _token(["created_at", "desc", "2026-01-01T00:00:00+00:00", 3, "2026-01-01T00:00:00"])
    response = await client.get(RECORDS, params={"cursor": forged})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["code"] == "INVALID_CURSOR"


def test_the_severity_ranks_of_the_sort_index_are_the_lists() -> None:
    """db/models.py spells the ranks into the severity sort's index expression; they must be
    the ones records/query.py compares cursors with."""
    assert SEVERITY_RANKS == SERVICE_SEVERITY_RANK == SEVERITY_RANK

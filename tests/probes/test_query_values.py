"""Query values of GET /api/audit-trail/records no database can take: a 422 naming the
parameter, never a 500 (OverflowError converting to UTC) nor a 503 (PostgreSQL refusing a NUL).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.helpers import RECORDS, post_record, record_total
from tests.probes.support import LOG_HEAD, assert_answer, error, invalid, problem

OUT_OF_RANGE = "is outside the years 1 to 9999 in UTC."
# Valid instants whose UTC is outside the years 1..9999.
OVERFLOWING = [
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59-23:59",
]
BAD_CURSOR = error(
    "VALIDATION_ERROR",
    "Invalid query parameter cursor: is not a cursor this service issued.",
    [problem("query.cursor", "INVALID_CURSOR", "is not a cursor this service issued.")],
)


def unsupported(message: str) -> dict[str, Any]:
    return error(
        "VALIDATION_ERROR",
        f"Invalid query parameter param_filters: {message}",
        [problem("query.param_filters", "UNSUPPORTED_VALUE", message)],
    )


def cursor(*fields: Any, raw: bytes | None = None) -> str:
    """A token as records/query.Cursor writes one, of any content."""
    text = json.dumps(list(fields)).encode() if raw is None else raw
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


async def log_size(client: httpx.AsyncClient) -> int:
    size: int = (await client.get(LOG_HEAD)).json()["tree_size"]
    return size


async def listing(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(RECORDS, params={"page_size": 100, **params})
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


@pytest.mark.parametrize("parameter", ["date_from", "date_to"])
@pytest.mark.parametrize("moment", OVERFLOWING)
async def test_a_date_past_the_years_in_utc_is_a_422(
    client: httpx.AsyncClient, parameter: str, moment: str
) -> None:
    before = await log_size(client)
    response = await client.get(RECORDS, params={parameter: moment})
    expected = invalid(problem(f"query.{parameter}", "DATETIME_OUT_OF_RANGE", OUT_OF_RANGE))
    assert_answer(response, 422, expected)
    assert await log_size(client) == before


async def test_dates_at_the_ends_of_the_years_and_offsets_filter(
    client: httpx.AsyncClient,
) -> None:
    await post_record(client)
    every = await listing(client)
    assert await listing(client, date_from="0001-01-01T00:00:00Z") == every
    assert await listing(client, date_from="0001-01-01T00:00:00-23:59") == every
    assert await listing(client, date_from="2024-01-01T00:00:00+23:59") == every
    assert await listing(client, date_to="9999-12-31T23:59:59Z") == every
    assert await listing(client, date_to="9999-12-31T23:59:59+23:59") == every
    assert await listing(client, date_to="0001-01-01T00:00:00-01:00") == []
    assert await listing(client, date_to="2024-01-01T00:00:00-23:59") == []
    assert await listing(client, date_from="9999-12-31T23:59:59Z") == []
    assert await listing(client, date_from="9999-12-31T23:59:59.999999+01:00") == []


@pytest.mark.parametrize("moment", OVERFLOWING)
async def test_a_cursor_time_past_the_years_in_utc_is_a_422(
    client: httpx.AsyncClient, moment: str
) -> None:
    await post_record(client)
    response = await client.get(RECORDS, params={"cursor": cursor("created_at", "desc", moment, 1)})
    assert_answer(response, 422, BAD_CURSOR)


async def test_cursor_times_at_the_ends_of_the_years_and_offsets_page(
    client: httpx.AsyncClient,
) -> None:
    await post_record(client)
    every = await listing(client)
    for later in ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59+23:59", "2999-01-01T00:00:00-23:59"):
        assert await listing(client, cursor=cursor("created_at", "desc", later, 0)) == every
    for earlier in ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00-23:59"):
        assert await listing(client, cursor=cursor("created_at", "desc", earlier, 0)) == []


@pytest.mark.parametrize(
    ("sort_by", "sort_dir", "token"),
    [
        ("event_type", "desc", cursor("event_type", "desc", "a\u0000b", 1)),
        ("event_type", "desc", cursor("event_type", "desc", "\ud800", 1)),
        ("actor", "asc", cursor("actor", "asc", "\udfff x", 1)),
        ("created_at", "desc", cursor("created_at", "desc", "\ud800", 1)),
        ("event_type", "desc", cursor(raw=b'["event_type","desc","\xed\xa0\x80",1]')),
        ("event_type", "desc", cursor(raw=b'["event_type","desc","\xff",1]')),
        ("event_type", "desc", cursor(raw=b'["event_type","desc","a\x00",1]')),
    ],
    ids=[
        "nul",
        "surrogate",
        "low-surrogate",
        "time-surrogate",
        "raw-surrogate",
        "raw-ff",
        "raw-nul",
    ],
)
async def test_a_cursor_with_text_no_database_takes_is_a_422(
    client: httpx.AsyncClient, sort_by: str, sort_dir: str, token: str
) -> None:
    await post_record(client)
    response = await client.get(
        RECORDS, params={"cursor": token, "sort_by": sort_by, "sort_dir": sort_dir}
    )
    assert_answer(response, 422, BAD_CURSOR)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            [{"key": "a\u0000b", "operator": "eq", "value": 1}],
            "item 0: key contains a NUL character.",
        ),
        (
            [{"key": "\ud800", "operator": "eq", "value": 1}],
            "item 0: key contains a lone surrogate, which is not Unicode text.",
        ),
        (
            [
                {"key": "a", "operator": "exists"},
                {"key": "a", "operator": "eq", "value": "x\u0000"},
            ],
            "item 1: value contains a NUL character.",
        ),
        (
            [{"key": "a", "operator": "contains", "value": "\udc00"}],
            "item 0: value contains a lone surrogate, which is not Unicode text.",
        ),
        (
            [{"key": "a", "operator": "in", "value": ["ok", "no\u0000"]}],
            "item 0: value[1] contains a NUL character.",
        ),
        (
            [{"key": "when", "operator": "gte", "value": "2024-01-01T00:00:00\u0000"}],
            "item 0: value contains a NUL character.",
        ),
    ],
    ids=["nul-key", "surrogate-key", "nul-value", "surrogate-contains", "nul-in-item", "nul-date"],
)
async def test_param_filter_text_no_database_takes_is_a_422(
    client: httpx.AsyncClient, filters: list[dict[str, Any]], message: str
) -> None:
    await post_record(client, params={"a": "x"})
    before = await log_size(client)
    # json.dumps writes NUL and lone surrogates as \u escapes: the query string is plain ASCII.
    response = await client.get(RECORDS, params={"param_filters": json.dumps(filters)})
    assert_answer(response, 422, unsupported(message))
    # With an application named, the filter's registered type is looked up first.
    response = await client.get(
        RECORDS, params={"param_filters": json.dumps(filters), "application_key": "nothing"}
    )
    assert_answer(response, 422, unsupported(message))
    assert await log_size(client) == before


async def test_invalid_utf8_in_the_url_reads_as_replacement_characters(
    client: httpx.AsyncClient,
) -> None:
    """Percent-escapes of bytes that are not UTF-8 (a lone surrogate's %ED%A0%80) decode as
    U+FFFD, which is text: a filter of it matches nothing, or is not JSON; a search of it has no
    word (U+FFFD is a symbol), so it is no filter."""
    await post_record(client)
    surrogate = "%ED%A0%80"
    for parameter in ("event_types", "actors", "entity_id", "application_key"):
        response = await client.get(f"{RECORDS}?{parameter}={surrogate}")
        assert (response.status_code, response.json()["total"]) == (200, 0), parameter
    response = await client.get(f"{RECORDS}?search={surrogate}")
    assert (response.status_code, response.json()["total"]) == (200, await record_total(client))
    response = await client.get(f"{RECORDS}?param_filters={surrogate}")
    shape = 'a JSON array of {"key", "operator", "value"} objects'
    message = f"is not JSON; expected {shape}."
    assert_answer(
        response,
        422,
        error(
            "VALIDATION_ERROR",
            f"Invalid query parameter param_filters: {message}",
            [problem("query.param_filters", "INVALID_QUERY_PARAMETER", message)],
        ),
    )
    filters = (
        quote('[{"key":"')
        + surrogate
        + quote('","operator":"eq","value":"')
        + surrogate
        + quote('"}]')
    )
    response = await client.get(f"{RECORDS}?param_filters={filters}")
    assert (response.status_code, response.json()["total"]) == (200, 0)
    response = await client.get(f"{RECORDS}?cursor={surrogate}")
    assert_answer(response, 422, BAD_CURSOR)


@pytest.mark.parametrize("parameter", ["search", "event_types", "param_filters", "cursor"])
async def test_a_nul_in_the_query_is_a_400_before_anything(
    client: httpx.AsyncClient, parameter: str
) -> None:
    before = await record_total(client)
    response = await client.get(f"{RECORDS}?{parameter}=a%00b")
    assert_answer(response, 400, error("INVALID_CHARACTER", "The URL contains a NUL character."))
    assert await record_total(client) == before

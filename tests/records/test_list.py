"""GET /api/audit-trail/records: each filter, sort, page arithmetic and every bad query value.

One catalog of records with different event types, categories, actors, severities, entities
and applications (plus the system records the set-up itself writes) is listed unfiltered once;
each filter's answer is then checked against that full listing, filtered here in Python.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audittrail import search_words
from tests.conftest import make_client
from tests.helpers import RECORDS, create_application, post_record, record_total

Record = dict[str, Any]
ENVELOPE = {"records", "total", "page", "page_size", "total_pages", "next_cursor"}
SEVERITY_ORDER = ["none", "low", "medium", "high", "critical"]


async def listing(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(RECORDS, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(records: list[Record]) -> list[str]:
    return [record["id"] for record in records]


def moment(record: Record) -> datetime:
    return datetime.fromisoformat(record["created_at"])


async def writer_client(client: httpx.AsyncClient, app: FastAPI, name: str) -> httpx.AsyncClient:
    """A client whose records carry the actor api_key:<name>."""
    response = await client.post("/api/api-keys", json={"name": name, "roles": ["writer"]})
    assert response.status_code == 201, response.text
    return make_client(app, {"Authorization": f"Bearer {response.json()['key']}"})


@dataclass
class Catalog:
    """The posted records by name, and every record in the log in the default order."""

    posted: dict[str, Record]
    all: list[Record]  # created_at desc, seq desc: the default order

    def position(self, record: Record) -> int:
        """The record's place in the log (its seq, up to a constant)."""
        return len(self.all) - ids(self.all).index(record["id"])


@pytest.fixture
async def catalog(client: httpx.AsyncClient, app: FastAPI) -> Catalog:
    billing = await create_application(client, "billing")
    await create_application(client, "shipping")
    alice = await writer_client(client, app, "alice")
    bob = await writer_client(client, app, "bob")
    rows: list[tuple[str, httpx.AsyncClient, dict[str, Any]]] = [
        (
            "paid_1",
            alice,
            dict(
                event_type="invoice.paid",
                category="billing",
                severity="low",
                entity_type="invoice",
                entity_id="INV-1",
                application_id=billing["id"],
                summary="Paid invoice INV-1",
            ),
        ),
        (
            "paid_2",
            bob,
            dict(
                event_type="invoice.paid",
                category="billing",
                severity="medium",
                entity_type="invoice",
                entity_id="INV-2",
                application_key="billing",
                summary="Paid invoice INV-2 at a 50% discount",
            ),
        ),
        (
            "refunded",
            alice,
            dict(
                event_type="invoice.refunded",
                category="billing",
                severity="high",
                entity_type="invoice",
                entity_id="INV-1",
                application_key="billing",
                summary="Refunded 50 EUR on invoice inv-1",
            ),
        ),
        (
            "shipped",
            bob,
            dict(
                event_type="parcel.shipped",
                category="logistics",
                severity="none",
                entity_type="parcel",
                entity_id="P_1",
                application_key="shipping",
                summary="Shipped parcel",
            ),
        ),
        (
            "lost",
            client,
            dict(
                event_type="parcel.shipped",
                category="logistics",
                severity="critical",
                entity_type="parcel",
                entity_id="INV-1",
                application_key="shipping",
                summary="Parcel lost in transit",
            ),
        ),
        (
            "login",
            client,
            dict(
                event_type="user.login",
                category="security",
                severity="critical",
                entity_type="user",
                entity_id="u-7",
                summary="Login from a new device",
            ),
        ),
        ("note", alice, dict(event_type="note.added", summary="Notes on step-1")),
    ]
    posted = {}
    for name, poster, fields in rows:
        posted[name] = await post_record(poster, **fields)
    for writer in (alice, bob):
        await writer.aclose()
    everything = await listing(client, page_size=200)
    assert everything["total"] == len(everything["records"]) < 200
    return Catalog(posted, everything["records"])


async def test_envelope_and_defaults(client: httpx.AsyncClient, catalog: Catalog) -> None:
    body = await listing(client)
    assert set(body) == ENVELOPE
    total = len(catalog.all)
    assert body["total"] == total
    assert (body["page"], body["page_size"], body["total_pages"]) == (1, 50, 1)
    assert body["next_cursor"] is None
    # Default order: created_at desc, so the last record posted comes first.
    assert body["records"][0]["id"] == catalog.posted["note"]["id"]
    times = [moment(record) for record in body["records"]]
    assert times == sorted(times, reverse=True)
    # Each listed record is exactly what GET /{id} answers.
    for name in ("paid_1", "lost", "note"):
        record = catalog.posted[name]
        [listed] = [r for r in body["records"] if r["id"] == record["id"]]
        assert listed == record
        assert (await client.get(f"{RECORDS}/{record['id']}")).json() == listed


def _in(field: str, *values: str | None) -> Callable[[Record, Catalog], bool]:
    return lambda record, _catalog: record[field] in values


def _search(text: str) -> Callable[[Record, Catalog], bool]:
    """The records whose fields or param values hold the text's words, in order, whole."""
    wanted = " ".join(search_words.words(text))

    def found(record: Record, _catalog: Catalog) -> bool:
        texts = [record[field] for field in search_words.FIELDS]
        words = search_words.document(texts, record["params"], ())
        return f" {wanted} " in f" {words} "

    return found


def _posted(*names: str) -> Callable[[Record, Catalog], bool]:
    return lambda record, catalog: record["id"] in {catalog.posted[n]["id"] for n in names}


def _nothing(_record: Record, _catalog: Catalog) -> bool:
    return False


def _billing_id(catalog: Catalog) -> str:
    application_id: str = catalog.posted["paid_1"]["application_id"]
    return application_id


Params = Callable[[Catalog], dict[str, str]] | dict[str, str]
Matches = Callable[[Record, Catalog], bool]

# Per list parameter: (query parameters, which records must match).
FILTERS: dict[str, list[tuple[Params, Matches]]] = {
    "event_types": [
        ({"event_types": "invoice.paid"}, _in("event_type", "invoice.paid")),
        (
            {"event_types": "invoice.paid,user.login"},
            _in("event_type", "invoice.paid", "user.login"),
        ),
        (
            {"event_types": " invoice.refunded , note.added ,"},
            _in("event_type", "invoice.refunded", "note.added"),
        ),
        ({"event_types": "Invoice.Paid"}, _nothing),  # exact, case included
    ],
    "categories": [
        ({"categories": "billing"}, _in("category", "billing")),
        ({"categories": "logistics,general"}, _in("category", "logistics", "general")),
        ({"categories": "security"}, _in("category", "security")),  # system records too
    ],
    "actors": [
        ({"actors": "api_key:alice"}, _in("actor", "api_key:alice")),
        ({"actors": "api_key:bob,system"}, _in("actor", "api_key:bob", "system")),
        ({"actors": "alice"}, _nothing),  # exact, not a substring
    ],
    "severities": [
        ({"severities": "critical"}, _in("severity", "critical")),
        ({"severities": "none,high"}, _in("severity", "none", "high")),
        ({"severities": "low"}, _in("severity", "low")),
    ],
    "entity": [
        ({"entity_type": "invoice"}, _in("entity_type", "invoice")),
        ({"entity_id": "INV-1"}, _in("entity_id", "INV-1")),
        ({"entity_id": "inv-1"}, _nothing),
        ({"entity_type": "parcel", "entity_id": "INV-1"}, _posted("lost")),
    ],
    "application": [
        (lambda c: {"application_id": _billing_id(c)}, _posted("paid_1", "paid_2", "refunded")),
        ({"application_key": "shipping"}, _posted("shipped", "lost")),
        ({"application_key": "nothing"}, _nothing),
        ({"application_id": "not-an-id"}, _nothing),
        (lambda c: {"application_id": _billing_id(c), "application_key": "shipping"}, _nothing),
    ],
    "search": [
        ({"search": "inv-1"}, _search("inv-1")),
        ({"search": "ALICE"}, _search("alice")),
        ({"search": "refunded"}, _search("refunded")),
        ({"search": "shipping"}, _search("shipping")),  # the application key
        ({"search": "parcel"}, _search("parcel")),
        ({"search": "50%"}, _search("50")),  # punctuation separates words
        ({"search": "p_1"}, _posted("shipped")),  # the words "p 1" in order: not "step-1"
        ({"search": "refund"}, _nothing),  # whole words: not "Refunded"
        ({"search": "refund*"}, _search("refunded")),
        ({"search": "no such text"}, _nothing),
        ({"search": ""}, lambda record, _: True),  # empty: no filter
    ],
    "combined": [
        (
            {"categories": "billing", "actors": "api_key:alice", "severities": "low,high"},
            _posted("paid_1", "refunded"),
        ),
        (
            {"event_types": "parcel.shipped,user.login", "severities": "critical"},
            _posted("lost", "login"),
        ),
        (
            {
                "event_types": "parcel.shipped,user.login",
                "severities": "critical",
                "search": "lost",
            },
            _posted("lost"),
        ),
        (
            {"entity_id": "INV-1", "application_key": "billing", "actors": "api_key:alice"},
            _posted("paid_1", "refunded"),
        ),
        ({"categories": "billing", "actors": "system"}, _nothing),
    ],
}


@pytest.mark.parametrize("family", list(FILTERS))
async def test_filters(client: httpx.AsyncClient, catalog: Catalog, family: str) -> None:
    for given, matches in FILTERS[family]:
        params = given(catalog) if callable(given) else given
        expected = ids([record for record in catalog.all if matches(record, catalog)])
        body = await listing(client, **params, page_size=200)
        assert ids(body["records"]) == expected, params
        assert body["total"] == len(expected), params
        # The filter also holds on a later page, and total does not depend on the page.
        second = await listing(client, **params, page=2, page_size=2)
        assert ids(second["records"]) == expected[2:4], params
        assert second["total"] == len(expected), params


async def test_date_range_is_inclusive_on_created_at(
    client: httpx.AsyncClient, catalog: Catalog
) -> None:
    start = moment(catalog.posted["paid_2"])
    end = moment(catalog.posted["lost"])
    cases: list[tuple[dict[str, str], Callable[[datetime], bool]]] = [
        ({"date_from": start.isoformat()}, lambda at: at >= start),
        ({"date_to": end.isoformat()}, lambda at: at <= end),
        (
            {"date_from": start.isoformat(), "date_to": end.isoformat()},
            lambda at: start <= at <= end,
        ),
        # Other offsets name the same instant; a naive value is UTC.
        (
            {"date_from": start.astimezone(timezone(timedelta(hours=2))).isoformat()},
            lambda at: at >= start,
        ),
        ({"date_to": end.replace(tzinfo=None).isoformat()}, lambda at: at <= end),
        ({"date_from": start.isoformat().replace("+00:00", "Z")}, lambda at: at >= start),
        ({"date_from": end.isoformat(), "date_to": start.isoformat()}, lambda at: False),
    ]
    for params, wanted in cases:
        expected = [record for record in catalog.all if wanted(moment(record))]
        body = await listing(client, **params, page_size=200)
        assert ids(body["records"]) == ids(expected), params
        assert body["total"] == len(expected), params
    exact = await listing(
        client, date_from=start.isoformat(), date_to=start.isoformat(), page_size=200
    )
    assert catalog.posted["paid_2"]["id"] in ids(exact["records"])


def _sort_value(record: Record, sort_by: str) -> Any:
    if sort_by == "severity":
        return SEVERITY_ORDER.index(record["severity"])
    if sort_by == "created_at":
        return moment(record)
    return record[sort_by] or ""


SORTS = ["created_at", "severity", "event_type", "actor", "category"]


async def test_each_sort_both_directions_with_ties_in_log_order(
    client: httpx.AsyncClient, catalog: Catalog
) -> None:
    for sort_by in SORTS:
        for sort_dir, reverse in (("asc", False), ("desc", True)):
            case = (sort_by, sort_dir)
            expected = sorted(
                catalog.all,
                key=lambda r: (_sort_value(r, sort_by), catalog.position(r)),
                reverse=reverse,
            )
            body = await listing(client, sort_by=sort_by, sort_dir=sort_dir, page_size=200)
            assert ids(body["records"]) == ids(expected), case
            # Small pages give the same order: ties never swap between pages.
            paged: list[Record] = []
            for page in range(1, len(expected) // 4 + 2):
                paged += (
                    await listing(
                        client, sort_by=sort_by, sort_dir=sort_dir, page=page, page_size=4
                    )
                )["records"]
            assert ids(paged) == ids(expected), case


async def test_severity_sorts_by_rank_not_alphabetically(
    client: httpx.AsyncClient, catalog: Catalog
) -> None:
    desc = await listing(client, sort_by="severity", page_size=200)
    seen = list(dict.fromkeys(record["severity"] for record in desc["records"]))
    assert seen == ["critical", "high", "medium", "low", "none"]
    asc = await listing(client, sort_by="severity", sort_dir="asc", page_size=200)
    seen = list(dict.fromkeys(record["severity"] for record in asc["records"]))
    assert seen == ["none", "low", "medium", "high", "critical"]
    # The two critical records: the later one first in desc, the earlier one first in asc.
    criticals = [catalog.posted["lost"]["id"], catalog.posted["login"]["id"]]
    assert ids(desc["records"])[:2] == criticals[::-1]
    assert ids(asc["records"])[-2:] == criticals
    # Sorting combines with filters.
    body = await listing(client, categories="billing", sort_by="severity", sort_dir="asc")
    assert ids(body["records"]) == [
        catalog.posted[name]["id"] for name in ("paid_1", "paid_2", "refunded")
    ]
    body = await listing(client, actors="api_key:bob", sort_by="event_type", sort_dir="asc")
    assert ids(body["records"]) == [catalog.posted[name]["id"] for name in ("paid_2", "shipped")]


# (page, page_size, total_pages, which of the 12 records) on a log of 12 records.
PAGES = [
    (1, 50, 1, slice(0, 12)),  # the defaults
    (1, 12, 1, slice(0, 12)),  # exact multiple
    (2, 4, 3, slice(4, 8)),
    (3, 4, 3, slice(8, 12)),  # last page full
    (3, 5, 3, slice(10, 12)),  # last page partial
    (4, 5, 3, slice(0, 0)),  # past the end
    (1000, 5, 3, slice(0, 0)),
    (12, 1, 12, slice(11, 12)),  # smallest page size
    (13, 1, 12, slice(0, 0)),
    (1, 200, 1, slice(0, 12)),  # largest page size
    (1_000_000, 200, 1, slice(0, 0)),  # the deepest page offered: deeper walks use a cursor
]


async def test_page_arithmetic(client: httpx.AsyncClient) -> None:
    for number in range(10):  # and the 2 bootstrap records
        await post_record(client, summary=f"record {number}")
    everything = ids((await listing(client, page_size=200))["records"])
    assert len(everything) == 12
    for page, page_size, total_pages, expected in PAGES:
        body = await listing(client, page=page, page_size=page_size)
        assert ids(body["records"]) == everything[expected], (page, page_size)
        meta = (body["total"], body["page"], body["page_size"], body["total_pages"])
        assert meta == (12, page, page_size, total_pages)
    assert (await listing(client))["page_size"] == 50


async def test_no_match_has_zero_pages(client: httpx.AsyncClient) -> None:
    body = await listing(client, event_types="nothing.happened", page=3)
    assert body == {
        "records": [],
        "total": 0,
        "page": 3,
        "page_size": 50,
        "total_pages": 0,
        "next_cursor": None,
    }


def query_error(parameter: str, message: str, code: str = "INVALID_QUERY_PARAMETER") -> Any:
    """The exact body of one of our own query-parameter errors."""
    return {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": f"Invalid query parameter {parameter}: {message}",
            "details": [{"field": f"query.{parameter}", "code": code, "message": message}],
        }
    }


# Our own messages, asserted exactly.
BAD_LISTS: list[tuple[dict[str, str], dict[str, Any]]] = [
    (
        {"severities": "urgent"},
        query_error("severities", "'urgent' is not one of critical, high, medium, low, none."),
    ),
    (
        {"severities": "low,LOW"},
        query_error("severities", "'LOW' is not one of critical, high, medium, low, none."),
    ),
    ({"event_types": ""}, query_error("event_types", "give at least one comma-separated value.")),
    ({"actors": " , "}, query_error("actors", "give at least one comma-separated value.")),
    ({"categories": ","}, query_error("categories", "give at least one comma-separated value.")),
    ({"severities": ""}, query_error("severities", "give at least one comma-separated value.")),
]

# Messages FastAPI/Pydantic write: the parameter (field) and the code, asserted exactly.
MALFORMED: list[tuple[dict[str, str], str, str]] = [
    ({"date_from": "yesterday"}, "query.date_from", "DATETIME_FROM_DATE_PARSING"),
    ({"date_to": "2024-13-01T00:00:00Z"}, "query.date_to", "DATETIME_FROM_DATE_PARSING"),
    ({"page": "0"}, "query.page", "GREATER_THAN_EQUAL"),
    ({"page": "-1"}, "query.page", "GREATER_THAN_EQUAL"),
    ({"page": "1000001"}, "query.page", "LESS_THAN_EQUAL"),
    ({"page": "first"}, "query.page", "INT_PARSING"),
    ({"page_size": "0"}, "query.page_size", "GREATER_THAN_EQUAL"),
    ({"page_size": "201"}, "query.page_size", "LESS_THAN_EQUAL"),
    ({"page_size": "1.5"}, "query.page_size", "INT_PARSING"),
    ({"sort_by": "bogus"}, "query.sort_by", "ENUM"),
    ({"sort_by": "summary"}, "query.sort_by", "ENUM"),
    ({"sort_dir": "up"}, "query.sort_dir", "ENUM"),
    ({"sort_dir": "DESC"}, "query.sort_dir", "ENUM"),
    ({"registered_params_only": "maybe"}, "query.registered_params_only", "BOOL_PARSING"),
    ({"search": "x" * 257}, "query.search", "STRING_TOO_LONG"),
]


async def test_bad_query_values_are_422_naming_the_parameter(client: httpx.AsyncClient) -> None:
    stored = await record_total(client)
    for params, body in BAD_LISTS:
        response = await client.get(RECORDS, params=params)
        assert response.status_code == 422, params
        assert response.json() == body
    for params, field, code in MALFORMED:
        response = await client.get(RECORDS, params=params)
        assert response.status_code == 422, params
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR", params
        assert error["message"] == f"Invalid request: {field}."
        assert [(p["field"], p["code"]) for p in error["details"]] == [(field, code)]
    assert await record_total(client) == stored


async def test_text_matching_folds_case_beyond_ascii(
    client: httpx.AsyncClient, database_url: str, request: pytest.FixtureRequest
) -> None:
    record = await post_record(client, summary="Émile signed", params={"title": "ÉMILE"})
    for search in ("émile", "ÉMILE", "SIGNED"):
        assert ids((await listing(client, search=search))["records"]) == [record["id"]], search
    contains = json.dumps([{"key": "title", "operator": "contains", "value": "émi"}])
    assert ids((await listing(client, param_filters=contains))["records"]) == [record["id"]]


async def test_date_without_time_is_accepted_as_midnight_utc(client: httpx.AsyncClient) -> None:
    await post_record(client)
    assert (await listing(client, date_from="2000-01-01"))["total"] == 3
    assert (await listing(client, date_to="2000-01-01"))["total"] == 0


async def test_listing_needs_a_reader(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await anonymous.get(RECORDS)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    writer = await writer_client(client, app, "writer_only")
    async with writer:
        response = await writer.get(RECORDS)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"

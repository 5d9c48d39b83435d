"""GET /api/audit-trail/applications/{app}/params/{key}/analytics: known answers at the edges of
buckets (a daylight-saving change, a zone half an hour off UTC), every number recounted in plain
Python for records and queries drawn by hypothesis, who may see what, and every refusal (which
changes nothing).

Records are placed in time by holding audittrail.clock.now at the instant wanted while they are
posted; the log's time never runs backwards, so the records of a test are posted oldest first.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audittrail import clock
from audittrail.config import Settings
from tests.conftest import make_client
from tests.helpers import APPLICATIONS, RECORDS, create_application, post_record, query_problem

HEAD = "/api/audit-trail/log/head"
START = datetime(2026, 10, 20, tzinfo=UTC)
# America/New_York falls back at 06:00 UTC: 02:00 EDT (-04:00) is 01:00 EST (-05:00).
FALL_BACK = datetime(2026, 11, 1, 6, tzinfo=UTC)
TICK = timedelta(microseconds=1)
TIERS = ["gold", "silver", "bronze"]
PARAMS = {
    "amount": "number",
    "count": "integer",
    "tier": "enum",
    "flag": "boolean",
    "due": "datetime",
    "note": "string",
    "extra": "json",
}
NUMBER_FIELDS = ["min", "max", "mean", "p5", "p25", "p50", "p75", "p95"]


def analytics(app: str, param: str) -> str:
    return f"{APPLICATIONS}/{app}/params/{param}/analytics"


def definition(key: str, param_type: str, **fields: Any) -> dict[str, Any]:
    extra = {"enum_values": TIERS} if param_type == "enum" else {}
    return {"key": key, "type": param_type, **extra, **fields}


class Timeline:
    """audittrail.clock.now, held at the instant the test sets, forward only."""

    def __init__(self) -> None:
        self.moment = START

    def now(self) -> datetime:
        return self.moment

    def at(self, moment: datetime) -> None:
        assert moment >= self.moment, "the log's time never runs backwards"
        self.moment = moment


@pytest.fixture
def timeline(monkeypatch: pytest.MonkeyPatch) -> Timeline:
    timeline = Timeline()
    monkeypatch.setattr(clock, "now", timeline.now)
    return timeline


@pytest.fixture(name="settings")
def timed_settings(timeline: Timeline, settings: Settings) -> Settings:
    """The app starts on the timeline: its own first records are at START."""
    return settings


async def ask(client: httpx.AsyncClient, app: str, param: str, **params: Any) -> dict[str, Any]:
    response = await client.get(analytics(app, param), params=params)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def post_at(
    client: httpx.AsyncClient, timeline: Timeline, at: datetime, app: str | None, **params: Any
) -> None:
    timeline.at(at)
    if app is None:
        await post_record(client, params=params)
    else:
        await post_record(client, application_key=app, params=params)


async def register(client: httpx.AsyncClient, app: str, key: str, param_type: str) -> None:
    response = await client.post(f"{APPLICATIONS}/{app}/params", json=definition(key, param_type))
    assert response.status_code == 201, response.text


def numbers(**values: float) -> dict[str, Any]:
    return {**dict.fromkeys(NUMBER_FIELDS), **values, "values": None, "other": None}


def spread(*values: float) -> dict[str, Any]:
    """min, max, mean and the percentiles, within rounding."""
    approximately = [pytest.approx(value) for value in values]
    return numbers(**dict(zip(NUMBER_FIELDS, approximately, strict=True)))


def point(start: str, count: int, missing: int = 0, mismatched: int = 0, **rest: Any) -> Any:
    return {
        "start": start,
        "count": count,
        "missing": missing,
        "mismatched": mismatched,
        **rest,
    }


# Known answers.


async def test_numbers_by_the_hour_across_a_fall_back(
    client: httpx.AsyncClient, timeline: Timeline
) -> None:
    """New York's 01:00 comes twice on 2026-11-01: two buckets, each its own hour; records on
    a bucket's first and last microsecond stay in it."""
    midnight = datetime(2026, 11, 1, 4, tzinfo=UTC)  # 00:00 EDT
    timeline.at(midnight)
    app = await create_application(client, "billing", allow_unknown_params=True)
    await post_at(client, timeline, midnight, "billing", amount="twelve")  # before registration
    await register(client, "billing", "amount", "number")
    for at, amount in [
        (midnight, 10),
        (FALL_BACK - timedelta(hours=1) - TICK, 20),
        (FALL_BACK - timedelta(hours=1), 1),  # 01:00 EDT
        (FALL_BACK - timedelta(minutes=30), 3),
        (FALL_BACK, 100),  # 01:00 EST
    ]:
        await post_at(client, timeline, at, "billing", amount=amount)
    await post_at(client, timeline, FALL_BACK + timedelta(hours=1), "billing")
    await post_at(client, timeline, FALL_BACK + timedelta(hours=3), "billing", amount=None)

    answer = await ask(client, "billing", "amount", tz="America/New_York")
    assert answer == {
        "application": {"id": app["id"], "key": "billing", "name": "Billing"},
        "param": {"key": "amount", "label": "amount", "type": "number", "sensitive": False},
        "bucket": "hour",
        "tz": "America/New_York",
        "drift_threshold": 0.3,
        "total": 8,
        "missing": 2,
        "buckets": [
            point(
                "2026-11-01T00:00:00-04:00",
                2,
                mismatched=1,
                **spread(10, 20, 15, 10.5, 12.5, 15, 17.5, 19.5),
                drift=None,
                drifted=False,
            ),
            point(
                "2026-11-01T01:00:00-04:00",
                2,
                **spread(1, 3, 2, 1.1, 1.5, 2, 2.5, 2.9),
                drift=pytest.approx((15 - 2) / 5),
                drifted=True,
            ),
            point(
                "2026-11-01T01:00:00-05:00",
                1,
                **spread(100, 100, 100, 100, 100, 100, 100, 100),
                drift=pytest.approx(98),
                drifted=True,
            ),
            point("2026-11-01T02:00:00-05:00", 0, 1, **numbers(), drift=None, drifted=False),
            point("2026-11-01T03:00:00-05:00", 0, **numbers(), drift=None, drifted=False),
            point("2026-11-01T04:00:00-05:00", 0, 1, **numbers(), drift=None, drifted=False),
        ],
        "drifted_buckets": ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00"],
    }

    # The whole 25-hour day is one bucket.
    [day] = (await ask(client, "billing", "amount", tz="America/New_York", bucket="day"))["buckets"]
    assert day == point(
        "2026-11-01T00:00:00-04:00",
        5,
        2,
        1,
        **spread(1, 100, 26.8, 1.4, 3, 10, 20, 84),
        drift=None,
        drifted=False,
    )


async def test_values_by_the_hour_in_a_zone_half_an_hour_off(
    client: httpx.AsyncClient, timeline: Timeline
) -> None:
    """India's hours start at half past UTC's; a datetime value's category is the local day."""
    timeline.at(datetime(2026, 11, 2, tzinfo=UTC))
    await create_application(client, "billing", params=[definition("tier", "enum")])
    base = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)  # 10:00 IST
    for at, tier in [
        (base - TICK, "gold"),
        (base, "silver"),
        (base + timedelta(minutes=30), "silver"),
        (base + timedelta(minutes=59), "gold"),
        (base + timedelta(hours=1), "bronze"),
    ]:
        await post_at(client, timeline, at, "billing", tier=tier)

    answer = await ask(client, "billing", "tier", tz="Asia/Kolkata", bucket="hour", limit=1)
    none = dict.fromkeys(NUMBER_FIELDS)
    assert answer["buckets"] == [
        point(
            "2026-11-02T09:00:00+05:30",
            1,
            **none,
            values=[{"value": "gold", "count": 1}],
            other=0,
            drift=None,
            drifted=False,
        ),
        point(
            "2026-11-02T10:00:00+05:30",
            3,
            **none,
            values=[{"value": "silver", "count": 2}],
            other=1,
            drift=pytest.approx(2 / 3),
            drifted=True,
        ),
        point(
            "2026-11-02T11:00:00+05:30",
            1,
            **none,
            values=[{"value": "bronze", "count": 1}],
            other=0,
            drift=pytest.approx(1.0),
            drifted=True,
        ),
    ]
    assert answer["drifted_buckets"] == ["2026-11-02T10:00:00+05:30", "2026-11-02T11:00:00+05:30"]
    # Under a higher threshold, a shift of two thirds is no drift.
    calmer = await ask(client, "billing", "tier", tz="Asia/Kolkata", drift_threshold=0.7)
    assert calmer["drifted_buckets"] == ["2026-11-02T11:00:00+05:30"]


async def test_a_zone_once_off_whole_hours_is_read_finer(
    client: httpx.AsyncClient, timeline: Timeline
) -> None:
    """Lord Howe Island is at +11 in December and at +10:30 in July: read in December, July's
    UTC hours straddle its local days."""
    july = datetime(2027, 7, 1, 13, 30, tzinfo=UTC)  # midnight at +10:30
    timeline.at(july - timedelta(days=1))
    await create_application(client, "billing", params=[definition("tier", "enum")])
    for at, tier in [
        (july - TICK, "gold"),
        (july, "silver"),
        (datetime(2027, 12, 1, 13, tzinfo=UTC), "bronze"),  # midnight at +11
    ]:
        await post_at(client, timeline, at, "billing", tier=tier)
    answer = await ask(client, "billing", "tier", tz="Australia/Lord_Howe", bucket="day")
    assert [(b["start"], b["values"]) for b in answer["buckets"] if b["count"]] == [
        ("2027-07-01T00:00:00+10:30", [{"value": "gold", "count": 1}]),
        ("2027-07-02T00:00:00+10:30", [{"value": "silver", "count": 1}]),
        ("2027-12-02T00:00:00+11:00", [{"value": "bronze", "count": 1}]),
    ]


async def test_datetime_values_are_counted_by_their_bucket(
    client: httpx.AsyncClient, timeline: Timeline
) -> None:
    timeline.at(datetime(2026, 11, 2, tzinfo=UTC))
    await create_application(client, "billing", allow_unknown_params=True)
    at = datetime(2026, 11, 2, 12, tzinfo=UTC)
    for due in [
        "2026-11-02T18:29:59.999999Z",  # 23:59:59.999999 IST
        "2026-11-02T18:30:00Z",  # midnight IST
        "2026-11-03T06:00:00+05:30",
        "2026-11-02T10:00:00",  # no offset: not a date-time of the param's type
        "soon",
        5,
        "1890-06-01T12:07:00Z",  # Madras time then, +05:21:10: placed one by one
    ]:
        await post_at(client, timeline, at, "billing", due=due)
    await register(client, "billing", "due", "datetime")
    await post_at(client, timeline, at, "billing", due="2026-11-02T23:00:00+05:30")

    [day] = (await ask(client, "billing", "due", tz="Asia/Kolkata", bucket="day"))["buckets"]
    assert day == point(
        "2026-11-02T00:00:00+05:30",
        5,
        0,
        3,
        **dict.fromkeys(NUMBER_FIELDS),
        values=[
            {"value": "2026-11-02T00:00:00+05:30", "count": 2},
            {"value": "2026-11-03T00:00:00+05:30", "count": 2},
            # Written as pydantic writes a start: the offset's seconds are left out.
            {"value": "1890-06-01T00:00:00+05:21", "count": 1},
        ],
        other=0,
        drift=None,
        drifted=False,
    )
    [utc_day] = (await ask(client, "billing", "due", bucket="day"))["buckets"]
    assert utc_day["values"] == [
        {"value": "2026-11-02T00:00:00Z", "count": 3},
        {"value": "1890-06-01T00:00:00Z", "count": 1},
        {"value": "2026-11-03T00:00:00Z", "count": 1},
    ]


async def test_booleans_strings_and_json(client: httpx.AsyncClient, timeline: Timeline) -> None:
    timeline.at(datetime(2026, 11, 2, tzinfo=UTC))
    await create_application(client, "billing", allow_unknown_params=True)
    first = datetime(2026, 11, 2, 12, tzinfo=UTC)
    second = first + timedelta(days=2)
    for at, params in [
        (first, {"flag": True, "note": "b", "extra": {"a": [1]}}),
        (first, {"flag": True, "note": "a", "extra": None}),
        (first, {"flag": "yes", "note": 7, "extra": "text"}),
        (second, {"flag": False, "note": "a", "extra": 0}),
    ]:
        await post_at(client, timeline, at, "billing", **params)
    for key, param_type in [("flag", "boolean"), ("note", "string"), ("extra", "json")]:
        await register(client, "billing", key, param_type)

    flag = await ask(client, "billing", "flag", bucket="day")
    none = dict.fromkeys(NUMBER_FIELDS)
    empty = {**none, "values": [], "other": 0}
    assert flag["buckets"] == [
        point(
            "2026-11-02T00:00:00Z",
            2,
            0,
            1,
            **none,
            values=[{"value": "true", "count": 2}],
            other=0,
            drift=None,
            drifted=False,
        ),
        point("2026-11-03T00:00:00Z", 0, **empty, drift=None, drifted=False),
        point(
            "2026-11-04T00:00:00Z",
            1,
            **none,
            values=[{"value": "false", "count": 1}],
            other=0,
            drift=None,
            drifted=False,
        ),
    ]
    note = await ask(client, "billing", "note", bucket="week")
    assert note["buckets"] == [
        point(
            "2026-11-02T00:00:00Z",
            3,
            0,
            1,
            **none,
            values=[{"value": "a", "count": 2}, {"value": "b", "count": 1}],
            other=0,
            drift=None,
            drifted=False,
        )
    ]
    extra = await ask(client, "billing", "extra", bucket="month")
    assert extra["missing"] == 1
    assert extra["buckets"] == [
        point(
            "2026-11-01T00:00:00Z",
            3,
            1,
            0,
            **none,
            values=None,
            other=None,
            drift=None,
            drifted=False,
        )
    ]


async def test_numbers_are_read_exactly(client: httpx.AsyncClient, timeline: Timeline) -> None:
    """Every double as it was sent: 17 digits, tiny, the largest exact integer."""
    timeline.at(datetime(2026, 11, 2, tzinfo=UTC))
    await create_application(client, "billing", params=[definition("amount", "number")])
    amounts = [0.1 + 0.2, 1e-7, 2**53 - 1, -(2**53) + 1, 0.1]
    for amount in amounts:
        await post_record(client, application_key="billing", params={"amount": amount})
    [day] = (await ask(client, "billing", "amount", bucket="day"))["buckets"]
    assert [day[name] for name in ("min", "p25", "p50", "p75", "max")] == sorted(amounts)
    assert day["mean"] == math.fsum(amounts) / 5


async def test_a_median_off_a_range_of_zero_has_drifted_beyond_measure(
    client: httpx.AsyncClient, timeline: Timeline
) -> None:
    day = datetime(2026, 11, 2, tzinfo=UTC)
    timeline.at(day)
    await create_application(client, "billing", params=[definition("amount", "integer")])
    for days, amount in [(0, 5), (0, 5), (0, 5), (1, 5), (2, 6)]:
        await post_at(client, timeline, day + timedelta(days=days), "billing", amount=amount)
    answer = await ask(client, "billing", "amount", bucket="day", drift_threshold=0)
    assert [(b["drift"], b["drifted"]) for b in answer["buckets"]] == [
        (None, False),
        (0.0, False),  # the same median: no drift, even at a threshold of 0
        (None, True),
    ]
    assert answer["drifted_buckets"] == ["2026-11-04T00:00:00Z"]


async def test_the_filters_apply_and_the_range_is_the_dates_given(
    client: httpx.AsyncClient, timeline: Timeline
) -> None:
    day = datetime(2026, 11, 2, tzinfo=UTC)
    timeline.at(day)
    for key in ("billing", "shop"):
        await create_application(client, key, params=[definition("amount", "number")])
    at = day + timedelta(hours=12)
    for app, amount, event_type in [
        ("billing", 1, "order.paid"),
        ("billing", 50, "order.paid"),
        ("billing", 70, "order.refunded"),
        ("shop", 60, "order.paid"),
    ]:
        timeline.at(at)
        await post_record(
            client, application_key=app, event_type=event_type, params={"amount": amount}
        )
    await post_at(client, timeline, at, None, amount=80)  # no application

    answer = await ask(
        client,
        "billing",
        "amount",
        bucket="day",
        event_types="order.paid",
        param_filters='[{"key": "amount", "operator": "gte", "value": 10}]',
        application_key="shop",  # the path names the application
        date_from="2026-11-01T00:00:00Z",
        date_to="2026-11-03T23:59:59Z",
    )
    assert answer["total"] == 1
    assert [(b["start"], b["count"], b["p50"]) for b in answer["buckets"]] == [
        ("2026-11-01T00:00:00Z", 0, None),
        ("2026-11-02T00:00:00Z", 1, 50.0),
        ("2026-11-03T00:00:00Z", 0, None),
    ]
    # By id as well as by key; no dates: the first to the last record, a short range by the hour.
    billing = (await client.get(f"{APPLICATIONS}/billing")).json()
    by_id = await ask(client, billing["id"], "amount")
    assert (by_id["bucket"], by_id["total"], by_id["buckets"][0]["p50"]) == ("hour", 3, 50.0)
    assert len(by_id["buckets"]) == 1


async def test_no_records(client: httpx.AsyncClient, timeline: Timeline) -> None:
    await create_application(client, "billing", params=[definition("amount", "number")])
    answer = await ask(client, "billing", "amount")
    assert (answer["total"], answer["missing"], answer["buckets"]) == (0, 0, [])
    assert (answer["bucket"], answer["drifted_buckets"]) == ("day", [])


# Who may see what.


async def key_client(
    app: FastAPI, admin: httpx.AsyncClient, name: str, **fields: Any
) -> httpx.AsyncClient:
    response = await admin.post("/api/api-keys", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return make_client(app, {"X-API-Key": response.json()["key"]})


async def reader_client(app: FastAPI, admin: httpx.AsyncClient) -> httpx.AsyncClient:
    """A signed-in user with the role reader."""
    email, password = "reader@example.com", "reader-Passphrase-4711-unguessable"
    response = await admin.post(
        "/api/users", json={"email": email, "password": password, "roles": ["reader"]}
    )
    assert response.status_code == 201, response.text
    async with make_client(app) as fresh:
        response = await fresh.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return make_client(app, {"Authorization": f"Bearer {response.json()['access_token']}"})


SENSITIVE = {
    "error": {
        "code": "SENSITIVE_PARAM",
        "message": "Param iban is sensitive: only an admin may see its analytics.",
    }
}


@pytest.fixture
async def billing(client: httpx.AsyncClient, timeline: Timeline) -> None:
    """billing with a plain and a sensitive param, shop with none, a record in each."""
    await create_application(
        client,
        "billing",
        params=[
            definition("amount", "number"),
            definition("iban", "string", sensitive=True),
        ],
    )
    await create_application(client, "shop")
    await post_record(client, application_key="billing", params={"amount": 5, "iban": "DE89"})
    await post_record(client, application_key="shop")


async def test_a_reader_sees_a_plain_params_analytics_not_a_sensitive_ones(
    app: FastAPI, client: httpx.AsyncClient, billing: None
) -> None:
    async with await reader_client(app, client) as reader:
        plain = await reader.get(analytics("billing", "amount"))
        assert plain.status_code == 200, plain.text
        assert plain.json()["total"] == 1
        refused = await reader.get(analytics("billing", "iban"))
        assert refused.status_code == 403
        assert refused.json() == SENSITIVE
        # Nor may a reader filter by it (as in the record list).
        filtered = await reader.get(
            analytics("billing", "amount"),
            params={"param_filters": '[{"key": "iban", "operator": "eq", "value": "DE89"}]'},
        )
        assert filtered.status_code == 403
        assert filtered.json()["error"]["code"] == "SENSITIVE_PARAM"
    # An admin sees its values.
    answer = await ask(client, "billing", "iban")
    assert answer["buckets"][0]["values"] == [{"value": "DE89", "count": 1}]
    assert answer["param"]["sensitive"] is True


async def test_a_key_bound_to_another_application_finds_none(
    app: FastAPI, client: httpx.AsyncClient, billing: None
) -> None:
    scopes = ["stats:read"]
    async with await key_client(
        app, client, "shop-only", scopes=scopes, applications=["shop"]
    ) as shop_key:
        for param in ("amount", "iban", "nothing"):
            response = await shop_key.get(analytics("billing", param))
            assert response.status_code == 404
            assert response.json() == {
                "error": {"code": "APPLICATION_NOT_FOUND", "message": "No application billing."}
            }
    async with await key_client(
        app, client, "billing-only", scopes=scopes, applications=["billing"]
    ) as billing_key:
        response = await billing_key.get(analytics("billing", "amount"))
        assert response.status_code == 200, response.text
    async with await key_client(app, client, "no-stats", scopes=["records:read"]) as no_stats:
        response = await no_stats.get(analytics("billing", "amount"))
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "FORBIDDEN"


# Refusals: each its status and body, and nothing changed.


@asynccontextmanager
async def unchanged(client: httpx.AsyncClient) -> AsyncIterator[None]:
    """The log (every record, every change) is as it was."""
    before = (await client.get(HEAD)).json()
    yield
    assert (await client.get(HEAD)).json() == before


async def refused(
    client: httpx.AsyncClient, path: str, status: int, body: dict[str, Any], **params: Any
) -> None:
    async with unchanged(client):
        response = await client.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.json() == body


async def test_an_unknown_application_or_param(client: httpx.AsyncClient, billing: None) -> None:
    await refused(
        client,
        analytics("nowhere", "amount"),
        404,
        {"error": {"code": "APPLICATION_NOT_FOUND", "message": "No application nowhere."}},
    )
    await refused(
        client,
        analytics("billing", "nothing"),
        404,
        {
            "error": {
                "code": "PARAM_NOT_FOUND",
                "message": "Application billing has no param nothing.",
            }
        },
    )


async def test_an_archived_application(client: httpx.AsyncClient, billing: None) -> None:
    response = await client.patch(f"{APPLICATIONS}/billing", json={"archived": True})
    assert response.status_code == 200, response.text
    await refused(
        client,
        analytics("billing", "amount"),
        409,
        {
            "error": {
                "code": "APPLICATION_ARCHIVED",
                "message": "Application billing is archived: its param analytics are closed. "
                "Its records are still in the record list and in the statistics.",
            }
        },
    )
    # Its records are.
    listed = await client.get(RECORDS, params={"application_key": "billing"})
    assert listed.json()["total"] == 1


async def test_a_bad_zone_or_range(client: httpx.AsyncClient, billing: None) -> None:
    path = analytics("billing", "amount")
    await refused(
        client,
        path,
        422,
        query_problem("tz", "'Mars/Olympus' is not an IANA time zone name (as Europe/Berlin)."),
        tz="Mars/Olympus",
    )
    await refused(
        client,
        path,
        422,
        query_problem(
            "bucket",
            "the range spans more than 10,000 hour buckets: narrow date_from and date_to, or "
            "choose a longer bucket.",
        ),
        bucket="hour",
        date_from="2020-01-01T00:00:00Z",
        date_to="2026-01-01T00:00:00Z",
    )


@pytest.mark.parametrize(
    ("name", "value", "code", "message"),
    [
        ("bucket", "fortnight", "ENUM", "Input should be 'hour', 'day', 'week' or 'month'"),
        (
            "drift_threshold",
            "-0.1",
            "GREATER_THAN_EQUAL",
            "Input should be greater than or equal to 0",
        ),
        (
            "drift_threshold",
            "much",
            "FLOAT_PARSING",
            "Input should be a valid number, unable to parse string as a number",
        ),
        ("drift_threshold", "nan", "FINITE_NUMBER", "Input should be a finite number"),
        ("limit", "0", "GREATER_THAN_EQUAL", "Input should be greater than or equal to 1"),
    ],
)
async def test_a_bad_query_parameter(
    client: httpx.AsyncClient, billing: None, name: str, value: str, code: str, message: str
) -> None:
    await refused(
        client,
        analytics("billing", "amount"),
        422,
        {
            "error": {
                "code": "VALIDATION_ERROR",
                "message": f"Invalid request: query.{name}.",
                "details": [{"field": f"query.{name}", "code": code, "message": message}],
            }
        },
        **{name: value},
    )


# Every number, recounted: records and queries drawn by hypothesis.


ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Europe/Berlin"]
BUCKETS = ["hour", "day", "week", "month"]


def written(moment: datetime, offset: int | None) -> str:
    """A time as the service stores it (offset None), or at that offset in minutes."""
    if offset is None:
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    return moment.astimezone(timezone(timedelta(minutes=offset))).isoformat()


# Datetime values: quarter-hours around New York's fall back, or a microsecond either side.
DUE = st.builds(
    lambda quarters, nudge, offset: written(
        FALL_BACK + timedelta(minutes=15 * quarters) + nudge, offset
    ),
    st.integers(min_value=-192, max_value=192),
    st.sampled_from([timedelta(0), TICK, -TICK]),
    st.sampled_from([None, None, 0, -240, -300, 330, 345, 60]),
)
# Values of each param's type: few distinct ones, so that buckets share them.
TYPED: dict[str, st.SearchStrategy[Any]] = {
    "number": st.integers(-3, 3) | st.integers(-4000, 4000).map(lambda n: n / 4),
    "integer": st.integers(-5, 5) | st.integers(-(10**6), 10**6),
    "enum": st.sampled_from(TIERS),
    "boolean": st.booleans(),
    "datetime": DUE,
    "string": st.sampled_from(["a", "b", "c", "É", ""]) | st.text(alphabet="xyz", max_size=2),
    "json": st.integers(-9, 9)
    | st.text(alphabet="ab", max_size=2)
    | st.booleans()
    | st.lists(st.integers(0, 3), max_size=2)
    | st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3), max_size=2),
}
# Values of another type (held from before the param was registered).
OTHER: dict[str, st.SearchStrategy[Any]] = {
    "number": st.sampled_from(["12", True, [1], {"a": 1}]),
    "integer": st.sampled_from(["12", False, []]),
    "enum": st.sampled_from([3, False, ["gold"], {"x": "y"}]),
    "boolean": st.sampled_from(["true", 0, 1.5, []]),
    "datetime": st.sampled_from([20261101, "not a time", "2026-11-01T01:30:00", "2026-11-01"]),
    "string": st.sampled_from([1, True, ["a"]]),
    "json": st.nothing(),
}


@st.composite
def record_params(draw: st.DrawFn) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, param_type in PARAMS.items():
        kind = draw(st.sampled_from(["absent", "null", "typed", "typed", "typed", "other"]))
        if kind == "null":
            params[key] = None
        elif kind == "typed" or (kind == "other" and param_type != "json"):
            params[key] = draw(TYPED[param_type] if kind == "typed" else OTHER[param_type])
    return params


@dataclass(frozen=True)
class Placed:
    """A record: seconds from the example's anchor, how it snaps to an edge, its params."""

    seconds: int
    snap: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Query:
    tz: str
    bucket: str | None
    limit: int
    threshold: float
    date_from: int | None  # seconds from the anchor
    date_to: int | None


@dataclass(frozen=True)
class Scene:
    records: list[Placed]
    outsider: Placed  # a record of no application
    query: Query


@st.composite
def scenes(draw: st.DrawFn) -> Scene:
    reach = draw(st.sampled_from([3 * 3600, 2 * 86400, 30 * 86400]))
    seconds = st.integers(-reach, reach)
    snap = st.sampled_from(["none", "none", "local hour", "local day", "utc hour"])
    placed = st.builds(Placed, seconds, snap, record_params())
    records = draw(st.lists(placed, min_size=1, max_size=16))
    bound = st.none() | seconds
    query = Query(
        tz=draw(st.sampled_from(ZONES)),
        bucket=draw(st.none() | st.sampled_from(BUCKETS)),
        limit=draw(st.integers(1, 4)),
        threshold=draw(st.sampled_from([0.0, 0.25, 0.3, 1.0])),
        date_from=draw(bound),
        date_to=draw(bound),
    )
    return Scene(records, draw(placed), query)


def first_sunday_of_november(year: int) -> datetime:
    """New York's fall back that year (06:00 UTC)."""
    day = date(year, 11, 1)
    day += timedelta(days=(6 - day.weekday()) % 7)
    return datetime(day.year, day.month, day.day, 6, tzinfo=UTC)


def placed_at(anchor: datetime, record: Placed, tz: ZoneInfo) -> datetime:
    at = anchor + timedelta(seconds=record.seconds, microseconds=record.seconds % 7)
    here = at.astimezone(tz)
    if record.snap == "local hour":
        return here.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    if record.snap == "local day":
        return datetime.combine(here.date(), datetime.min.time(), tz).astimezone(UTC)
    if record.snap == "utc hour":
        return at.replace(minute=0, second=0, microsecond=0)
    return at


# The plain recount: local keys from the zone, Fractions for exact numbers.

EITHER = object()  # where the drift is the threshold, within rounding: either answer is right


def bucket_key(moment: datetime, bucket: str, tz: ZoneInfo) -> Hashable:
    here = moment.astimezone(tz)
    day = here.date()
    if bucket == "hour":
        return day, here.hour, here.utcoffset()
    if bucket == "day":
        return day
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def key_start(key: Any, tz: ZoneInfo) -> str:
    """The key's first instant, written as the answer writes times (offset 0 as Z)."""
    if isinstance(key, tuple):
        day, hour, offset = key
        start = datetime(day.year, day.month, day.day, hour, tzinfo=timezone(offset))
    else:
        start = datetime(key.year, key.month, key.day, tzinfo=tz)
    text = start.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def keys_between(first: datetime, last: datetime, bucket: str, tz: ZoneInfo) -> list[Hashable]:
    """Every bucket from the first's to the last's: local hours and days change on UTC's
    quarter-hours in these zones."""
    keys = [bucket_key(first, bucket, tz)]
    moment = first
    while moment < last:
        moment = min(moment + timedelta(minutes=15), last)
        key = bucket_key(moment, bucket, tz)
        if key != keys[-1]:
            keys.append(key)
    return keys


def default_bucket(first: datetime, last: datetime) -> str:
    span = last - first
    if span <= timedelta(days=2):
        return "hour"
    if span <= timedelta(days=120):
        return "day"
    return "week" if span <= timedelta(days=3 * 366) else "month"


def held(param_type: str, value: Any, bucket: str, tz: ZoneInfo) -> Any:
    """The value as counted; None if it is not one of the param's type."""
    if param_type in ("number", "integer"):
        plain = isinstance(value, int | float) and not isinstance(value, bool)
        return Fraction(value) if plain else None
    if param_type in ("string", "enum"):
        return value if isinstance(value, str) else None
    if param_type == "boolean":
        return str(value).lower() if isinstance(value, bool) else None
    if param_type == "datetime":
        try:
            moment = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return None
        return key_start(bucket_key(moment, bucket, tz), tz) if moment.tzinfo else None
    return "held"


def percentile(ordered: list[Fraction], p: int) -> Fraction:
    rank = Fraction(p * (len(ordered) - 1), 100)
    below = math.floor(rank)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (rank - below)


def number_fields(values: list[Fraction]) -> dict[str, Any]:
    if not values:
        return numbers()
    ordered = sorted(values)
    cuts = {f"p{p}": percentile(ordered, p) for p in (5, 25, 50, 75, 95)}
    mean = math.fsum(float(value) for value in values) / len(values)
    return numbers(min=ordered[0], max=ordered[-1], mean=mean, **cuts)


def value_fields(values: list[Any], limit: int) -> dict[str, Any]:
    counted = sorted(Counter(values).items(), key=lambda item: (-item[1], item[0]))[:limit]
    return {
        **dict.fromkeys(NUMBER_FIELDS),
        "values": [{"value": value, "count": n} for value, n in counted],
        "other": len(values) - sum(n for _, n in counted),
    }


def drift(param_type: str, before: list[Any], now: list[Any], fields: Any) -> Fraction | None:
    """Exact; None for unknown, -1 for the median off a range of zero."""
    if not before or not now or param_type == "json":
        return None
    if param_type in ("number", "integer"):
        previous = number_fields(before)
        spread_ = previous["p75"] - previous["p25"]
        shift = abs(fields["p50"] - previous["p50"])
        if spread_ == 0:
            return Fraction(0) if shift == 0 else Fraction(-1)
        return shift / spread_
    shares, previous_shares = Counter(now), Counter(before)
    return (
        sum(
            (
                abs(Fraction(shares[v], len(now)) - Fraction(previous_shares[v], len(before)))
                for v in shares.keys() | previous_shares.keys()
            ),
            Fraction(0),
        )
        / 2
    )


def recount(
    times: list[tuple[datetime, dict[str, Any]]], key: str, query: Query, anchor: datetime
) -> dict[str, Any]:
    """The answer for the records of the application at those times, as docs say it."""
    param_type = PARAMS[key]
    tz = ZoneInfo(query.tz)
    low = None if query.date_from is None else anchor + timedelta(seconds=query.date_from)
    high = None if query.date_to is None else anchor + timedelta(seconds=query.date_to)
    considered = [
        (at, params)
        for at, params in times
        if (low is None or at >= low) and (high is None or at <= high)
    ]
    first = low or (considered[0][0] if considered else None)
    last = high or (considered[-1][0] if considered else None)
    bucket = query.bucket or (default_bucket(first, last) if first and last else "day")
    keys = keys_between(first, last, bucket, tz) if first and last and first <= last else []
    per_key: dict[Hashable, dict[str, Any]] = {
        k: {"values": [], "missing": 0, "mismatched": 0} for k in keys
    }
    for at, params in considered:
        tally = per_key[bucket_key(at, bucket, tz)]
        value = params.get(key)
        if value is None:
            tally["missing"] += 1
        elif (counted := held(param_type, value, bucket, tz)) is None:
            tally["mismatched"] += 1
        else:
            tally["values"].append(counted)
    buckets = []
    before: list[Any] = []
    for k in keys:
        tally = per_key[k]
        values = tally["values"]
        if param_type in ("number", "integer"):
            fields = number_fields(values)
        elif param_type == "json":
            fields = numbers()
        else:
            fields = value_fields(values, query.limit)
        exact = drift(param_type, before, values, fields)
        flagged: Any = exact is not None and (exact == -1 or exact > query.threshold)
        if exact is not None and exact != -1 and abs(exact - Fraction(query.threshold)) < 1e-9:
            flagged = EITHER
        buckets.append(
            {
                "start": key_start(k, tz),
                "count": len(values),
                "missing": tally["missing"],
                "mismatched": tally["mismatched"],
                **fields,
                "drift": None if exact is None or exact == -1 else exact,
                "drifted": flagged,
            }
        )
        before = values
    return {
        "bucket": bucket,
        "total": len(considered),
        "missing": sum(tally["missing"] for tally in per_key.values()),
        "buckets": buckets,
    }


def assert_close(answer: Any, expected: Any, where: str = "answer") -> None:
    """Equal, numbers within rounding (the exact ones are Fractions here, doubles there)."""
    if expected is EITHER:
        assert isinstance(answer, bool), where
    elif isinstance(expected, Fraction | float) and not isinstance(expected, bool):
        assert isinstance(answer, int | float), (where, answer, expected)
        assert math.isclose(answer, expected, rel_tol=1e-9, abs_tol=1e-9), (where, answer, expected)
    elif isinstance(expected, dict):
        assert isinstance(answer, dict) and answer.keys() >= expected.keys(), (where, answer)
        for name, value in expected.items():
            assert_close(answer[name], value, f"{where}.{name}")
    elif isinstance(expected, list):
        assert isinstance(answer, list) and len(answer) == len(expected), (where, answer, expected)
        for index, (got, wanted) in enumerate(zip(answer, expected, strict=True)):
            assert_close(got, wanted, f"{where}[{index}]")
    else:
        assert answer == expected, (where, answer, expected)


def request_params(query: Query, anchor: datetime) -> dict[str, Any]:
    params: dict[str, Any] = {
        "tz": query.tz,
        "limit": query.limit,
        "drift_threshold": query.threshold,
    }
    if query.bucket is not None:
        params["bucket"] = query.bucket
    for name, seconds in (("date_from", query.date_from), ("date_to", query.date_to)):
        if seconds is not None:
            params[name] = (anchor + timedelta(seconds=seconds)).isoformat()
    return params


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scene=scenes())
async def test_every_number_is_a_recount_of_the_records(
    client: httpx.AsyncClient, timeline: Timeline, scene: Scene
) -> None:
    """Each example in a year of its own, around New York's fall back: the log's time only
    moves on."""
    anchor = first_sunday_of_november(timeline.moment.year + 1)
    timeline.at(anchor - timedelta(days=40))
    app = f"app_{anchor.year}"
    await create_application(client, app, allow_unknown_params=True)
    tz = ZoneInfo(scene.query.tz)
    times = sorted(
        ((placed_at(anchor, r, tz), r.params) for r in scene.records), key=lambda item: item[0]
    )
    outsider = (placed_at(anchor, scene.outsider, tz), None, scene.outsider.params)
    for at, owner, params in sorted(
        [*((at, app, params) for at, params in times), outsider], key=lambda item: item[0]
    ):
        await post_at(client, timeline, at, owner, **params)
    for key, param_type in PARAMS.items():
        await register(client, app, key, param_type)

    params = request_params(scene.query, anchor)
    for key in PARAMS:
        answer = await ask(client, app, key, **params)
        assert_close(answer, recount(times, key, scene.query, anchor), key)
        flagged = [b["start"] for b in answer["buckets"] if b["drifted"]]
        assert answer["drifted_buckets"] == flagged

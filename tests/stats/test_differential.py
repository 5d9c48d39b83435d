"""GET /api/audit-trail/stats against a plain recount (recount.py) of the records the record list
gives for the same filters: records and queries drawn by hypothesis around daylight-saving
changes, then the edges by example. Records are placed in time by holding audittrail.clock.now
at the instant wanted while they are posted."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from audittrail import clock
from audittrail.app import create_app
from tests.conftest import (  # _empty_postgres: how the database_url fixture empties one
    ADMIN_KEY,
    _empty_postgres,
    app_settings,
    make_client,
)
from tests.helpers import RECORDS, create_application
from tests.stats.recount import DIMENSIONS, TICK, expected_stats, normal

STATS = "/api/audit-trail/stats"
BATCH = f"{RECORDS}/batch"
Record = dict[str, Any]
Filters = dict[str, str]

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",  # +05:30
    "Asia/Kathmandu",  # +05:45
    "Australia/Lord_Howe",  # +10:30, and +11 in summer: a daylight-saving change of 30 minutes
]
BUCKETS = ["hour", "day", "week", "month"]
# Daylight-saving changes, as UTC instants.
BERLIN_SPRING = datetime(2027, 3, 28, 1, tzinfo=UTC)  # 02:00 +01 -> 03:00 +02: a 23-hour day
BERLIN_AUTUMN = datetime(2027, 10, 31, 1, tzinfo=UTC)  # 03:00 +02 -> 02:00 +01: 25 hours
NEW_YORK_AUTUMN = datetime(2027, 11, 7, 6, tzinfo=UTC)  # 02:00 -04 -> 01:00 -05
LORD_HOWE_AUTUMN = datetime(2027, 4, 3, 15, tzinfo=UTC)  # 02:00 +11 -> 01:30 +10:30
LORD_HOWE_SPRING = datetime(2027, 10, 2, 15, 30, tzinfo=UTC)  # 02:00 +10:30 -> 02:30 +11
CHANGES = [  # (zone, instant)
    ("Europe/Berlin", BERLIN_SPRING),
    ("Europe/Berlin", BERLIN_AUTUMN),
    ("America/New_York", NEW_YORK_AUTUMN),
    ("Australia/Lord_Howe", LORD_HOWE_AUTUMN),
    ("Australia/Lord_Howe", LORD_HOWE_SPRING),
]
# Where the example tests' log begins: the records the app writes as it starts are at START.
START = datetime(2027, 10, 1, tzinfo=UTC)

APPLICATION_KEYS = ["alpha", "beta"]
WRITERS = ["bootstrap", "alice", "bob"]  # API keys; a record's actor is api_key:<name>
EVENT_TYPES = ["invoice.paid", "invoice.refunded", "user.login"]
CATEGORIES = ["billing", "security", "general"]
SEVERITIES = ["critical", "high", "medium", "low", "none"]
ENTITY_TYPES = ["", "invoice", "user"]  # "" is an entity type, not its absence
ENTITY_IDS = ["INV-1", "INV-2"]
SUMMARIES = ["Refund issued for INV-1", "Card declined at checkout", "Login from a new device"]
SEARCHES = ["refund*", "declined", "device -login", '"card declined"', "INV-1"]
REGIONS = ["region:eu", "region:us"]
AMOUNT_PARAM = [{"key": "amount", "type": "integer"}]
AMOUNTS = [json.dumps([{"key": "amount", "operator": "gte", "value": n}]) for n in (10, 50, 90)]


class HeldClock:
    """audittrail.clock.now, held at whatever instant the test sets: records get exactly it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def log_clock(monkeypatch: pytest.MonkeyPatch) -> HeldClock:
    """Requested before `client`, so that the app's own first records are at START."""
    held = HeldClock(START)
    monkeypatch.setattr(clock, "now", held.now)
    return held


@dataclass(frozen=True)
class Planned:
    """A record to post at an instant, by one of the WRITERS."""

    at: datetime
    fields: Record
    writer: str = "bootstrap"


def planned(at: datetime, **fields: Any) -> Planned:
    return Planned(at, {"event_type": EVENT_TYPES[0], "summary": SUMMARIES[0], **fields})


async def post_in_order(
    writers: dict[str, httpx.AsyncClient], log_clock: HeldClock, records: list[Planned]
) -> None:
    """One batch per instant and writer, the clock held at that instant, oldest first."""
    ordered = sorted(records, key=lambda record: record.at)
    for (at, writer), batch in itertools.groupby(ordered, key=lambda r: (r.at, r.writer)):
        log_clock.at = at
        response = await writers[writer].post(BATCH, json=[record.fields for record in batch])
        assert response.status_code == 201, response.text


async def matching_records(client: httpx.AsyncClient, filters: Filters) -> list[Record]:
    """Every record the list gives for the filters, page after page."""
    records: list[Record] = []
    cursor: dict[str, str] = {}
    while True:
        response = await client.get(RECORDS, params={**filters, "page_size": 200, **cursor})
        assert response.status_code == 200, response.text
        page = response.json()
        records += page["records"]
        if page["next_cursor"] is None:
            return records
        cursor = {"cursor": page["next_cursor"]}


async def assert_stats_are_the_recount(
    client: httpx.AsyncClient, filters: Filters, *, bucket: str, tz: str, limit: int | None = None
) -> dict[str, Any]:
    """The answer, its times spelled one way, once it is shown to be the recount of the records
    the list gives for the same filters (no limit: the default, 10)."""
    params = {**filters, "bucket": bucket, "tz": tz}
    if limit is not None:
        params["limit"] = str(limit)
    response = await client.get(STATS, params=params)
    assert response.status_code == 200, response.text
    records = await matching_records(client, filters)
    expected = expected_stats(records, filters, bucket=bucket, tz_name=tz, limit=limit or 10)
    answer = normal(response.json())
    assert answer == expected, (filters, bucket, tz, limit)
    return answer


def utc(moment: datetime) -> str:
    return moment.isoformat()


# Drawn by hypothesis: records around a daylight-saving change, and queries over them.


def moments_near(opening: datetime) -> st.SearchStrategy[datetime]:
    """Instants over the four days from ``opening`` (a UTC hour): mostly on quarter-hours, which
    are the local hour and day edges of every zone in ZONES, or a microsecond either side."""
    nudges = st.sampled_from([timedelta(0), TICK, -TICK]) | st.integers(
        min_value=1, max_value=15 * 60 * 10**6 - 1
    ).map(lambda us: timedelta(microseconds=us))
    return st.builds(
        lambda hour, quarter, nudge: opening + timedelta(hours=hour, minutes=15 * quarter) + nudge,
        st.integers(min_value=0, max_value=95),
        st.integers(min_value=0, max_value=3),
        nudges,
    )


record_fields = st.fixed_dictionaries(
    {
        "event_type": st.sampled_from(EVENT_TYPES),
        "summary": st.sampled_from(SUMMARIES),
        "category": st.sampled_from(CATEGORIES),
        "severity": st.sampled_from(SEVERITIES),
    },
    optional={
        "application_key": st.sampled_from(APPLICATION_KEYS),
        "entity_type": st.sampled_from(ENTITY_TYPES),
        "entity_id": st.sampled_from(ENTITY_IDS),
        "metadata": st.sampled_from([{"region": "eu"}, {"region": "us"}]),
        "params": st.fixed_dictionaries({"amount": st.integers(min_value=0, max_value=99)}),
    },
)


def listed(values: list[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True).map(",".join)


# A filter's values, by name. application_id names the application's key: its id is only known
# once the example's database has it (check_scene).
FILTER_VALUES: dict[str, st.SearchStrategy[str]] = {
    "event_types": listed([*EVENT_TYPES, "api_key.created"]),
    "categories": listed(CATEGORIES),
    "severities": listed(SEVERITIES),
    "entity_type": st.sampled_from([*ENTITY_TYPES, "api_key"]),
    "application_key": st.sampled_from(APPLICATION_KEYS),
    "application_id": st.sampled_from(APPLICATION_KEYS),
    "actors": listed([f"api_key:{name}" for name in WRITERS] + ["system"]),
    "entity_id": st.sampled_from(ENTITY_IDS),
    "search": st.sampled_from(SEARCHES),
    "metadata": st.sampled_from(REGIONS),
    "param_filters": st.sampled_from(AMOUNTS),
}


@dataclass(frozen=True)
class Query:
    filters: Filters
    bucket: str
    tz: str
    limit: int


@dataclass(frozen=True)
class Scene:
    """One example: the records around a change, and the queries to check over them."""

    opening: datetime
    records: list[Planned]
    queries: list[Query]


@st.composite
def queries(draw: st.DrawFn, opening: datetime, times: list[datetime], zone: str) -> Query:
    """Up to three filters besides the dates; half the time in the zone whose change it is."""
    names = draw(st.lists(st.sampled_from(sorted(FILTER_VALUES)), max_size=3, unique=True))
    filters = {name: draw(FILTER_VALUES[name]) for name in names}
    edges = moments_near(opening) | st.sampled_from(times)
    bounds = sorted(draw(st.lists(edges, min_size=2, max_size=2)))
    for name, bound in zip(("date_from", "date_to"), bounds, strict=True):
        if draw(st.booleans()):
            filters[name] = utc(bound)
    return Query(
        filters,
        bucket=draw(st.sampled_from(BUCKETS)),
        tz=draw(st.sampled_from(ZONES) | st.just(zone)),
        limit=draw(st.integers(min_value=1, max_value=5)),
    )


@st.composite
def scenes(draw: st.DrawFn) -> Scene:
    zone, change = draw(st.sampled_from(CHANGES))
    opening = change.replace(minute=0) - timedelta(days=2)
    times = sorted(draw(st.lists(moments_near(opening), min_size=5, max_size=40)))
    records = [Planned(at, draw(record_fields), draw(st.sampled_from(WRITERS))) for at in times]
    checks = st.lists(queries(opening, times, zone), min_size=3, max_size=4)
    return Scene(opening, records, draw(checks))


def fresh_database(database_url: str, template: Path, directory: Path) -> str:
    """The test's database, empty again for one example alone (as the database_url fixture
    gives it): each example's log starts where its records are, and a failing one replays
    alike."""
    if database_url.startswith("sqlite"):
        path = directory / "audittrail.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    asyncio.run(_empty_postgres(database_url))
    return database_url


async def writer(admin: httpx.AsyncClient, app: FastAPI, name: str) -> httpx.AsyncClient:
    """A client whose records carry the actor api_key:<name>."""
    response = await admin.post("/api/api-keys", json={"name": name, "roles": ["writer"]})
    assert response.status_code == 201, response.text
    return make_client(app, {"Authorization": f"Bearer {response.json()['key']}"})


async def check_scene(
    database_url: str, directory: Path, log_clock: HeldClock, scene: Scene
) -> None:
    """The scene's records posted to an app on the database, then each query's answer checked
    against the recount."""
    log_clock.at = scene.opening - timedelta(hours=1)
    app = create_app(app_settings(database_url, directory))
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        admin = await stack.enter_async_context(
            make_client(app, {"Authorization": f"Bearer {ADMIN_KEY}"})
        )
        ids = {
            key: (await create_application(admin, key, params=AMOUNT_PARAM))["id"]
            for key in APPLICATION_KEYS
        }
        writers = {"bootstrap": admin}
        for name in WRITERS[1:]:
            writers[name] = await stack.enter_async_context(await writer(admin, app, name))
        await post_in_order(writers, log_clock, scene.records)
        for query in scene.queries:
            filters = dict(query.filters)
            if "application_id" in filters:
                filters["application_id"] = ids[filters["application_id"]]
            answer = await assert_stats_are_the_recount(
                admin, filters, bucket=query.bucket, tz=query.tz, limit=query.limit
            )
            event(f"from_rollups: {answer['from_rollups']}")
            event("records matched" if answer["total"] else "no record matched")


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scene=scenes())
def test_stats_are_a_recount_of_the_listed_records_for_any_records_and_filters(
    database_url: str,
    sqlite_template: Path,
    tmp_path: Path,
    log_clock: HeldClock,
    scene: Scene,
) -> None:
    """Each example on an app and a database of its own: the fixtures are the test's, not the
    example's, and the log only runs forward."""
    directory = Path(tempfile.mkdtemp(dir=tmp_path))
    url = fresh_database(database_url, sqlite_template, directory)
    asyncio.run(check_scene(url, directory, log_clock, scene))


# The edges, by example. Each test's records come after START, where the app's own are.


def series_points(answer: dict[str, Any]) -> list[tuple[str, int]]:
    return [(point["start"], point["count"]) for point in answer["series"]]


async def test_records_on_hour_and_day_edges_around_new_yorks_fall_back_are_in_their_local_buckets(
    log_clock: HeldClock, client: httpx.AsyncClient
) -> None:
    midnight = datetime(2027, 11, 7, 4, tzinfo=UTC)  # 00:00 -04:00, the 25-hour day's start
    next_midnight = datetime(2027, 11, 8, 5, tzinfo=UTC)  # 00:00 -05:00
    one = timedelta(hours=1)
    edges = [
        *(midnight - TICK, midnight, midnight + TICK),
        *(midnight + one - TICK, midnight + one, midnight + 1.5 * one),  # 01:00 -04:00
        *(NEW_YORK_AUTUMN - TICK, NEW_YORK_AUTUMN, NEW_YORK_AUTUMN + TICK),  # 01:00 -05:00
        *(NEW_YORK_AUTUMN + one - TICK, NEW_YORK_AUTUMN + one),
        *(next_midnight - TICK, next_midnight),
    ]
    await post_in_order({"bootstrap": client}, log_clock, [planned(at) for at in edges])
    the_day = {"date_from": utc(midnight), "date_to": utc(next_midnight - TICK)}

    hours = await assert_stats_are_the_recount(
        client, the_day, bucket="hour", tz="America/New_York"
    )
    assert series_points(hours)[:4] == [
        ("2027-11-07T00:00:00-04:00", 3),
        ("2027-11-07T01:00:00-04:00", 3),
        ("2027-11-07T01:00:00-05:00", 3),
        ("2027-11-07T02:00:00-05:00", 1),
    ]
    assert len(hours["series"]) == 25
    assert series_points(hours)[-1] == ("2027-11-07T23:00:00-05:00", 1)
    days = await assert_stats_are_the_recount(client, the_day, bucket="day", tz="America/New_York")
    assert series_points(days) == [("2027-11-07T00:00:00-04:00", 11)]
    everything = await assert_stats_are_the_recount(
        client, {}, bucket="hour", tz="America/New_York"
    )
    assert everything["busiest_day"] is not None
    assert everything["busiest_day"]["start"] == "2027-11-07T00:00:00-04:00"
    assert everything["busiest_day"]["count"] == 11
    for tz in ZONES:
        for bucket in ("hour", "day"):
            await assert_stats_are_the_recount(client, the_day, bucket=bucket, tz=tz, limit=2)
        await assert_stats_are_the_recount(client, {}, bucket="day", tz=tz, limit=1)


async def test_ranges_from_and_to_mid_hours_and_day_edges_are_counted_exactly_on_both_paths(
    log_clock: HeldClock, client: httpx.AsyncClient
) -> None:
    """The rollups path reads whole days, whole hours and the part-hours at either end: records
    on each side of those seams, and ranges starting and ending on them and between them."""
    await create_application(client, "alpha")
    day = datetime(2027, 10, 11, tzinfo=UTC)
    offsets = [timedelta(0), timedelta(minutes=30) - TICK, timedelta(minutes=30)]
    offsets.append(timedelta(hours=1) - TICK)
    times = [
        day + timedelta(days=d, hours=h) + offset
        for d in range(3)
        for h in (0, 10, 23)
        for offset in offsets
    ]
    times = [day - TICK, *times, day + timedelta(days=3)]
    entity_types: list[dict[str, Any]] = [{"entity_type": ""}, {}, {"entity_type": "invoice"}, {}]
    records = [
        planned(
            at,
            event_type=EVENT_TYPES[i % 3],
            severity=SEVERITIES[i % 5],
            **entity_types[i % 4],
            **({"application_key": "alpha"} if i % 2 else {}),
        )
        for i, at in enumerate(times)
    ]
    await post_in_order({"bootstrap": client}, log_clock, records)
    mid_hour = timedelta(hours=10, minutes=30)
    ranges = {  # name: (date_from, date_to, records within)
        "mid-hour to mid-hour": (day + mid_hour, day + timedelta(days=2) + mid_hour, 25),
        "whole days": (day, day + timedelta(days=2) - TICK, 24),
        "a microsecond in": (day + TICK, day + timedelta(days=2), 24),
        "a microsecond out": (day - TICK, day + timedelta(days=2) - TICK, 25),
    }
    views = [("hour", "UTC"), ("day", "Asia/Kolkata"), ("hour", "Asia/Kathmandu")]
    views.append(("week", "Europe/Berlin"))
    more_filters: list[Filters] = [
        {"application_key": "alpha"},  # actors from their running totals over whole days
        {"event_types": "invoice.paid,user.login"},
        {"entity_type": ""},
        {"application_key": "alpha", "severities": "critical,low,none"},
        {"actors": "api_key:bootstrap"},  # the records path
    ]
    for (name, (start, end, total)), (bucket, tz) in zip(ranges.items(), views, strict=True):
        dates = {"date_from": utc(start), "date_to": utc(end)}
        answer = await assert_stats_are_the_recount(client, dates, bucket=bucket, tz=tz)
        assert (answer["total"], answer["from_rollups"]) == (total, True), name
        for filters in more_filters:
            await assert_stats_are_the_recount(
                client, {**filters, **dates}, bucket=bucket, tz=tz, limit=3
            )


async def test_a_search_is_counted_from_the_matching_records(
    log_clock: HeldClock, client: httpx.AsyncClient
) -> None:
    moments = [datetime(2027, 10, 20, hour, 17, tzinfo=UTC) for hour in range(0, 24, 4)]
    records = [
        planned(at, summary=SUMMARIES[i % 3], category="billing") for i, at in enumerate(moments)
    ]
    await post_in_order({"bootstrap": client}, log_clock, records)
    for search, total in (("refund*", 2), ('"card declined"', 2), ("device -login", 0)):
        answer = await assert_stats_are_the_recount(
            client, {"search": search}, bucket="hour", tz="Asia/Kathmandu", limit=2
        )
        assert (answer["total"], answer["from_rollups"]) == (total, False)
    within = {
        "search": "refund*",
        "date_from": utc(moments[1]),
        "date_to": utc(moments[4]),
    }
    await assert_stats_are_the_recount(client, within, bucket="day", tz="Australia/Lord_Howe")


async def test_week_and_month_buckets_span_a_month_end_and_a_daylight_saving_change(
    log_clock: HeldClock, client: httpx.AsyncClient
) -> None:
    """Berlin's 25-hour Sunday, 2027-10-31, ends a week and a month."""
    monday = datetime(2027, 10, 24, 22, tzinfo=UTC)  # 2027-10-25 00:00 +02:00
    november = datetime(2027, 10, 31, 23, tzinfo=UTC)  # 2027-11-01 00:00 +01:00, a Monday
    noons = [datetime(2027, 10, 25, 12, tzinfo=UTC) + timedelta(days=d) for d in range(12)]
    edges = [monday - TICK, monday, november - TICK, november]
    await post_in_order({"bootstrap": client}, log_clock, [planned(at) for at in edges + noons])
    ranged = {"date_from": utc(monday), "date_to": utc(datetime(2027, 11, 5, 23, tzinfo=UTC))}

    weeks = await assert_stats_are_the_recount(client, ranged, bucket="week", tz="Europe/Berlin")
    assert series_points(weeks) == [
        ("2027-10-25T00:00:00+02:00", 9),
        ("2027-11-01T00:00:00+01:00", 6),
    ]
    months = await assert_stats_are_the_recount(client, ranged, bucket="month", tz="Europe/Berlin")
    assert series_points(months) == [
        ("2027-10-01T00:00:00+02:00", 9),
        ("2027-11-01T00:00:00+01:00", 6),
    ]
    for tz in ZONES:
        for bucket in ("week", "month"):
            await assert_stats_are_the_recount(client, ranged, bucket=bucket, tz=tz, limit=1)
            await assert_stats_are_the_recount(client, {}, bucket=bucket, tz=tz)


EMPTY_TOP = {"items": [], "other": 0}


async def test_no_matching_records_give_zeros_and_a_series_only_over_a_given_range(
    log_clock: HeldClock, client: httpx.AsyncClient
) -> None:
    await post_in_order(
        {"bootstrap": client}, log_clock, [planned(datetime(2027, 10, 12, 9, tzinfo=UTC))]
    )
    nothing = {"event_types": "no.such.event"}
    answer = await assert_stats_are_the_recount(client, nothing, bucket="day", tz="UTC")
    assert answer == {
        "total": 0,
        "first_record_at": None,
        "last_record_at": None,
        "bucket": "day",
        "tz": "UTC",
        "series": [],
        "top": {name: EMPTY_TOP for name in DIMENSIONS},
        "heat_map": [[0] * 24 for _ in range(7)],
        "busiest_day": None,
        "from_rollups": True,
    }
    ranged = {
        **nothing,
        "date_from": utc(datetime(2027, 10, 11, tzinfo=UTC)),
        "date_to": utc(datetime(2027, 10, 13, 12, tzinfo=UTC)),
    }
    answer = await assert_stats_are_the_recount(client, ranged, bucket="day", tz="UTC")
    assert series_points(answer) == [
        ("2027-10-11T00:00:00+00:00", 0),
        ("2027-10-12T00:00:00+00:00", 0),
        ("2027-10-13T00:00:00+00:00", 0),
    ]
    searched = {**ranged, "search": "nothing-here-matches"}
    answer = await assert_stats_are_the_recount(client, searched, bucket="hour", tz="Asia/Kolkata")
    assert (answer["total"], answer["from_rollups"], len(answer["series"])) == (0, False, 61)


# Lord Howe's clocks go back half an hour: 02:00 +11:00 is followed by 01:30 +10:30 again.
LORD_HOWE_2028 = datetime(2028, 4, 1, 15, tzinfo=UTC)
AROUND_LORD_HOWE_2028 = [
    LORD_HOWE_2028 - TICK,
    LORD_HOWE_2028,
    LORD_HOWE_2028 + timedelta(minutes=10),
    LORD_HOWE_2028 + timedelta(minutes=30),
]
AN_HOUR_AROUND_LORD_HOWE_2028 = {
    "date_from": utc(LORD_HOWE_2028 - timedelta(hours=1)),
    "date_to": utc(LORD_HOWE_2028 + timedelta(hours=1)),
}


def test_the_recount_makes_lord_howes_repeated_half_hour_an_hour_bucket_of_its_own() -> None:
    fields: Record = {"event_type": "invoice.paid", "category": "general", "severity": "low"}
    fields |= {"actor": "api_key:bootstrap", "application_key": None, "entity_type": None}
    records = [{**fields, "created_at": utc(at)} for at in AROUND_LORD_HOWE_2028]
    expected = expected_stats(
        records,
        AN_HOUR_AROUND_LORD_HOWE_2028,
        bucket="hour",
        tz_name="Australia/Lord_Howe",
        limit=1,
    )
    assert series_points(expected) == [
        ("2028-04-02T01:00:00+11:00", 1),
        ("2028-04-02T01:30:00+10:30", 2),
        ("2028-04-02T02:00:00+10:30", 1),
    ]
    assert expected["heat_map"][6][1:3] == [3, 1]  # a Sunday: three records at 01, one at 02


async def test_lord_howes_repeated_half_hour_is_an_hour_bucket_of_its_own(
    log_clock: HeldClock, client: httpx.AsyncClient
) -> None:
    await post_in_order(
        {"bootstrap": client}, log_clock, [planned(at) for at in AROUND_LORD_HOWE_2028]
    )
    await assert_stats_are_the_recount(
        client, AN_HOUR_AROUND_LORD_HOWE_2028, bucket="hour", tz="Australia/Lord_Howe"
    )

"""GET /stats recomputed in plain Python from the matching records, as docs/stats.md says it.

The records are what the record list gives for the same filters; every number of the answer is
counted here from their times (converted to the reader's zone) and fields, with none of the
service's slots, rollups or bucket arithmetic. A bucket is a maximal run of instants whose local
time shares one key (the local hour and its offset, the local date, the Monday of its week, the
month); its start is the run's first instant. Every zone the tests use has its offsets and its
changes on the quarter-hours of UTC, so runs are found by walking that grid (`STEP`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

Record = dict[str, Any]
STEP = timedelta(minutes=15)
TICK = timedelta(microseconds=1)
DIMENSIONS = {
    "actors": "actor",
    "event_types": "event_type",
    "categories": "category",
    "severities": "severity",
    "applications": "application_key",
    "entity_types": "entity_type",
}
# The filters the rollups are kept by: with no other filter, the answer says from_rollups.
ROLLUP_FILTERS = {
    "application_id",
    "application_key",
    "event_types",
    "categories",
    "severities",
    "entity_type",
    "date_from",
    "date_to",
}


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def bucket_key(instant: datetime, bucket: str, tz: ZoneInfo) -> Hashable:
    here = instant.astimezone(tz)
    if bucket == "hour":
        return here.date(), here.hour, here.utcoffset()
    if bucket == "day":
        return here.date()
    if bucket == "week":
        return here.date() - timedelta(days=here.weekday())
    assert bucket == "month", bucket
    return here.year, here.month


def _quarter(instant: datetime) -> datetime:
    """The start of the UTC quarter-hour the instant is in."""
    return instant.replace(minute=instant.minute - instant.minute % 15, second=0, microsecond=0)


def _key_of_quarter(start: datetime, bucket: str, tz: ZoneInfo) -> Hashable:
    key = bucket_key(start, bucket, tz)
    # The grid is fine enough: no bucket changes inside a quarter-hour.
    assert bucket_key(start + STEP - TICK, bucket, tz) == key, (start, tz)
    return key


def bucket_start(instant: datetime, bucket: str, tz: ZoneInfo) -> datetime:
    """The first instant of the run of the instant's bucket key."""
    start = _quarter(instant)
    key = _key_of_quarter(start, bucket, tz)
    while _key_of_quarter(start - STEP, bucket, tz) == key:
        start -= STEP
    return start


def bucket_starts(first: datetime, last: datetime, bucket: str, tz: ZoneInfo) -> list[datetime]:
    """The starts of every bucket from the one holding ``first`` to the one holding ``last``."""
    start = bucket_start(first, bucket, tz)
    starts, key = [start], bucket_key(start, bucket, tz)
    quarter = start + STEP
    while quarter <= last:
        following = _key_of_quarter(quarter, bucket, tz)
        if following != key:
            starts.append(quarter)
            key = following
        quarter += STEP
    return starts


def top(values: Iterable[str | None], total: int, limit: int) -> dict[str, Any]:
    counted = Counter(values)
    items = sorted(counted.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))
    chosen = items[:limit]
    return {
        "items": [{"value": value, "count": n} for value, n in chosen],
        "other": total - sum(n for _, n in chosen),
    }


def _local(start: datetime, tz: ZoneInfo) -> str:
    return start.astimezone(tz).isoformat()


def _series(
    times: list[datetime],
    first: datetime | None,
    last: datetime | None,
    bucket: str,
    tz: ZoneInfo,
) -> list[dict[str, Any]]:
    if first is None or last is None or first > last:
        return []
    per_bucket = Counter(bucket_key(t, bucket, tz) for t in times)
    return [
        {"start": _local(start, tz), "count": per_bucket[bucket_key(start, bucket, tz)]}
        for start in bucket_starts(first, last, bucket, tz)
    ]


def _heat_map(times: list[datetime], tz: ZoneInfo) -> list[list[int]]:
    grid = [[0] * 24 for _ in range(7)]
    for t in times:
        here = t.astimezone(tz)
        grid[here.weekday()][here.hour] += 1
    return grid


def _busiest_day(records: list[Record], tz: ZoneInfo, limit: int) -> dict[str, Any] | None:
    by_day: dict[date, list[Record]] = {}
    for record in records:
        by_day.setdefault(moment(record["created_at"]).astimezone(tz).date(), []).append(record)
    if not by_day:
        return None
    day = min(by_day, key=lambda d: (-len(by_day[d]), d))
    that_day = by_day[day]
    return {
        "date": day.isoformat(),
        "start": _local(bucket_start(moment(that_day[0]["created_at"]), "day", tz), tz),
        "count": len(that_day),
        "top_event_types": top((r["event_type"] for r in that_day), len(that_day), limit),
    }


def expected_stats(
    records: list[Record], filters: dict[str, str], *, bucket: str, tz_name: str, limit: int
) -> dict[str, Any]:
    """The answer GET /stats should give for these records, matched by these filters."""
    tz = ZoneInfo(tz_name)
    times = sorted(moment(record["created_at"]) for record in records)
    date_from = moment(filters["date_from"]) if "date_from" in filters else None
    date_to = moment(filters["date_to"]) if "date_to" in filters else None
    first = date_from or (times[0] if times else None)
    last = date_to or (times[-1] if times else None)
    total = len(records)
    return {
        "total": total,
        "first_record_at": times[0].isoformat() if times else None,
        "last_record_at": times[-1].isoformat() if times else None,
        "bucket": bucket,
        "tz": tz_name,
        "series": _series(times, first, last, bucket, tz),
        "top": {
            name: top((record[field] for record in records), total, limit)
            for name, field in DIMENSIONS.items()
        },
        "heat_map": _heat_map(times, tz),
        "busiest_day": _busiest_day(records, tz, limit),
        "from_rollups": set(filters) <= ROLLUP_FILTERS,
    }


def normal(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer with its times in one spelling: instants in UTC, local starts with their
    offset (Python's isoformat), so that equal answers compare equal."""

    def local(text: str) -> str:
        return datetime.fromisoformat(text).isoformat()

    def utc(text: str | None) -> str | None:
        return None if text is None else moment(text).isoformat()

    busiest = answer["busiest_day"]
    return {
        **answer,
        "first_record_at": utc(answer["first_record_at"]),
        "last_record_at": utc(answer["last_record_at"]),
        "series": [{**point, "start": local(point["start"])} for point in answer["series"]],
        "busiest_day": None if busiest is None else {**busiest, "start": local(busiest["start"])},
    }

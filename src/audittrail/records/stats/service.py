"""Statistics: what GET /stats answers, from the counts (counts.py) and the zone (buckets.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.applications import service as applications
from audittrail.log import rollups
from audittrail.records import query as q
from audittrail.records import service as records
from audittrail.records.stats import buckets as b
from audittrail.records.stats.counts import Counts, Reading, Span
from audittrail.records.stats.schemas import BusiestDay, Count, SeriesPoint, Stats, Top, Tops


async def statistics(
    session: AsyncSession,
    query: q.RecordQuery,
    *,
    bucket: b.Bucket | None,
    tz_name: str,
    limit: int,
) -> Stats:
    tz = b.zone(tz_name)
    counts = Counts(session, query, await records.filter_types(session, query))
    span = Span.of(query)
    reading = await counts.read(span)
    slots = await _fitting_slots(counts, span, reading.slots, tz)
    busy = {start: n for start, n in slots.items() if n}
    if busy and reading.first is None:
        hours = sorted(busy)
        ends = await counts.ends(span, rollups.hour_of(hours[0]), rollups.hour_of(hours[-1]))
        reading.first, reading.last = ends.first, ends.last
    total = sum(busy.values())
    first = span.start or reading.first
    last = span.end - timedelta.resolution if span.end is not None else reading.last
    chosen = bucket or (b.default_bucket(first, last) if first and last else b.Bucket.DAY)
    series = _series(busy, first, last, chosen, tz)
    busiest = await _busiest_day(counts, span, busy, tz, limit)
    return Stats(
        total=total,
        first_record_at=reading.first,
        last_record_at=reading.last,
        bucket=chosen,
        tz=tz_name,
        series=series,
        top=await _tops(session, reading, total, limit),
        heat_map=_heat_map(busy, tz),
        busiest_day=busiest,
        from_rollups=reading.from_rollups,
    )


async def _fitting_slots(
    counts: Counts, span: Span, slots: dict[datetime, int], tz: ZoneInfo
) -> dict[datetime, int]:
    """Counts per slot, in slots each within one local hour: the hours read, unless the zone's
    offset is not whole hours where there are records (then finer slots, from the records)."""
    for size in b.SLOTS:
        if size != b.HOUR:
            slots = await counts.slots(span, size)
        if b.slots_fit((start for start, n in slots.items() if n), size, tz):
            return slots
    raise AssertionError("a zone's offset is whole seconds")


def _series(
    busy: dict[datetime, int],
    first: datetime | None,
    last: datetime | None,
    bucket: b.Bucket,
    tz: ZoneInfo,
) -> list[SeriesPoint]:
    per_bucket: Counter[datetime] = Counter()
    for start, n in busy.items():
        per_bucket[b.bucket_start(start, bucket, tz)] += n
    return [
        SeriesPoint(start=start.astimezone(tz), count=per_bucket[start])
        for start in b.starts(first, last, bucket, tz)
    ]


def _heat_map(busy: dict[datetime, int], tz: ZoneInfo) -> list[list[int]]:
    grid = [[0] * 24 for _ in range(7)]
    for start, n in busy.items():
        here = b.local(start, tz)
        grid[here.weekday()][here.hour] += n
    return grid


async def _busiest_day(
    counts: Counts, span: Span, busy: dict[datetime, int], tz: ZoneInfo, limit: int
) -> BusiestDay | None:
    per_day: Counter[date] = Counter()
    for start, n in busy.items():
        per_day[b.local(start, tz).date()] += n
    if not per_day:
        return None
    # The most records; of days as busy, the earliest.
    day = min(per_day, key=lambda d: (-per_day[d], d))
    start, end = b.day_span(day, tz)
    event_types: Counter[str | None] = Counter()
    for dimensions, n in (await counts.dimensions(span.within(start, end))).items():
        event_types[dimensions[1]] += n
    return BusiestDay(
        date=day,
        start=start.astimezone(tz),
        count=per_day[day],
        top_event_types=top(event_types.items(), per_day[day], limit),
    )


async def _tops(session: AsyncSession, reading: Reading, total: int, limit: int) -> Tops:
    by: list[Counter[str | None]] = [Counter() for _ in rollups.DIMENSIONS]
    for dimensions, n in reading.dimensions.items():
        for index, value in enumerate(dimensions):
            by[index][value] += n
    applications_, event_types, categories, severities, entity_types = by
    keys = await applications.keys_by_id(session, {a for a in applications_ if a})
    return Tops(
        actors=top(reading.actors.items(), total, limit),
        event_types=top(event_types.items(), total, limit),
        categories=top(categories.items(), total, limit),
        severities=top(severities.items(), total, limit),
        applications=top(
            ((keys.get(a, a) if a else None, n) for a, n in applications_.items()), total, limit
        ),
        entity_types=top(
            (
                (rollups.entity_type_of(e) if e is not None else None, n)
                for e, n in entity_types.items()
            ),
            total,
            limit,
        ),
    )


def top(counted: Iterable[tuple[str | None, int]], total: int, limit: int) -> Top:
    """The ``limit`` most frequent values, ties in order of value (null last), and the rest."""
    items = sorted(
        ((value, n) for value, n in counted if n),
        key=lambda item: (-item[1], item[0] is None, item[0] or ""),
    )[:limit]
    return Top(
        items=[Count(value=value, count=n) for value, n in items],
        other=total - sum(n for _, n in items),
    )

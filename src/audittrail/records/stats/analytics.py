"""Parameter analytics: how one param's values spread over time, bucket by bucket, and where they
drift from one bucket to the next (docs/stats.md).

One statement reads the matching records grouped by UTC slot (`counts.slot_of`: an hour, finer
only where the zone's offset needs it), with what each holds of the param as one JSON array per
slot: a few thousand rows however many records, decoded at C speed. Python places the slots in
the zone's buckets, tells values of the param's type from missing and mismatched ones, and
computes the rest exactly: percentiles, top values, drift.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy import JSON, ColumnElement, Select, String, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock
from audittrail.access import Visibility
from audittrail.applications import service as applications
from audittrail.applications.service import ParamType
from audittrail.db.models import Application, ParamDefinition, Record
from audittrail.errors import Conflict, Forbidden
from audittrail.records import query as q
from audittrail.records import service as records
from audittrail.records.stats import buckets as b
from audittrail.records.stats.counts import Span, moment, slot_of
from audittrail.records.stats.schemas import (
    AnalyzedApplication,
    AnalyzedParam,
    ParamAnalytics,
    ParamBucket,
)
from audittrail.records.stats.service import top

PERCENTILES = (5, 25, 50, 75, 95)
NUMBERS = frozenset({ParamType.INTEGER, ParamType.NUMBER})
QUARTER = 900
# A bucket's start, written as the answer writes it: a datetime param's values are named so.
_TIME = TypeAdapter(datetime)

Row = tuple[datetime, int, list[Any]]
"""A slot's start, how many records it has, and what each holds of the param."""


async def param_analytics(
    session: AsyncSession,
    query: q.RecordQuery,
    id_or_key: str,
    param_key: str,
    *,
    bucket: b.Bucket | None,
    tz_name: str,
    limit: int,
    drift_threshold: float,
) -> ParamAnalytics:
    """One param's analytics over the records of its application that match the query: 404 for
    an application the reader cannot see or a param it lacks, 409 for an archived application,
    403 for a sensitive param unless the reader sees sensitive values."""
    tz = b.zone(tz_name)
    application, definition = await _param(session, query.visibility, id_or_key, param_key)
    query = replace(query, application_id=application.id, application_key=None)
    param_type = ParamType(definition.type)
    rows, first, last = await _read(session, query, definition.key, param_type, tz)
    span = Span.of(query)
    first = span.start or first
    last = span.end - timedelta.resolution if span.end is not None else last
    chosen = bucket or (b.default_bucket(first, last) if first and last else b.Bucket.DAY)
    tallies = _tallies(rows, _reader(param_type, chosen, tz), chosen, tz)
    starts = b.starts(first, last, chosen, tz)
    series = _series(starts, tallies, param_type, limit, drift_threshold, tz)
    return ParamAnalytics(
        application=AnalyzedApplication.model_validate(application),
        param=AnalyzedParam.model_validate(definition),
        bucket=chosen,
        tz=tz_name,
        drift_threshold=drift_threshold,
        total=sum(row[1] for row in rows),
        missing=sum(tally.missing for tally in tallies.values()),
        buckets=series,
        drifted_buckets=[point.start for point in series if point.drifted],
    )


async def _param(
    session: AsyncSession, visibility: Visibility, id_or_key: str, key: str
) -> tuple[Application, ParamDefinition]:
    """The application and its param, if the reader may see their analytics."""
    application = await applications.get(session, id_or_key, visibility)
    if application.archived_at is not None:
        raise Conflict(
            f"Application {application.key} is archived: its param analytics are closed. Its "
            "records are still in the record list and in the statistics.",
            code="APPLICATION_ARCHIVED",
        )
    definition = await applications.get_definition(session, application, key)
    if definition.sensitive and not visibility.sees_sensitive:
        raise Forbidden(
            f"Param {key} is sensitive: only an admin may see its analytics.",
            code="SENSITIVE_PARAM",
        )
    return application, definition


# The reading: one statement, grouped.


def _statement(
    where: list[ColumnElement[bool]], key: str, param_type: ParamType, dialect: str, slot: int
) -> Select[Any]:
    """Per slot: how many records, the first and last one's time, and what each holds of the
    param, as one JSON array: its value (null where it has none); a json param's JSON type."""
    held: ColumnElement[Any]
    if dialect == "postgresql":
        held = func.jsonb_extract_path(Record.params, key)
        if param_type is ParamType.JSON:
            held = func.nullif(func.jsonb_typeof(held), "null")
    else:
        path = f'$."{key}"'  # keys are [a-z][a-z0-9_]*
        if param_type is ParamType.JSON:
            held = func.nullif(func.json_type(Record.params, path), "null")
        else:
            # The value's JSON text as stored (SQLite 3.38+): json_extract would give a number as
            # a double, which SQLite writes with 15 digits.
            held = Record.params.op("->")(literal(path, String))
    gather = func.jsonb_agg if dialect == "postgresql" else func.json_group_array
    slot_start = slot_of(dialect, slot)  # SQL text alone: GROUP BY repeats it as it is
    return (
        select(
            slot_start,
            func.count(),
            func.min(Record.created_at),
            func.max(Record.created_at),
            gather(held, type_=JSON),
        )
        .where(*where)
        .group_by(slot_start)
    )


async def _read(
    session: AsyncSession, query: q.RecordQuery, key: str, param_type: ParamType, tz: ZoneInfo
) -> tuple[list[Row], datetime | None, datetime | None]:
    """The slots (each within one local hour, as GET /stats reads them) with what their records
    hold, and the first and last record's time."""
    dialect = session.get_bind().dialect.name
    where = q.conditions(query, dialect, await records.filter_types(session, query))
    for slot in _slots(tz):
        found = (await session.execute(_statement(where, key, param_type, dialect, slot))).all()
        rows = [(moment(row[0]), row[1], row[4]) for row in found]
        if all(b.slot_fits(start, slot, tz) for start, _, _ in rows):
            first = min((moment(row[2]) for row in found), default=None)
            last = max((moment(row[3]) for row in found), default=None)
            return rows, first, last
    raise AssertionError("a zone's offset is whole seconds")


def _slots(tz: ZoneInfo) -> tuple[int, ...]:
    """The slot lengths to read by, from the longest the zone's offset is a multiple of now (an
    hour; India's, 15 minutes): a range where it was otherwise is read again, finer."""
    offset = clock.now().astimezone(tz).utcoffset()
    assert offset is not None
    longest = next(size for size in b.SLOTS if offset.total_seconds() % size == 0)
    return b.SLOTS[b.SLOTS.index(longest) :]


# From rows to buckets.


class TimeCategories:
    """A datetime value's category: the start of the bucket (the answer's unit and zone) its time
    is in, as the answer writes a bucket's start; None for what is not a date-time with an
    offset (or is too near the years 1 and 9999 to be placed)."""

    def __init__(self, bucket: b.Bucket, tz: ZoneInfo) -> None:
        self.bucket = bucket
        self.tz = tz
        # By UTC quarter-hour, the category of its every instant, where they have one (every
        # zone's offset is whole quarters today): most values cost a parse and a look-up, where
        # placing each took 7 µs, 2 s for 300,000.
        self.quarters: dict[tuple[int, int, int, int, int], str | None] = {}
        self.names: dict[datetime, str] = {}

    def __call__(self, text: str) -> str | None:
        try:
            value = datetime.fromisoformat(text)
            if value.tzinfo is None:
                return None
            if value.tzinfo is not UTC:
                value = value.astimezone(UTC)
            quarter = (value.year, value.month, value.day, value.hour, value.minute // 15)
            if quarter not in self.quarters:
                start = datetime(*quarter[:4], quarter[4] * 15, tzinfo=UTC)
                fits = b.slot_fits(start, QUARTER, self.tz)
                self.quarters[quarter] = self._name(start) if fits else None
            return self.quarters[quarter] or self._name(value)
        except (ValueError, OverflowError):
            return None

    def _name(self, instant: datetime) -> str:
        start = b.bucket_start(instant, self.bucket, self.tz)
        name = self.names.get(start)
        if name is None:
            name = self.names[start] = _TIME.dump_python(start.astimezone(self.tz), mode="json")
        return name


Reader = Callable[[list[Any]], list[Any]]
"""The values of the param's type among what the records hold (None: nothing), as counted."""


def _reader(param_type: ParamType, bucket: b.Bucket, tz: ZoneInfo) -> Reader:
    if param_type in NUMBERS:
        # Exact: every number a record holds is a double (records/limits.py). bool is no int here.
        return lambda held: [float(v) for v in held if type(v) is int or type(v) is float]
    if param_type is ParamType.BOOLEAN:
        return lambda held: ["true" if v else "false" for v in held if type(v) is bool]
    if param_type is ParamType.DATETIME:
        name = TimeCategories(bucket, tz)
        return lambda held: [c for v in held if type(v) is str and (c := name(v)) is not None]
    if param_type is ParamType.JSON:
        return lambda held: [v for v in held if v is not None]  # JSON types: any is of its type
    return lambda held: [v for v in held if type(v) is str]


@dataclass
class Spread:
    """A bucket's numbers: the smallest, the largest, the mean and the percentiles."""

    low: float
    high: float
    mean: float
    percentiles: dict[int, float]

    @property
    def median(self) -> float:
        return self.percentiles[50]

    @property
    def iqr(self) -> float:
        return self.percentiles[75] - self.percentiles[25]


def spread(values: list[float]) -> Spread | None:
    if not values:
        return None
    ordered = sorted(values)
    return Spread(
        low=ordered[0],
        high=ordered[-1],
        mean=math.fsum(ordered) / len(ordered),
        percentiles={p: percentile(ordered, p) for p in PERCENTILES},
    )


def percentile(ordered: list[float], p: int) -> float:
    """The p-th percentile of values in order, linear between the two nearest ranks
    (PostgreSQL's percentile_cont, numpy's default); the rank p * (n - 1) / 100 is worked out
    in integers, so exactly."""
    below, rest = divmod(p * (len(ordered) - 1), 100)
    low = ordered[below]
    if not rest:
        return low
    return low + (ordered[below + 1] - low) * (rest / 100)


@dataclass
class Tally:
    """What one bucket's records hold of the param: the values of its type, as counted."""

    count: int = 0
    missing: int = 0
    mismatched: int = 0
    values: list[Any] = field(default_factory=list)

    @cached_property
    def spread(self) -> Spread | None:
        return spread(self.values)

    @cached_property
    def shares(self) -> Counter[Any]:
        return Counter(self.values)


def _tallies(
    rows: Iterable[Row], read: Reader, bucket: b.Bucket, tz: ZoneInfo
) -> dict[datetime, Tally]:
    """Each bucket's tally, by the bucket's start (UTC)."""
    tallies: defaultdict[datetime, Tally] = defaultdict(Tally)
    for slot, n, held in rows:
        tally = tallies[b.bucket_start(slot, bucket, tz)]
        values = read(held)
        missing = held.count(None)
        tally.count += len(values)
        tally.missing += missing
        tally.mismatched += n - missing - len(values)
        tally.values += values
    return tallies


# Drift, against the bucket before.


def number_drift(previous: Spread | None, current: Spread | None) -> float | None:
    """How far the median moved, in the previous bucket's interquartile ranges; infinite where
    that range is 0 and the median moved at all."""
    if previous is None or current is None:
        return None
    shift = abs(current.median - previous.median)
    if previous.iqr == 0:
        return math.inf if shift else 0.0
    return shift / previous.iqr


def share_drift(previous: Counter[Any], current: Counter[Any]) -> float | None:
    """The total-variation distance between the two buckets' shares of each value."""
    if not previous or not current:
        return None
    before, now = previous.total(), current.total()
    return 0.5 * math.fsum(
        abs(current[value] / now - previous[value] / before)
        for value in previous.keys() | current.keys()
    )


def _drift(previous: Tally | None, current: Tally, param_type: ParamType) -> float | None:
    if previous is None or param_type is ParamType.JSON:
        return None
    if param_type in NUMBERS:
        return number_drift(previous.spread, current.spread)
    return share_drift(previous.shares, current.shares)


def _series(
    starts: list[datetime],
    tallies: dict[datetime, Tally],
    param_type: ParamType,
    limit: int,
    threshold: float,
    tz: ZoneInfo,
) -> list[ParamBucket]:
    series = []
    previous: Tally | None = None
    for start in starts:
        tally = tallies.get(start, Tally())
        drift = _drift(previous, tally, param_type)
        series.append(
            ParamBucket(
                start=start.astimezone(tz),
                count=tally.count,
                missing=tally.missing,
                mismatched=tally.mismatched,
                # JSON has no infinity: the drift is unknown, and flagged.
                drift=None if drift is None or math.isinf(drift) else drift,
                drifted=drift is not None and drift > threshold,
                **_statistics(tally, param_type, limit),
            )
        )
        previous = tally
    return series


def _statistics(tally: Tally, param_type: ParamType, limit: int) -> dict[str, Any]:
    """The bucket's fields of the param's type."""
    if param_type is ParamType.JSON:
        return {}
    if param_type not in NUMBERS:
        shown = top(tally.shares.items(), tally.count, limit)
        return {"values": shown.items, "other": shown.other}
    found = tally.spread
    if found is None:
        return {}
    return {
        "min": found.low,
        "max": found.high,
        "mean": found.mean,
        **{f"p{p}": value for p, value in found.percentiles.items()},
    }

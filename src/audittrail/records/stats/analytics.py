"""Parameter analytics: how one param's values spread over time, bucket by bucket, and where they
drift from one bucket to the next (docs/stats.md).

One statement reads the matching records grouped by UTC slot (`counts.slot_of`: an hour, finer
only where the zone's offset needs it), by what each holds of the param (nothing, a value of its
type, a value of another JSON type) and by the value: a few thousand rows where values repeat,
about one per record where they do not. Python places the slots in the zone's buckets and
computes the rest exactly: percentiles, top values, drift.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from itertools import accumulate, chain, repeat
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy import ColumnElement, Select, case, func, null, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

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

# What a record holds of the param.
MISSING, TYPED, MISMATCHED = range(3)
PERCENTILES = (5, 25, 50, 75, 95)
NUMBERS = frozenset({ParamType.INTEGER, ParamType.NUMBER})
# A bucket's start, written as the answer writes it: a datetime param's values are named so.
_TIME = TypeAdapter(datetime)

Row = tuple[datetime, int, Any, int]
"""A slot's start, what the records hold of the param, the value (where typed), how many."""


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
    starts = _starts(first, last, chosen, tz)
    series = _series(starts, tallies, param_type, limit, drift_threshold, tz)
    return ParamAnalytics(
        application=AnalyzedApplication.model_validate(application),
        param=AnalyzedParam.model_validate(definition),
        bucket=chosen,
        tz=tz_name,
        drift_threshold=drift_threshold,
        total=sum(row[3] for row in rows),
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


def _value_types(param_type: ParamType, postgres: bool) -> tuple[str, ...]:
    """The JSON types of the param type's values, as the database names them."""
    if param_type in NUMBERS:
        return ("number",) if postgres else ("integer", "real")
    if param_type is ParamType.BOOLEAN:
        return ("boolean",) if postgres else ("true", "false")
    if param_type is ParamType.JSON:
        if postgres:
            return ("object", "array", "string", "number", "boolean")
        return ("object", "array", "text", "integer", "real", "true", "false")
    return ("string",) if postgres else ("text",)


def _statement(
    where: list[ColumnElement[bool]], key: str, param_type: ParamType, dialect: str, slot: int
) -> Select[Any]:
    """Per slot, state and value: how many records, and the first and last one's time."""
    postgres = dialect == "postgresql"
    if postgres:
        json_type = func.jsonb_typeof(func.jsonb_extract_path(Record.params, key))
        value: ColumnElement[Any] = func.jsonb_extract_path_text(Record.params, key)
    else:
        path = f'$."{key}"'  # keys are [a-z][a-z0-9_]*
        json_type = func.json_type(Record.params, path)
        # Booleans by their JSON type, as PostgreSQL writes them: "true" or "false".
        value = (
            json_type if param_type is ParamType.BOOLEAN else func.json_extract(Record.params, path)
        )
    typed = json_type.in_(_value_types(param_type, postgres))
    state = case(
        (or_(json_type.is_(None), json_type == "null"), MISSING), (typed, TYPED), else_=MISMATCHED
    )
    held = null() if param_type is ParamType.JSON else case((typed, value))
    # Grouped outside: PostgreSQL would not take a bound parameter in GROUP BY for the same one
    # in the SELECT list.
    records_ = (
        select(
            slot_of(dialect, slot).label("slot"),
            state.label("state"),
            held.label("value"),
            Record.created_at,
        )
        .where(*where)
        .subquery()
    )
    keys = (records_.c.slot, records_.c.state, records_.c.value)
    return select(
        *keys, func.count(), func.min(records_.c.created_at), func.max(records_.c.created_at)
    ).group_by(*keys)


async def _read(
    session: AsyncSession, query: q.RecordQuery, key: str, param_type: ParamType, tz: ZoneInfo
) -> tuple[list[Row], datetime | None, datetime | None]:
    """The grouped rows in slots each within one local hour (as GET /stats reads them), and the
    first and last record's time."""
    dialect = session.get_bind().dialect.name
    where = q.conditions(query, dialect, await records.filter_types(session, query))
    for slot in b.SLOTS:
        found = (await session.execute(_statement(where, key, param_type, dialect, slot))).all()
        starts = {raw: moment(raw) for raw in {row[0] for row in found}}
        if all(b.slot_fits(start, slot, tz) for start in starts.values()):
            rows = [(starts[row[0]], row[1], row[2], row[3]) for row in found]
            first = min((row[4] for row in found), default=None)
            last = max((row[5] for row in found), default=None)
            return rows, _moment(first), _moment(last)
    raise AssertionError("a zone's offset is whole seconds")


def _moment(value: Any) -> datetime | None:
    return None if value is None else moment(value)


# From rows to buckets.


class TimeCategories:
    """A datetime value's category: the start of the bucket (the answer's unit and zone) its time
    is in, as the answer writes a bucket's start; None for text that is not a date-time with an
    offset."""

    def __init__(self, bucket: b.Bucket, tz: ZoneInfo) -> None:
        self.bucket = bucket
        self.tz = tz
        self.names: dict[datetime, str] = {}

    def __call__(self, text: Any) -> str | None:
        try:
            value = datetime.fromisoformat(text)
            if value.tzinfo is None:
                return None
            start = b.bucket_start(value, self.bucket, self.tz)
        except (ValueError, OverflowError):  # overflow: a time at the ends of the years 1..9999
            return None
        name = self.names.get(start)
        if name is None:
            name = self.names[start] = _TIME.dump_python(start.astimezone(self.tz), mode="json")
        return name


def _reader(
    param_type: ParamType, bucket: b.Bucket, tz: ZoneInfo
) -> Callable[[Any], Hashable | None] | None:
    """What a value read counts as (None: not a value of the type); None for json params, whose
    values are counted only."""
    if param_type in NUMBERS:
        return float  # exact: every number a record holds is a double (records/limits.py)
    if param_type is ParamType.DATETIME:
        return TimeCategories(bucket, tz)
    if param_type is ParamType.JSON:
        return None
    return str


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


def spread(values: Counter[Any]) -> Spread | None:
    if not values:
        return None
    ordered = sorted(values)
    cumulative = list(accumulate(values[value] for value in ordered))
    total = math.fsum(chain.from_iterable(repeat(value, values[value]) for value in ordered))
    return Spread(
        low=ordered[0],
        high=ordered[-1],
        mean=total / cumulative[-1],
        percentiles={p: percentile(ordered, cumulative, p) for p in PERCENTILES},
    )


def percentile(ordered: list[float], cumulative: list[int], p: int) -> float:
    """The p-th percentile of values in order (``cumulative``: how many up to each), linear
    between the two nearest ranks (PostgreSQL's percentile_cont, numpy's default). The rank
    p * (n - 1) / 100 is worked out in integers: exact."""
    below, rest = divmod(p * (cumulative[-1] - 1), 100)
    low = ordered[bisect_right(cumulative, below)]
    if not rest:
        return low
    high = ordered[bisect_right(cumulative, below + 1)]
    return low + (high - low) * (rest / 99)


@dataclass
class Tally:
    """What one bucket's records hold of the param."""

    count: int = 0
    missing: int = 0
    mismatched: int = 0
    values: Counter[Any] = field(default_factory=Counter)

    @cached_property
    def spread(self) -> Spread | None:
        return spread(self.values)


def _tallies(
    rows: Iterable[Row],
    read: Callable[[Any], Hashable | None] | None,
    bucket: b.Bucket,
    tz: ZoneInfo,
) -> dict[datetime, Tally]:
    """Each bucket's tally, by the bucket's start (UTC)."""
    starts: dict[datetime, datetime] = {}
    tallies: defaultdict[datetime, Tally] = defaultdict(Tally)
    for slot, state, value, n in rows:
        start = starts.get(slot)
        if start is None:
            start = starts[slot] = b.bucket_start(slot, bucket, tz)
        tally = tallies[start]
        if state == MISSING:
            tally.missing += n
        elif state == MISMATCHED:
            tally.mismatched += n
        elif read is None:
            tally.count += n
        elif (held := read(value)) is None:
            tally.mismatched += n
        else:
            tally.count += n
            tally.values[held] += n
    return tallies


def _starts(
    first: datetime | None, last: datetime | None, bucket: b.Bucket, tz: ZoneInfo
) -> list[datetime]:
    if first is None or last is None or first > last:
        return []
    if b.count_buckets(first, last, bucket, tz) > b.MAX_BUCKETS:
        raise q.invalid(
            "bucket",
            f"the range spans more than {b.MAX_BUCKETS:,} {bucket.value} buckets: narrow "
            "date_from and date_to, or choose a longer bucket.",
        )
    return list(b.buckets(first, last, bucket, tz))


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
    return share_drift(previous.values, current.values)


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
        shown = top(tally.values.items(), tally.count, limit)
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

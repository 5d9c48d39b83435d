"""The wire shapes of statistics and parameter analytics."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from audittrail.applications.service import ParamType
from audittrail.records.stats.buckets import Bucket


class Count(BaseModel):
    value: str | None = Field(description="The value counted; null: records without one.")
    count: int


class Top(BaseModel):
    """The most frequent values, most first (ties by value), and the rest's count: `items`
    and `other` add up to the records counted."""

    items: list[Count]
    other: int


class Tops(BaseModel):
    actors: Top
    event_types: Top
    categories: Top
    severities: Top
    applications: Top = Field(description="By application key; null: records without one.")
    entity_types: Top


class SeriesPoint(BaseModel):
    start: dt.datetime = Field(description="The bucket's start, in the requested zone.")
    count: int


class BusiestDay(BaseModel):
    date: dt.date = Field(description="The local date of the day with the most records.")
    start: dt.datetime
    count: int
    top_event_types: Top


EXAMPLE: dict[str, Any] = {
    "total": 1250,
    "first_record_at": "2026-12-01T08:02:11.204000Z",
    "last_record_at": "2026-12-03T17:45:09.881000Z",
    "bucket": "day",
    "tz": "Europe/Berlin",
    "series": [
        {"start": "2026-12-01T00:00:00+01:00", "count": 410},
        {"start": "2026-12-02T00:00:00+01:00", "count": 0},
        {"start": "2026-12-03T00:00:00+01:00", "count": 840},
    ],
    "top": {
        "actors": {"items": [{"value": "alice@example.com", "count": 700}], "other": 550},
        "event_types": {"items": [{"value": "invoice.paid", "count": 900}], "other": 350},
        "categories": {"items": [{"value": "billing", "count": 1250}], "other": 0},
        "severities": {
            "items": [{"value": "low", "count": 1200}, {"value": "high", "count": 50}],
            "other": 0,
        },
        "applications": {"items": [{"value": "billing", "count": 1250}], "other": 0},
        "entity_types": {"items": [{"value": "invoice", "count": 1250}], "other": 0},
    },
    "heat_map": [[0] * 24 for _ in range(7)],
    "busiest_day": {
        "date": "2026-12-03",
        "start": "2026-12-03T00:00:00+01:00",
        "count": 840,
        "top_event_types": {"items": [{"value": "invoice.paid", "count": 600}], "other": 240},
    },
    "from_rollups": True,
}


class Stats(BaseModel):
    """Counts of the records that match the filters."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    total: int
    first_record_at: dt.datetime | None
    last_record_at: dt.datetime | None
    bucket: Bucket
    tz: str
    series: list[SeriesPoint] = Field(
        description="Records per bucket, every bucket of the range (date_from to date_to, else "
        "first to last record), empty ones included."
    )
    top: Tops
    heat_map: list[list[int]] = Field(
        description="Records per local weekday (rows, Monday first) and hour (columns, 0-23)."
    )
    busiest_day: BusiestDay | None
    from_rollups: bool = Field(
        description="Whether the counts came from the rollups (else from the matching records)."
    )


class AnalyzedApplication(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    key: str
    name: str


class AnalyzedParam(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    label: str
    type: ParamType
    sensitive: bool


class ParamBucket(BaseModel):
    """One bucket of a param's values. Of the statistics, those of the param's type are set
    (null where the bucket holds no value of it); the others are always null."""

    start: dt.datetime = Field(description="The bucket's start, in the requested zone.")
    count: int = Field(description="Records holding a value of the param's type.")
    missing: int = Field(description="Records without the param (or with null).")
    mismatched: int = Field(
        description="Records holding a value of another JSON type (for a datetime param, also "
        "text that is not a date-time with an offset)."
    )
    min: float | None = Field(default=None, description="integer and number params.")
    max: float | None = None
    mean: float | None = None
    p5: float | None = Field(
        default=None,
        description="Percentiles by linear interpolation between the two nearest ranks, as "
        "PostgreSQL's percentile_cont.",
    )
    p25: float | None = None
    p50: float | None = None
    p75: float | None = None
    p95: float | None = None
    values: list[Count] | None = Field(
        default=None,
        description="string, enum, boolean and datetime params: the most frequent values, most "
        "first (ties by value); a datetime's value is the start of the bucket its time is in.",
    )
    other: int | None = Field(default=None, description="The count of the values not listed.")
    drift: float | None = Field(
        description="Against the bucket before: numbers |p50 - previous p50| / previous IQR, "
        "values the total-variation distance of their shares; null where either bucket has no "
        "value (or, for numbers, the previous IQR is 0 and the medians differ)."
    )
    drifted: bool = Field(
        description="drift > drift_threshold, or the medians differ where the previous IQR is 0."
    )


ANALYTICS_EXAMPLE: dict[str, Any] = {
    "application": {
        "id": "0193a5e0-6c1e-7a51-9a4f-3b1c8d2e0f11",
        "key": "billing",
        "name": "Billing",
    },
    "param": {"key": "amount", "label": "Amount", "type": "number", "sensitive": False},
    "bucket": "day",
    "tz": "Europe/Berlin",
    "drift_threshold": 0.3,
    "total": 5,
    "missing": 1,
    "buckets": [
        {
            "start": "2026-12-01T00:00:00+01:00",
            "count": 3,
            "missing": 1,
            "mismatched": 0,
            "min": 10.0,
            "max": 30.0,
            "mean": 20.0,
            "p5": 11.0,
            "p25": 15.0,
            "p50": 20.0,
            "p75": 25.0,
            "p95": 29.0,
            "values": None,
            "other": None,
            "drift": None,
            "drifted": False,
        },
        {
            "start": "2026-12-02T00:00:00+01:00",
            "count": 1,
            "missing": 0,
            "mismatched": 0,
            "min": 50.0,
            "max": 50.0,
            "mean": 50.0,
            "p5": 50.0,
            "p25": 50.0,
            "p50": 50.0,
            "p75": 50.0,
            "p95": 50.0,
            "values": None,
            "other": None,
            "drift": 3.0,
            "drifted": True,
        },
    ],
    "drifted_buckets": ["2026-12-02T00:00:00+01:00"],
}


class ParamAnalytics(BaseModel):
    """How one param's values spread over time, bucket by bucket, in the records that match."""

    model_config = ConfigDict(json_schema_extra={"examples": [ANALYTICS_EXAMPLE]})

    application: AnalyzedApplication
    param: AnalyzedParam
    bucket: Bucket
    tz: str
    drift_threshold: float
    total: int = Field(description="The application's records that match the filters.")
    missing: int = Field(description="Of them, those without the param (or with null).")
    buckets: list[ParamBucket] = Field(
        description="Every bucket of the range (date_from to date_to, else first to last "
        "record), empty ones included."
    )
    drifted_buckets: list[dt.datetime] = Field(description="The starts of the drifted buckets.")

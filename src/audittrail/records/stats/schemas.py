"""The wire shapes of statistics and parameter analytics."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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

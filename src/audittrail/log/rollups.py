"""Rollups: counts of the log's records that statistics read instead of the records.

Seven tables (db/models.py), all written by the append in the transaction of the records they
count, so they are never behind the log and never count a record twice:
- `rollup_hours` and `rollup_days`: records per UTC hour and per UTC day, by application,
  event type, category, severity and entity type (the "dimensions");
- `rollup_application_hours`: records per UTC hour by application alone, what a series without
  other filters reads (a few rows an hour rather than dozens);
- actors' counts as running totals, in two pairs of tables (`RunningTotals`): per actor and
  application (`rollup_actors`, `rollup_actor_days`), and per actor and every dimension
  (`rollup_actor_kinds`, `rollup_actor_kind_days`). Actors are too many to count per hour or
  day by everything else (on the demo data there are nearly as many (hour, actor, ...) keys as
  records), but a running total at the end of each day makes any range of whole days two index
  lookups per group, however long the range. The groups of the first pair are few (unfiltered
  statistics read them all); the second serves filters on the dimensions, which select few.

`rebuild` recomputes them all from the records; `disagreements` compares them with a recount.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from audittrail.db.engine import Database
from audittrail.db.models import (
    RollupActor,
    RollupActorDay,
    RollupActorKind,
    RollupActorKindDay,
    RollupApplicationHour,
    RollupDay,
    RollupHour,
)
from audittrail.log import head as log_head

HOURS = cast(Table, RollupHour.__table__)
DAYS = cast(Table, RollupDay.__table__)
APPLICATION_HOURS = cast(Table, RollupApplicationHour.__table__)
# The columns the hour and day counts are kept by, besides the time.
DIMENSIONS = ("application_id", "event_type", "category", "severity", "entity_type")
NONE = ""  # an absent application, entity type or actor


@dataclass(frozen=True)
class RunningTotals:
    """An actor's records per group (`keys`, the actor first), all time, in `groups`, and their
    running total at the end of each UTC day the group has records, in `days`."""

    groups: Table
    days: Table
    keys: tuple[str, ...]


BY_APPLICATION = RunningTotals(
    cast(Table, RollupActor.__table__),
    cast(Table, RollupActorDay.__table__),
    ("actor", "application_id"),
)
BY_DIMENSIONS = RunningTotals(
    cast(Table, RollupActorKind.__table__),
    cast(Table, RollupActorKindDay.__table__),
    ("actor", *DIMENSIONS),
)
RUNNING_TOTALS = (BY_APPLICATION, BY_DIMENSIONS)
TABLES = (
    HOURS,
    DAYS,
    APPLICATION_HOURS,
    *(t for totals in RUNNING_TOTALS for t in (totals.groups, totals.days)),
)


def entity_key(entity_type: str | None) -> str:
    """An entity type as the rollups hold it: "=" before it, so that "" is its absence."""
    return NONE if entity_type is None else f"={entity_type}"


def entity_type_of(key: str) -> str | None:
    return key[1:] if key else None


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


class Counted(Protocol):
    """What the rollups read of a record (log.append.AppendedRecord has it)."""

    @property
    def created_at(self) -> datetime: ...
    @property
    def application_id(self) -> str | None: ...
    @property
    def event_type(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def entity_type(self) -> str | None: ...
    @property
    def actor(self) -> str | None: ...


def dimensions(record: Counted) -> tuple[str, str, str, str, str]:
    return (
        record.application_id or NONE,
        record.event_type,
        record.category,
        record.severity,
        entity_key(record.entity_type),
    )


async def add(session: AsyncSession, records: Sequence[Counted]) -> None:
    """Count the records in, in the caller's transaction (the append's, under the log's lock)."""
    if not records:
        return
    hours: Counter[tuple[Any, ...]] = Counter()
    days: Counter[tuple[Any, ...]] = Counter()
    application_hours: Counter[tuple[datetime, str]] = Counter()
    actors: dict[datetime, Counter[tuple[str, ...]]] = {}
    for record in records:
        key = dimensions(record)
        day, hour = day_of(record.created_at), hour_of(record.created_at)
        hours[(hour, *key)] += 1
        days[(day, *key)] += 1
        application_hours[(hour, key[0])] += 1
        actors.setdefault(day, Counter())[(record.actor or NONE, *key)] += 1
    connection = await session.connection()
    statements = _statements(connection.dialect.name)
    names = ("hour", *DIMENSIONS, "count")
    await connection.execute(
        statements.hours, [dict(zip(names, (*k, n), strict=True)) for k, n in hours.items()]
    )
    names = ("day", *DIMENSIONS, "count")
    await connection.execute(
        statements.days, [dict(zip(names, (*k, n), strict=True)) for k, n in days.items()]
    )
    await connection.execute(
        statements.application_hours,
        [
            {"hour": hour, "application_id": application, "count": n}
            for (hour, application), n in application_hours.items()
        ],
    )
    # Day by day (a batch may cross midnight): each day's running total is the group's total
    # once that day's records are in.
    for day in sorted(actors):
        for totals, (add_to_group, note_day) in zip(
            RUNNING_TOTALS, statements.running_totals, strict=True
        ):
            counted: Counter[tuple[str, ...]] = Counter()
            for group, n in actors[day].items():
                counted[group[: len(totals.keys)]] += n  # (actor, application, ...)
            rows = [
                {**dict(zip(totals.keys, group, strict=True)), "total": n, "day": day}
                for group, n in counted.items()
            ]
            await connection.execute(add_to_group, rows)
            await connection.execute(note_day, rows)


@dataclass(frozen=True)
class _Statements:
    hours: Any
    days: Any
    application_hours: Any
    running_totals: tuple[tuple[Any, Any], ...]
    """Per RunningTotals: add to the groups' totals; note them as the day's."""


@lru_cache(maxsize=2)
def _statements(dialect: str) -> _Statements:
    """The upserts, in the dialect's own INSERT ... ON CONFLICT (both spell it alike)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    def adding(table: Table, column: str) -> Any:
        statement = insert(table)
        return statement.on_conflict_do_update(
            index_elements=list(table.primary_key.columns),
            set_={column: table.c[column] + statement.excluded[column]},
        )

    def running(totals: RunningTotals) -> tuple[Any, Any]:
        groups, days = totals.groups, totals.days
        add_to_group = adding(groups, "total").values(
            {name: bindparam(name) for name in (*totals.keys, "total")}
        )
        day = bindparam("day", type_=days.c.day.type)
        note_day = insert(days).from_select(
            [*totals.keys, "day", "total"],
            select(*(groups.c[name] for name in totals.keys), day, groups.c.total).where(
                *(groups.c[name] == bindparam(name) for name in totals.keys)
            ),
        )
        note_day = note_day.on_conflict_do_update(
            index_elements=list(days.primary_key.columns),
            set_={"total": note_day.excluded.total},
        )
        return add_to_group, note_day

    return _Statements(
        hours=adding(HOURS, "count"),
        days=adding(DAYS, "count"),
        application_hours=adding(APPLICATION_HOURS, "count"),
        running_totals=tuple(running(totals) for totals in RUNNING_TOTALS),
    )


def _truncated(dialect: str, unit: str) -> str:
    """SQL of records.created_at at the start of its UTC hour or day, as the column stores it."""
    if dialect == "postgresql":
        return f"date_trunc('{unit}', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    # SQLite holds UTC times as text, "2026-12-05 10:54:00.000000".
    if unit == "hour":
        return "substr(created_at, 1, 13) || ':00:00.000000'"
    return "substr(created_at, 1, 10) || ' 00:00:00.000000'"


def recounts(dialect: str) -> dict[str, str]:
    """Per table, a SELECT of what it should hold, counted from the records, in its columns."""
    stored = {
        "application_id": "coalesce(application_id, '')",
        "entity_type": "coalesce('=' || entity_type, '')",
        "actor": "coalesce(actor, '')",
    }

    def columns(names: Sequence[str]) -> str:
        return ", ".join(f"{stored.get(name, name)} AS {name}" for name in names)

    def grouped(time: str | None, names: Sequence[str]) -> str:
        timed = f"{_truncated(dialect, time)} AS {time}, " if time else ""
        count = len(names) + (1 if time else 0)
        by = ", ".join(str(n) for n in range(1, count + 1))
        return f"SELECT {timed}{columns(names)}, count(*) FROM records GROUP BY {by}"

    queries = {
        HOURS.name: grouped("hour", DIMENSIONS),
        DAYS.name: grouped("day", DIMENSIONS),
        APPLICATION_HOURS.name: grouped("hour", ("application_id",)),
    }
    for totals in RUNNING_TOTALS:
        keys = ", ".join(totals.keys)
        queries[totals.groups.name] = grouped(None, totals.keys)
        queries[totals.days.name] = (
            f"SELECT {keys}, day, sum(n) OVER (PARTITION BY {keys} ORDER BY day) FROM ("
            f"SELECT {columns(totals.keys)}, {_truncated(dialect, 'day')} AS day, count(*) AS n "
            f"FROM records GROUP BY {', '.join(str(n) for n in range(1, len(totals.keys) + 2))}"
            ") AS per_day"
        )
    return queries


def _columns(table: Table) -> str:
    return ", ".join(column.name for column in table.columns)


async def rebuild(database_url: str) -> int:
    """Recompute every rollup from the records, in one transaction under the log's lock (an
    append waits for it, rather than counting its records into what is being replaced); the
    log's size it counted."""
    database = Database.connect(database_url, pool_size=1)
    try:
        async with database.write_session() as session:
            head = await log_head.lock(session)
            await _recount_into_tables(await session.connection())
            return head.size
    finally:
        await database.dispose()


async def check(database_url: str) -> list[Disagreement]:
    """Where the rollups of that database disagree with a recount of its records."""
    database = Database.connect(database_url, pool_size=1)
    try:
        async with database.read_session() as session:
            return await disagreements(await session.connection())
    finally:
        await database.dispose()


async def _recount_into_tables(connection: AsyncConnection) -> None:
    queries = recounts(connection.dialect.name)
    for table in TABLES:
        await connection.execute(text(f"DELETE FROM {table.name}"))
        await connection.execute(
            text(f"INSERT INTO {table.name} ({_columns(table)}) {queries[table.name]}")
        )


@dataclass(frozen=True)
class Disagreement:
    table: str
    missing: int
    """Rows a recount gives that the table lacks or holds with another count."""
    extra: int
    """Rows the table holds that a recount does not give."""


async def disagreements(connection: AsyncConnection) -> list[Disagreement]:
    """Where the rollups differ from a recount of the records, by table; empty when they agree.
    Each table is compared in one statement, so both sides are read at one moment."""
    found = []
    for table, recount in recounts(connection.dialect.name).items():
        stored = f"SELECT {_columns(_BY_NAME[table])} FROM {table}"
        row = (
            await connection.execute(
                text(
                    f"SELECT (SELECT count(*) FROM ({recount} EXCEPT {stored}) AS m), "
                    f"(SELECT count(*) FROM ({stored} EXCEPT {recount}) AS e)"
                )
            )
        ).one()
        if row[0] or row[1]:
            found.append(Disagreement(table, row[0], row[1]))
    return found


_BY_NAME = {table.name: table for table in TABLES}

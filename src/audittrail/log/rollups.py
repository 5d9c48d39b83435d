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
from dataclasses import dataclass, field
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


@dataclass
class _Counts:
    """A batch's records counted by every rollup's key."""

    hours: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    days: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    application_hours: Counter[tuple[datetime, str]] = field(default_factory=Counter)
    actors: dict[datetime, Counter[tuple[str, ...]]] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Sequence[Counted]) -> _Counts:
        counts = cls()
        for record in records:
            key = dimensions(record)
            day, hour = day_of(record.created_at), hour_of(record.created_at)
            counts.hours[(hour, *key)] += 1
            counts.days[(day, *key)] += 1
            counts.application_hours[(hour, key[0])] += 1
            counts.actors.setdefault(day, Counter())[(record.actor or NONE, *key)] += 1
        return counts

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        """The hour, day and application-hour counts as rows of their tables."""
        return {
            HOURS.name: _rows(("hour", *DIMENSIONS), "count", self.hours),
            DAYS.name: _rows(("day", *DIMENSIONS), "count", self.days),
            APPLICATION_HOURS.name: _rows(
                ("hour", "application_id"), "count", self.application_hours
            ),
        }

    def totals(self, day: datetime, totals: RunningTotals) -> list[dict[str, Any]]:
        """The day's records counted by the running totals' groups, as rows to add."""
        counted: Counter[tuple[str, ...]] = Counter()
        for group, n in self.actors[day].items():
            counted[group[: len(totals.keys)]] += n  # (actor, application, ...)
        return _rows(totals.keys, "total", counted)


def _rows(names: Sequence[str], counted: str, counts: Counter[Any]) -> list[dict[str, Any]]:
    return [{**dict(zip(names, key, strict=True)), counted: n} for key, n in counts.items()]


async def add(session: AsyncSession, records: Sequence[Counted]) -> None:
    """Count the records in, in the caller's transaction (the append's, under the log's lock).

    On PostgreSQL a batch of one day is one statement (every statement is a round trip, and a
    group commit of single POSTs had ten, seven of them these); otherwise one per table.
    """
    if not records:
        return
    counts = _Counts.of(records)
    connection = await session.connection()
    if connection.dialect.name == "postgresql" and len(counts.actors) == 1:
        [day] = counts.actors
        await connection.execute(_ONE_STATEMENT, _one_statement_values(counts, day))
        return
    statements = _statements(connection.dialect.name)
    rows = counts.rows()
    await connection.execute(statements.hours, rows[HOURS.name])
    await connection.execute(statements.days, rows[DAYS.name])
    await connection.execute(statements.application_hours, rows[APPLICATION_HOURS.name])
    # Day by day (a batch may cross midnight): each day's running total is the group's total
    # once that day's records are in.
    for day in sorted(counts.actors):
        for totals, (add_to_group, note_day) in zip(
            RUNNING_TOTALS, statements.running_totals, strict=True
        ):
            added = [{**row, "day": day} for row in counts.totals(day, totals)]
            await connection.execute(add_to_group, added)
            await connection.execute(note_day, added)


_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]


def _one_statement() -> Any:
    """Every upsert of `_statements` as data-modifying CTEs of one PostgreSQL statement, each
    table's rows given as one array per column (`unnest`); a group's running total for the day
    is what its upsert RETURNs. Built from the tables, so it follows their columns."""

    def arrays(table: Table, prefix: str) -> str:
        return ", ".join(
            f"CAST(:{prefix}_{column.name} AS {column.type.compile(dialect=_POSTGRESQL)}[])"
            for column in table.columns
        )

    def upsert(table: Table, prefix: str, counted: str, returning: str = "") -> str:
        names = ", ".join(column.name for column in table.columns)
        keys = ", ".join(column.name for column in table.primary_key.columns)
        return (
            f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays(table, prefix)}) "
            f"ON CONFLICT ({keys}) DO UPDATE SET {counted} = {table.name}.{counted} + "
            f"excluded.{counted}{returning}"
        )

    parts = [
        f"counted_{table.name} AS ({upsert(table, table.name, 'count')})"
        for table in (HOURS, DAYS, APPLICATION_HOURS)
    ]
    for totals in RUNNING_TOTALS:
        groups, days = totals.groups.name, totals.days
        keys = ", ".join(totals.keys)
        added = upsert(totals.groups, groups, "total", f" RETURNING {keys}, total")
        day_keys = ", ".join(column.name for column in days.primary_key.columns)
        parts += [
            f"added_{groups} AS ({added})",
            f"noted_{days.name} AS (INSERT INTO {days.name} ({keys}, day, total) "
            f"SELECT {keys}, CAST(:day AS TIMESTAMP WITH TIME ZONE), total FROM added_{groups} "
            f"ON CONFLICT ({day_keys}) DO UPDATE SET total = excluded.total)",
        ]
    return text(f"WITH {', '.join(parts)} SELECT 1")


def _one_statement_values(counts: _Counts, day: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"day": day}
    tables = list(counts.rows().items())
    tables += [(t.groups.name, counts.totals(day, t)) for t in RUNNING_TOTALS]
    for name, rows in tables:
        for column in rows[0]:
            values[f"{name}_{column}"] = [row[column] for row in rows]
    return values


_ONE_STATEMENT = _one_statement()


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

"""Rollups: counts of the log's records that statistics read instead of the records.

Four tables (db/models.py), all written by the append in the transaction of the records they
count, so they are never behind the log and never count a record twice:
- `rollup_hours` and `rollup_days`: records per UTC hour and per UTC day, by application,
  event type, category, severity and entity type;
- `rollup_actors`: records per actor and application, all time;
- `rollup_actor_days`: that count's running total at the end of each UTC day the pair has
  records. Actors are too many to count per hour or day by everything else (on the demo data
  there are nearly as many (hour, actor, ...) keys as records), but a running total makes any
  range of whole days two index lookups per actor and application.

`rebuild` recomputes all four from the records; `disagreements` compares them with a recount.
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
from audittrail.db.models import RollupActor, RollupActorDay, RollupDay, RollupHour
from audittrail.log import head as log_head

HOURS = cast(Table, RollupHour.__table__)
DAYS = cast(Table, RollupDay.__table__)
ACTORS = cast(Table, RollupActor.__table__)
ACTOR_DAYS = cast(Table, RollupActorDay.__table__)
TABLES = (HOURS, DAYS, ACTORS, ACTOR_DAYS)
# The columns the hour and day counts are kept by, besides the time.
DIMENSIONS = ("application_id", "event_type", "category", "severity", "entity_type")
NONE = ""  # an absent application, entity type or actor


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
    actors: dict[datetime, Counter[tuple[str, str]]] = {}
    for record in records:
        key = dimensions(record)
        day = day_of(record.created_at)
        hours[(hour_of(record.created_at), *key)] += 1
        days[(day, *key)] += 1
        actors.setdefault(day, Counter())[(record.actor or NONE, key[0])] += 1
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
    # Day by day (a batch may cross midnight): each day's running total is the pair's total
    # once that day's records are in.
    for day in sorted(actors):
        pairs = [
            {"actor": actor, "application_id": application, "total": n, "day": day}
            for (actor, application), n in actors[day].items()
        ]
        await connection.execute(statements.actors, pairs)
        await connection.execute(statements.actor_days, pairs)


@dataclass(frozen=True)
class _Statements:
    hours: Any
    days: Any
    actors: Any
    actor_days: Any


@lru_cache(maxsize=2)
def _statements(dialect: str) -> _Statements:
    """The upserts, in the dialect's own INSERT ... ON CONFLICT (both spell it alike)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    def adding(table: Table, column: str) -> Any:
        statement = insert(table)
        keys = [c for c in table.primary_key.columns]
        return statement.on_conflict_do_update(
            index_elements=keys,
            set_={column: table.c[column] + statement.excluded[column]},
        )

    actor_day = insert(ACTOR_DAYS).from_select(
        ["actor", "application_id", "day", "total"],
        select(
            ACTORS.c.actor,
            ACTORS.c.application_id,
            bindparam("day", type_=ACTOR_DAYS.c.day.type),
            ACTORS.c.total,
        ).where(
            ACTORS.c.actor == bindparam("actor"),
            ACTORS.c.application_id == bindparam("application_id"),
        ),
    )
    actor_day = actor_day.on_conflict_do_update(
        index_elements=list(ACTOR_DAYS.primary_key.columns),
        set_={"total": actor_day.excluded.total},
    )
    return _Statements(
        hours=adding(HOURS, "count"),
        days=adding(DAYS, "count"),
        actors=adding(ACTORS, "total").values(
            actor=bindparam("actor"),
            application_id=bindparam("application_id"),
            total=bindparam("total"),
        ),
        actor_days=actor_day,
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
    dimensions = (
        "coalesce(application_id, ''), event_type, category, severity, "
        "coalesce('=' || entity_type, '')"
    )
    counted = "SELECT {time}, " + dimensions + ", count(*) FROM records GROUP BY 1, 2, 3, 4, 5, 6"
    pairs = "coalesce(actor, '') AS actor, coalesce(application_id, '') AS application_id"
    return {
        "rollup_hours": counted.format(time=_truncated(dialect, "hour")),
        "rollup_days": counted.format(time=_truncated(dialect, "day")),
        "rollup_actors": f"SELECT {pairs}, count(*) FROM records GROUP BY 1, 2",
        "rollup_actor_days": (
            "SELECT actor, application_id, day, "
            "sum(n) OVER (PARTITION BY actor, application_id ORDER BY day) FROM ("
            f"SELECT {pairs}, {_truncated(dialect, 'day')} AS day, count(*) AS n "
            "FROM records GROUP BY 1, 2, 3) AS per_day"
        ),
    }


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

"""Many rows into one table in the caller's transaction, by each driver's fastest path.

PostgreSQL takes many by COPY (binary, through asyncpg), a few and SQLite's by one executemany
of plain tuples. Either way the values go through the columns' own bind processors once, and
none of the ORM's or Core's per-row work: for a batch of a thousand records that was most of the
insert.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import asyncpg
from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

Processor = Callable[[Any], Any] | None
# asyncpg's COPY first asks the server for the table's columns: a round trip that only pays
# for itself over many rows.
COPY_MIN_ROWS = 64


async def insert_rows(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert the rows: dicts by column name, every one with the same keys in the same order."""
    if not rows:
        return
    names = tuple(rows[0])
    connection = await session.connection()
    dialect = connection.dialect
    processors = _processors(table, names, dialect)
    values = [
        tuple(
            value if process is None else process(value)
            for value, process in zip(row.values(), processors, strict=True)
        )
        for row in rows
    ]
    if dialect.name == "postgresql" and len(values) >= COPY_MIN_ROWS:
        await _copy(connection, table, names, values)
    else:
        await connection.exec_driver_sql(_insert_statement(table, names, dialect), values)


@lru_cache(maxsize=64)
def _insert_statement(table: Table, names: tuple[str, ...], dialect: Dialect) -> str:
    if dialect.paramstyle == "qmark":
        marks = ["?"] * len(names)
    elif dialect.paramstyle == "numeric_dollar":
        marks = [f"${number}" for number in range(1, len(names) + 1)]
    else:
        raise NotImplementedError(f"parameter style {dialect.paramstyle}")
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(marks)})"


@lru_cache(maxsize=64)
def _processors(table: Table, names: tuple[str, ...], dialect: Dialect) -> tuple[Processor, ...]:
    return tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)


async def _copy(
    connection: AsyncConnection, table: Table, names: tuple[str, ...], values: list[tuple[Any, ...]]
) -> None:
    raw = await connection.get_raw_connection()
    try:
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=values, columns=names
        )
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
        # asyncpg's own exceptions, not SQLAlchemy's: made into what every other statement
        # raises, and the connection is not reused, whatever state the failure left it in.
        await connection.invalidate(error)
        raise DBAPIError(f"COPY {table.name}", None, error, connection_invalidated=True) from error

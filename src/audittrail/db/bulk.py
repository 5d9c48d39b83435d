"""Many rows into one table in the caller's transaction, by each driver's fastest path.

PostgreSQL takes many by COPY (binary, through asyncpg), a few and SQLite's by one executemany
of plain tuples. Either way the values go through the columns' own bind processors once, and
none of the ORM's or Core's per-row work: for a batch of a thousand records that was most of the
insert.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import asyncpg
from sqlalchemy import LargeBinary, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

Processor = Callable[[Any], Any]
# asyncpg's COPY first asks the server for the table's columns: a round trip that only pays
# for itself over many rows.
COPY_MIN_ROWS = 64


async def insert_rows(
    session: AsyncSession,
    table: Table,
    names: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    *,
    encoded: frozenset[str] = frozenset(),
) -> None:
    """Insert the rows: tuples of the named columns' values, in that order. ``encoded``: JSON
    columns whose values are given as their JSON text already."""
    if not rows:
        return
    connection = await session.connection()
    dialect = connection.dialect
    processed = _processed(table, names, dialect, encoded)
    if processed:
        rows = [_processed_row(row, processed) for row in rows]
    if dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS:
        await _copy(connection, table, names, rows)
    else:
        await connection.exec_driver_sql(_insert_statement(table, names, dialect), rows)


def _processed_row(
    row: tuple[Any, ...], processed: tuple[tuple[int, Processor], ...]
) -> tuple[Any, ...]:
    values = list(row)
    for index, process in processed:
        values[index] = process(values[index])
    return tuple(values)


@lru_cache(maxsize=64)
def _processed(
    table: Table, names: tuple[str, ...], dialect: Dialect, encoded: frozenset[str]
) -> tuple[tuple[int, Processor], ...]:
    """The columns whose values need converting for the driver, with their converters. Binary
    columns take bytes as they are, whatever wrapper SQLAlchemy would put around them; JSON
    given as text goes as text (both drivers take JSON columns' values as their text)."""
    processed = []
    for index, name in enumerate(names):
        column_type = table.c[name].type
        if isinstance(column_type, LargeBinary) or name in encoded:
            continue
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processed.append((index, process))
    return tuple(processed)


@lru_cache(maxsize=64)
def _insert_statement(table: Table, names: tuple[str, ...], dialect: Dialect) -> str:
    if dialect.paramstyle == "qmark":
        marks = ["?"] * len(names)
    elif dialect.paramstyle == "numeric_dollar":
        marks = [f"${number}" for number in range(1, len(names) + 1)]
    else:
        raise NotImplementedError(f"parameter style {dialect.paramstyle}")
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(marks)})"


async def _copy(
    connection: AsyncConnection,
    table: Table,
    names: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    raw = await connection.get_raw_connection()
    try:
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=rows, columns=names
        )
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
        # asyncpg's own exceptions, not SQLAlchemy's: made into what every other statement
        # raises, and the connection is not reused, whatever state the failure left it in.
        await connection.invalidate(error)
        raise DBAPIError(f"COPY {table.name}", None, error, connection_invalidated=True) from error

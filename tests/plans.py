"""The query plans of what the record list sends: the SELECTs on records one request makes,
captured from the engine and EXPLAINed with the same parameters (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import RECORDS


@contextmanager
def captured(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """The SELECTs on records sent while the block runs, with their parameters."""
    statements: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:
        statement, parameters = args[2], args[3]
        if statement.lstrip().startswith("SELECT") and "FROM records" in statement:
            statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)


async def plans(client: httpx.AsyncClient, app: FastAPI, params: dict[str, Any]) -> list[str]:
    """The query plan of each statement the listing sends (it must find records)."""
    engine: AsyncEngine = app.state.database.reader
    with captured(engine) as statements:
        response = await client.get(RECORDS, params=params)
    assert response.status_code == 200, response.text
    assert response.json()["records"], params
    found = []
    async with engine.connect() as connection:
        for statement, parameters in statements:
            rows = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            found.append("\n".join(row[0] for row in rows))
    return found

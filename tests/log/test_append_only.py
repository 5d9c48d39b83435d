"""The database itself refuses to rewrite or remove the log, whatever SQL reaches it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import JSON, text, update
from sqlalchemy.exc import DBAPIError

from audittrail.db.models import Record
from audittrail.db.types import UTCDateTime
from tests.log.support import APPEND_ONLY_TABLES, checkpoint_now, post_records

CHANGES = {
    "records": [
        "UPDATE records SET summary = 'rewritten' WHERE seq = 2",
        # The tree's hashes, which the records hold.
        "UPDATE records SET tree_hashes = (SELECT tree_hashes FROM records WHERE seq = 1) "
        "WHERE seq = 2",
    ],
    "checkpoints": ["UPDATE checkpoints SET note = 'forged'"],
}


async def rows(app: FastAPI, table: str) -> list[Any]:
    async with app.state.database.reader.connect() as connection:
        return list(await connection.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2")))


async def refused(app: FastAPI, statement: str) -> str:
    """The database's error message for a statement it must refuse."""
    with pytest.raises(DBAPIError) as caught:
        async with app.state.database.writer.begin() as connection:
            await connection.execute(text(statement))
    return str(caught.value.orig)


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
async def test_update_and_delete_are_refused(
    app: FastAPI, client: httpx.AsyncClient, table: str
) -> None:
    await post_records(client, 2)
    await checkpoint_now(app)
    before = await rows(app, table)
    assert before
    statements = [("UPDATE", change) for change in CHANGES[table]]
    statements.append(("DELETE", f"DELETE FROM {table}"))
    if app.state.database.dialect == "postgresql":
        statements.append(("TRUNCATE", f"TRUNCATE {table} CASCADE"))
    for operation, statement in statements:
        message = await refused(app, statement)
        assert f"audittrail: {operation} on {table} is refused: the log is append-only" in message
    assert await rows(app, table) == before


TAMPERED: dict[type, Any] = {
    str: "tampered",
    int: 10**6,
    datetime: datetime(2000, 1, 1, tzinfo=UTC),
    dict: {"tampered": True},
    bytes: b"\x00" * 32,
}


def _python_type(column_type: Any) -> type:
    if isinstance(column_type, JSON):
        return dict
    if isinstance(column_type, UTCDateTime):
        return datetime
    kind: type = column_type.python_type
    return kind


async def test_search_words_alone_may_be_rewritten(app: FastAPI, client: httpx.AsyncClient) -> None:
    """The one change the triggers let through: a record's search words (written again when a
    param's sensitivity changes), and nothing else with them. Every column the models know is
    tried, so a column added later without its trigger fails here."""
    await post_records(client, 2)
    before = await rows(app, "records")
    table = Record.__table__
    for column in table.columns:
        if column.name == "search_text":
            continue
        value = TAMPERED[_python_type(column.type)]
        with pytest.raises(DBAPIError) as caught:
            async with app.state.database.writer.begin() as connection:
                await connection.execute(
                    update(table)
                    .where(table.c.seq == 2)
                    .values({column.name: value, "search_text": "changed"})
                )
        message = str(caught.value.orig)
        assert "audittrail: UPDATE on records is refused: the log is append-only" in message, (
            column.name
        )
    assert await rows(app, "records") == before
    async with app.state.database.writer.begin() as connection:
        await connection.execute(text("UPDATE records SET search_text = 'rewritten' WHERE seq = 2"))
    after = await rows(app, "records")
    assert [row.search_text for row in after if row.seq == 2] == ["rewritten"]
    assert [_but_words(row) for row in after] == [_but_words(row) for row in before]


def _but_words(row: Any) -> dict[str, Any]:
    return {name: value for name, value in row._mapping.items() if name != "search_text"}

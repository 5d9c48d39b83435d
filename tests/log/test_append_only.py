"""The database itself refuses to rewrite or remove the log, whatever SQL reaches it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

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

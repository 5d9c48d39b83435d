"""The records an export holds, read in keyset pages: constant memory, whatever the size.

Each page is one short read (no transaction held open through a stream a client may read for
minutes); the pages never shift under it, because the export is bounded by its checkpoint's
tree size and records are append-only. Rows are read as Core rows of the leaf fields, not ORM
objects, their JSON as text that orjson reads, and on PostgreSQL their time as the driver gives
it: at 100,000 records, reading went from 2.7 s to 1.1 s, more than the leaves' encoding.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import orjson
from sqlalchemy import ColumnElement, DateTime, Text, cast, select, type_coerce

from audittrail.applications import service as applications
from audittrail.applications.service import ParamType
from audittrail.db.engine import Database
from audittrail.db.models import Record
from audittrail.integrity.canonical import LEAF_FIELDS
from audittrail.records import query as q
from audittrail.records import service as records
from audittrail.records.export.formats import JSON_COLUMNS

PAGE = 2000


def _columns(dialect: str) -> list[ColumnElement[Any]]:
    columns: list[ColumnElement[Any]] = []
    for name in LEAF_FIELDS:
        column: ColumnElement[Any] = Record.__table__.c[name]
        if name in JSON_COLUMNS:
            column = cast(column, Text).label(name)
        elif name == "created_at" and dialect == "postgresql":
            # asyncpg's aware datetime, without UTCDateTime's per-row processing (SQLite's text
            # needs it).
            column = type_coerce(column, DateTime(timezone=True)).label(name)
        columns.append(column)
    return columns


def _leaf_fields(row: Any) -> dict[str, Any]:
    fields = dict(zip(LEAF_FIELDS, row, strict=False))  # the select's columns, in this order
    fields["params"] = orjson.loads(fields["params"])
    fields["metadata"] = orjson.loads(fields["metadata"])
    return fields


@dataclass
class Shown:
    """How the reader sees params: masked where sensitive, registered ones only if asked.
    Learnt once per application an export meets."""

    query: q.RecordQuery
    sensitive: dict[str, set[str]]
    registered: dict[str, set[str]]

    @classmethod
    async def load(cls, database: Database, query: q.RecordQuery) -> Shown:
        sensitive: dict[str, set[str]] = {}
        if not query.visibility.sees_sensitive:
            async with database.read_session() as session:
                sensitive = await applications.sensitive_keys(
                    session, query.visibility.application_ids
                )
        return cls(query, sensitive, {})

    async def learn(self, database: Database, rows: list[dict[str, Any]]) -> None:
        if not self.query.registered_params_only:
            return
        unknown = {row["application_id"] for row in rows} - self.registered.keys() - {None}
        if unknown:
            async with database.read_session() as session:
                found = await applications.registered_keys(session, unknown)
            self.registered.update({key: found.get(key, set()) for key in unknown})

    def apply(self, row: dict[str, Any]) -> dict[str, Any]:
        application_id = row["application_id"]
        params = row["params"]
        if self.query.registered_params_only:
            shown = self.registered.get(application_id, set())
            params = {key: value for key, value in params.items() if key in shown}
        keys = self.sensitive.get(application_id)
        if keys:
            params = records.masked_params(params, keys)
        if params is not row["params"]:
            row["params"] = params
        return row

    def masks(self, row: dict[str, Any]) -> bool:
        """Whether the reader sees this row other than as the log holds it."""
        keys = self.sensitive.get(row["application_id"])
        return bool(keys and keys & row["params"].keys())


async def filter_types(database: Database, query: q.RecordQuery) -> dict[str, ParamType]:
    """The registered types of the params filtered on; 403 for a sensitive one. Asked before
    the first byte is sent, so that a refusal is an answer, not a broken stream."""
    async with database.read_session() as session:
        return await records.filter_types(session, query)


async def pages(
    database: Database, query: q.RecordQuery, types: dict[str, ParamType]
) -> AsyncIterator[list[dict[str, Any]]]:
    """The matching records' leaf fields, page by page, in the query's order."""
    where = q.conditions(query, database.dialect, types)
    columns = _columns(database.dialect)
    page_query = replace(query, cursor=None)
    while True:
        statement = (
            select(*columns)
            .where(*q.with_cursor(page_query, where))
            .order_by(*q.order_by(page_query))
            .limit(PAGE)
        )
        async with database.read_session() as session:
            connection = await session.connection()  # Core: no ORM loading of the rows
            rows = [_leaf_fields(row) for row in (await connection.execute(statement)).all()]
        if rows:
            yield rows
        if len(rows) < PAGE:
            return
        last = rows[-1]
        page_query.cursor = q.Cursor(
            query.sort_by,
            query.sort_dir,
            q.cursor_value(last.__getitem__, query.sort_by),
            last["seq"],
            last["created_at"],
        )

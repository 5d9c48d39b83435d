"""Queries for records and their idempotency claims."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from sqlalchemy import ColumnElement, String, Table, and_, bindparam, func, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from audittrail import clock
from audittrail.applications.service import ParamType
from audittrail.db import bulk, fts5
from audittrail.db.models import IdempotencyKey, Record
from audittrail.log import head as log_head
from audittrail.records import idempotency
from audittrail.records import query as q
from audittrail.records import search as full_text
from audittrail.records.idempotency import Identity

IDEMPOTENCY_KEYS = cast(Table, IdempotencyKey.__table__)
_CLAIM_COLUMNS = ("scope", "key", "request_hash", "record_id", "created_at")


async def by_id(session: AsyncSession, record_id: str) -> Record | None:
    result = await session.execute(
        select(Record).where(Record.id == record_id).options(selectinload(Record.application))
    )
    return result.scalar_one_or_none()


async def page(
    session: AsyncSession,
    query: q.RecordQuery,
    *,
    offset: int,
    limit: int,
    param_types: dict[str, ParamType],
    counted: bool = True,
) -> tuple[list[Record], int | None, bool]:
    """One page of records, the total matching the filters (None if not ``counted``: a count
    can cost more than the page), and whether more follow."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite" and query.search is not None and _searched_alone(query):
        fts5_query = full_text.fts5_query(query.search)
        if fts5_query is not None:
            return await _fts5_page(
                session, query, fts5_query, offset=offset, limit=limit, counted=counted
            )
    where = q.conditions(query, dialect, param_types)
    total = await _total(session, query, where) if counted else None
    if query.cursor is None and total is not None and offset >= total:
        # Past the end: nothing to read, and an offset past any 64-bit count never reaches SQL.
        return [], total, False
    statement = (
        select(Record)
        .where(*q.with_cursor(query, where))
        .order_by(*q.order_by(query))
        .limit(limit + 1)
        .options(selectinload(Record.application))
    )
    if query.cursor is None:
        statement = statement.offset(offset)
    records = list((await session.execute(statement)).scalars())
    return records[:limit], total, len(records) > limit


def _searched_alone(query: q.RecordQuery) -> bool:
    """A search of everything, newest or oldest first: FTS5 alone answers it (below)."""
    return (
        query.visibility.application_ids is None
        and not q.is_filtered(replace(query, search=None))
        and query.sort_by is q.SortField.CREATED_AT
    )


async def _fts5_page(
    session: AsyncSession,
    query: q.RecordQuery,
    fts5_query: str,
    *,
    offset: int,
    limit: int,
    counted: bool,
) -> tuple[list[Record], int | None, bool]:
    """SQLite, a search alone, by time: the total and the page's seqs straight from the FTS5
    index, whose rowids are the seqs, in their order (time never runs backwards along the log,
    so seq order is the list's). As a condition on records, SQLite would gather every match and
    sort them: 240 ms for a word in 90% of 300,000 records, against 0.1 ms."""
    total = None
    if counted:
        total = (await session.execute(full_text.fts5_count(fts5_query))).scalar_one()
    if query.cursor is None and total is not None and offset >= total:
        return [], total, False
    seqs = full_text.fts5_seqs(fts5_query)
    seq = fts5.TABLE.c.rowid
    newest_first = query.sort_dir is q.SortDir.DESC
    seqs = seqs.order_by(seq.desc() if newest_first else seq.asc()).limit(limit + 1)
    if query.cursor is not None:
        after = query.cursor.seq
        seqs = seqs.where(seq < after if newest_first else seq > after)
    else:
        seqs = seqs.offset(offset)
    statement = (
        select(Record)
        .where(Record.seq.in_(seqs), *q.with_cursor(query, []))
        .order_by(*q.order_by(query))
        .options(selectinload(Record.application))
    )
    records = list((await session.execute(statement)).scalars())
    return records[:limit], total, len(records) > limit


async def _total(
    session: AsyncSession, query: q.RecordQuery, where: list[ColumnElement[bool]]
) -> int:
    """How many records match: exact. Every record, for a reader who sees them all, is the
    log's size, which the head keeps; anything else is counted (docs/queries.md: by index)."""
    if q.counted_by_head(query):
        return (await log_head.read(session)).size
    return (
        await session.execute(select(func.count()).select_from(Record).where(*where))
    ).scalar_one()


async def by_ids(session: AsyncSession, record_ids: set[str]) -> dict[str, Record]:
    if not record_ids:
        return {}
    result = await session.execute(
        select(Record).where(Record.id.in_(record_ids)).options(selectinload(Record.application))
    )
    return {record.id: record for record in result.scalars()}


async def claims(
    session: AsyncSession, identities: list[Identity]
) -> dict[Identity, idempotency.Made]:
    """The idempotency claims of these identities already made.

    On PostgreSQL the identities are two arrays joined to the table, which it answers with a
    lookup of the primary key each: as a list of (scope, key) pairs, it planned one branch a
    pair (200-280 ms for a batch of 1,000, an import's, under the log's lock), and as a list
    of keys, once it took its generic plan, compared each of a scope's claims with every key
    (0.4 s a batch at 20,000 claims, growing). SQLite reads row values from the primary key.
    """
    if not identities:
        return {}
    columns = (
        IdempotencyKey.scope,
        IdempotencyKey.key,
        IdempotencyKey.request_hash,
        IdempotencyKey.record_id,
    )
    if session.get_bind().dialect.name == "postgresql":
        scopes, keys = zip(*identities, strict=True)
        wanted = (
            func.unnest(
                bindparam("scopes", list(scopes), type_=ARRAY(String)),
                bindparam("keys", list(keys), type_=ARRAY(String)),
            )
            .table_valued("scope", "key")
            .render_derived("wanted")
        )
        statement = (
            select(*columns)
            .select_from(wanted)
            .join(
                IdempotencyKey,
                and_(IdempotencyKey.scope == wanted.c.scope, IdempotencyKey.key == wanted.c.key),
            )
        )
    else:
        statement = select(*columns).where(
            tuple_(IdempotencyKey.scope, IdempotencyKey.key).in_(identities)
        )
    rows = await session.execute(statement)
    return {
        (scope, key): idempotency.Made(request_hash, record_id)
        for scope, key, request_hash, record_id in rows
    }


async def add_claims(session: AsyncSession, claims: list[tuple[idempotency.Claim, str]]) -> None:
    """Keep new claims, each with the id of the record it created: as the records go in
    (db/bulk.py), a batch's thousand claims in one COPY on PostgreSQL."""
    now = clock.now()
    rows = [
        (claim.scope, claim.key, claim.request_hash, record_id, now) for claim, record_id in claims
    ]
    await bulk.insert_rows(session, IDEMPOTENCY_KEYS, _CLAIM_COLUMNS, rows)

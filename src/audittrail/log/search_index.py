"""Writing records' search words again when what search may find in them changes.

A record's words (records.search_text, search_words.py) leave out the values of its
application's sensitive params, as they were when it was appended. When a param becomes
sensitive, or stops being so, the words of the application's records that hold it are written
again, in the transaction of the change and after its system record took the log's lock: every
record committed before is rewritten, and every record committed after was checked against the
new definitions (the registry version moved). So no search finds a value from the moment it is
masked. This is the one UPDATE of records the service makes; the append-only triggers let a
change of search_text alone through (migration 0007), and nothing else.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import ColumnElement, Table, bindparam, func, literal, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import search_words
from audittrail.db import fts5
from audittrail.db.models import Record

CHUNK = 1000
_SEARCHED = [getattr(Record, name) for name in search_words.FIELDS]
RECORDS = cast(Table, Record.__table__)


async def rewrite(
    session: AsyncSession, application_id: str, key: str, unsearchable: frozenset[str]
) -> int:
    """Write again the words of the application's records holding param ``key``, leaving out
    the values of the params in ``unsearchable`` (its sensitive ones now); how many changed."""
    connection = await session.connection()
    sqlite = connection.dialect.name == "sqlite"
    changed = 0
    after: ColumnElement[bool] | None = None
    while True:
        # In the order of the application's index (application_id, created_at), by keyset.
        chunk = (
            select(Record.seq, Record.created_at, Record.params, Record.search_text, *_SEARCHED)
            .where(Record.application_id == application_id, _holds(key, sqlite))
            .order_by(Record.created_at, Record.seq)
            .limit(CHUNK)
        )
        if after is not None:
            chunk = chunk.where(after)
        rows = (await session.execute(chunk)).all()
        if not rows:
            return changed
        last = rows[-1]
        after = tuple_(Record.created_at, Record.seq) > tuple_(
            literal(last.created_at, Record.created_at.type), literal(last.seq, Record.seq.type)
        )
        rewritten = [(row.seq, row.search_text, search_words.of(row, unsearchable)) for row in rows]
        rewritten = [(seq, old, new) for seq, old, new in rewritten if new != old]
        if rewritten:
            await connection.execute(
                update(RECORDS)
                .where(RECORDS.c.seq == bindparam("at"))
                .values(search_text=bindparam("words")),
                [{"at": seq, "words": new} for seq, _old, new in rewritten],
            )
            if sqlite:
                forgotten = [(seq, old) for seq, old, _new in rewritten if old is not None]
                if forgotten:  # none for records loaded around the service, without words
                    await connection.exec_driver_sql(fts5.DELETE, forgotten)
                await connection.exec_driver_sql(
                    fts5.INSERT, [(seq, new) for seq, _old, new in rewritten]
                )
            changed += len(rewritten)


def _holds(key: str, sqlite: bool) -> ColumnElement[bool]:
    if sqlite:
        # Param keys are [a-z][a-z0-9_]*: nothing to quote in the path.
        return func.json_type(Record.params, f'$."{key}"').is_not(None)
    return Record.params.op("?", is_comparison=True)(key)

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

from sqlalchemy import ColumnElement, Table, bindparam, func, select, update
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
    after = -1
    while True:
        rows = (
            await session.execute(
                select(Record.seq, Record.params, Record.search_text, *_SEARCHED)
                .where(
                    Record.application_id == application_id,
                    _holds(key, sqlite),
                    Record.seq > after,
                )
                .order_by(Record.seq)
                .limit(CHUNK)
            )
        ).all()
        if not rows:
            return changed
        after = rows[-1].seq
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

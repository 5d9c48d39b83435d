"""Full-text search, and params and metadata indexed by value

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

records.search_text holds the words a record is found by (audittrail/search_words.py), which
the append writes from now on; for the records already there it is filled here, with the
param definitions' current sensitivity, the one UPDATE of records this migration makes (the
append-only trigger is suspended for it, in the same transaction, as 0005 did). PostgreSQL
indexes it with a GIN index of its words as lexemes (audittrail_words), and params and metadata
with GIN jsonb_path_ops indexes (equality by containment). SQLite gets an FTS5 table with
records as its external content, rebuilt from them here and written by the append afterwards.

The indexes of event_type, category and actor gain seq, and severity gets one by rank, so that
each serves both its filter and the list sorted by it; an entity's id alone gets an index (the
index of both has the type first) (docs/queries.md).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from audittrail import search_words
from audittrail.db import fts5
from audittrail.db.append_only import postgres_triggers, records_updatable, sqlite_trigger
from audittrail.integrity.canonical import LEAF_FIELDS

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 10_000
SEARCHED = search_words.FIELDS

_records = sa.table(
    "records",
    sa.column("seq"),
    sa.column("application_id"),
    sa.column("params", sa.JSON),
    sa.column("search_text"),
    *(sa.column(name) for name in SEARCHED),
)
_definitions = sa.table(
    "param_definitions", sa.column("application_id"), sa.column("key"), sa.column("sensitive")
)


# The record list's sorts read an index each: (key, created_at, seq), the order the list takes.
# Sort keys that are expressions are written with constants, as records/query.py sends them.
NEW_INDEXES = {
    # Not a sort's: an entity by its id alone (the index of both has the type first).
    "ix_records_entity_id_created_at": "entity_id, created_at",
    "ix_records_event_type_created_at_seq": "event_type, created_at, seq",
    "ix_records_category_created_at_seq": "category, created_at, seq",
    "ix_records_actor_created_at_seq": "coalesce(actor, ''), created_at, seq",
    "ix_records_severity_rank_created_at_seq": (
        "(CASE severity WHEN 'none' THEN 0 WHEN 'low' THEN 1 WHEN 'medium' THEN 2 "
        "WHEN 'high' THEN 3 WHEN 'critical' THEN 4 ELSE -1 END), created_at, seq"
    ),
}
REPLACED_INDEXES = {
    "ix_records_event_type_created_at": "event_type, created_at",
    "ix_records_category_created_at": "category, created_at",
    "ix_records_actor_created_at": "actor, created_at",
}


def upgrade() -> None:
    for name in REPLACED_INDEXES:
        op.execute(f"DROP INDEX {name}")
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, columns in NEW_INDEXES.items():
        # PostgreSQL counts by actor from the index alone only if it holds the column itself.
        include = " INCLUDE (actor)" if postgres and "actor" in columns else ""
        op.execute(f"CREATE INDEX {name} ON records ({columns}){include}")
    op.add_column("records", sa.Column("search_text", sa.Text(), nullable=True))
    with records_updatable(op.execute, op.get_bind().dialect.name):
        _fill_search_text()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_WORDS)
        op.execute(
            "CREATE INDEX ix_records_search ON records USING gin (audittrail_words(search_text))"
        )
        for column in ("params", "metadata"):
            op.execute(
                f"CREATE INDEX ix_records_{column} ON records USING gin ({column} jsonb_path_ops)"
            )
    else:
        op.execute(fts5.CREATE)
        op.execute(fts5.REBUILD)
    _allow_search_text_updates()


# A record's words as lexemes, taken as they are (no parser). In a function of its own for its
# cost: written inline, the planner prices splitting a row's words as nothing, and counted a
# search by reading every row and splitting them all (1.9 s at a million records) rather than
# by the GIN index (0.3 s). PL/pgSQL, not SQL, which the planner would inline, cost and all.
POSTGRES_WORDS = """
CREATE FUNCTION audittrail_words(words text) RETURNS tsvector
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS $$
BEGIN
    RETURN array_to_tsvector(string_to_array(words, ' '));
END
$$
"""


# The append-only triggers of records let one change through: of search_text alone, which the
# service writes again when a param's sensitivity changes (log/search_index.py). PostgreSQL
# compares the whole rows but for it, so a column added later is protected as it comes;
# SQLite names the columns (tests/log/test_append_only.py tries every one of the models').
POSTGRES_WORDS_ONLY = """
CREATE FUNCTION audittrail_records_words_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF to_jsonb(NEW) - 'search_text' = to_jsonb(OLD) - 'search_text' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audittrail: % on % is refused: the log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""
# The columns of records before search_text: the leaf's fields and the tree's hashes.
RECORD_COLUMNS = (*LEAF_FIELDS, "tree_hashes")


def _allow_search_text_updates() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER records_append_only ON records")
        op.execute(POSTGRES_WORDS_ONLY)
        op.execute(
            "CREATE TRIGGER records_append_only BEFORE DELETE ON records "
            "FOR EACH ROW EXECUTE FUNCTION audittrail_append_only()"
        )
        op.execute(
            "CREATE TRIGGER records_words_only BEFORE UPDATE ON records "
            "FOR EACH ROW EXECUTE FUNCTION audittrail_records_words_only()"
        )
    else:
        changed = " OR ".join(f"NEW.{name} IS NOT OLD.{name}" for name in RECORD_COLUMNS)
        op.execute("DROP TRIGGER records_no_update")
        op.execute(
            f"CREATE TRIGGER records_no_update BEFORE UPDATE ON records WHEN {changed} "
            "BEGIN SELECT RAISE(ABORT, 'audittrail: UPDATE on records is refused: "
            "the log is append-only'); END"
        )


def _refuse_search_text_updates() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER records_words_only ON records")
        op.execute("DROP TRIGGER records_append_only ON records")
        op.execute("DROP FUNCTION audittrail_records_words_only()")
        op.execute(postgres_triggers("records")[0])
    else:
        op.execute("DROP TRIGGER records_no_update")
        op.execute(sqlite_trigger("records", "UPDATE"))


def _fill_search_text() -> None:
    bind = op.get_bind()
    sensitive: dict[str, set[str]] = {}
    for application_id, key in bind.execute(
        sa.select(_definitions.c.application_id, _definitions.c.key).where(
            _definitions.c.sensitive.is_(True)
        )
    ):
        sensitive.setdefault(application_id, set()).add(key)
    last = bind.execute(sa.select(sa.func.max(_records.c.seq))).scalar_one()
    for start in range(0, -1 if last is None else last + 1, CHUNK):
        rows = bind.execute(
            sa.select(
                _records.c.seq,
                _records.c.application_id,
                _records.c.params,
                *(_records.c[name] for name in SEARCHED),
            ).where(_records.c.seq.between(start, start + CHUNK - 1))
        )
        updates = [_search_text(row, sensitive) for row in rows]
        if updates:
            bind.execute(
                _records.update()
                .where(_records.c.seq == sa.bindparam("holder"))
                .values(search_text=sa.bindparam("text")),
                updates,
            )


def _search_text(row: Any, sensitive: dict[str, set[str]]) -> dict[str, Any]:
    unsearchable = sensitive.get(row.application_id, set())
    return {"holder": row.seq, "text": search_words.of(row, unsearchable)}


def downgrade() -> None:
    _refuse_search_text_updates()
    if op.get_bind().dialect.name == "postgresql":
        for index in ("ix_records_search", "ix_records_params", "ix_records_metadata"):
            op.execute(f"DROP INDEX {index}")
        op.execute("DROP FUNCTION audittrail_words(text)")
    else:
        op.execute("DROP TABLE records_search")
    op.drop_column("records", "search_text")
    for name in NEW_INDEXES:
        op.execute(f"DROP INDEX {name}")
    for name, columns in REPLACED_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON records ({columns})")

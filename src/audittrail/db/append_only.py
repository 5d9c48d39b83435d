"""The triggers that make the log's tables append-only, as the migrations create them.

One place for their SQL, so that a migration that must recreate one (to move data into an
append-only table) recreates exactly what the first one made.
"""

import contextlib
from collections.abc import Callable, Iterator

POSTGRES_REJECT = """
CREATE FUNCTION audittrail_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audittrail: % on % is refused: the log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""
"""The function every PostgreSQL trigger calls; created once, before them."""


def postgres_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION audittrail_append_only()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION audittrail_append_only()",
    ]


SQLITE_OPERATIONS = ("UPDATE", "DELETE")


def sqlite_trigger(table: str, operation: str) -> str:
    """SQLite's trigger refusing UPDATE or DELETE (it has no TRUNCATE); named
    ``<table>_no_<operation>``."""
    return (
        f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'audittrail: {operation} on {table} is refused: "
        "the log is append-only'); END"
    )


@contextlib.contextmanager
def records_updatable(execute: Callable[[str], object], dialect: str) -> Iterator[None]:
    """Within the block, records take UPDATE: for a migration filling a column it adds (0005,
    0007), in its transaction, the refusal restored as it was when the block ends."""
    if dialect == "postgresql":
        execute("ALTER TABLE records DISABLE TRIGGER records_append_only")
        yield
        execute("ALTER TABLE records ENABLE TRIGGER records_append_only")
    else:
        execute("DROP TRIGGER records_no_update")
        yield
        execute(sqlite_trigger("records", "UPDATE"))

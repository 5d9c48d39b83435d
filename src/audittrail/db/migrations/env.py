"""Alembic environment: async engine, batch mode for SQLite, one migrator at a time on PG."""

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from audittrail.db.engine import Database
from audittrail.db.models import Base

# Any constant works: it only has to be the same in every process that migrates.
MIGRATION_LOCK_KEY = 0x61756474


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    # The service's own writer engine: on SQLite it issues BEGIN itself, so DDL is transactional
    # and a failed migration leaves nothing half-done.
    database = Database.connect(context.config.attributes["database_url"])
    try:
        async with database.writer.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await database.dispose()


asyncio.run(_run_async())

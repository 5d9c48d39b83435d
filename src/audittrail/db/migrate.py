"""Apply the Alembic migrations shipped inside the package."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from audittrail.db.engine import async_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Blocking: call from a thread when an event loop is running (env.py runs its own)."""
    command.upgrade(alembic_config(database_url), revision)


async def at_head(database_url: str) -> bool:
    """Whether the database is migrated to the package's head, found without writing to it:
    a SQLite file is opened read-only (one that does not exist is not created), a PostgreSQL
    database only read."""
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = url.database or ""
        if path in ("", ":memory:") or not await asyncio.to_thread(Path(path).is_file):
            return False
        url = url.set(database=f"file:{quote(path)}", query={"mode": "ro", "uri": "true"})
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(current_heads)
    finally:
        await engine.dispose()
    return current == heads()


def current_heads(connection: Connection) -> frozenset[str]:
    """The revisions the database is at (Alembic's own record of them)."""
    return frozenset(MigrationContext.configure(connection).get_current_heads())


@functools.cache
def heads() -> frozenset[str]:
    """The package's migration heads: the revisions a current database is at."""
    return frozenset(ScriptDirectory.from_config(alembic_config("")).get_heads())

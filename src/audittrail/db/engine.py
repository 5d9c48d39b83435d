"""Engines and sessions: a reader and a writer over one database URL.

On SQLite the writer opens every transaction with BEGIN IMMEDIATE, so a request that
reads before it writes cannot lose a race for the write lock half-way through. On PostgreSQL
both share one pool.

Reads run in autocommit: each statement sees the database as of its own start, and none pays
for a BEGIN and a ROLLBACK (two round trips; on SQLite two hops to the driver's thread: as
much again as a one-statement read). That is all a transaction gave them on PostgreSQL, whose
READ COMMITTED gives each statement its own snapshot anyway; on SQLite it now reads the same
way. What must hold across statements is read in one statement (an inclusion proof with its
checkpoint and the head, say).

A PostgreSQL streaming replica (AUDITTRAIL_READ_DATABASE_URL) is a third engine, read the same
way; only reads that may lag the primary go to it, and which those are is log/replica.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 30_000


def async_url(database_url: str) -> URL:
    """Map the URLs people write (sqlite:///x.db, postgresql://...) onto the async drivers."""
    url = make_url(database_url)
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        return url.set(drivername="sqlite+aiosqlite")
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        return url.set(drivername="postgresql+asyncpg")
    return url


def _sqlite_engine(url: URL, begin: str | None, synchronous: str) -> AsyncEngine:
    """An engine whose transactions start with ``begin``; with None, one in autocommit, whose
    connections never hold a transaction (so returning them to the pool needs no rollback)."""
    engine = create_async_engine(
        url, pool_reset_on_return="rollback" if begin else None, json_deserializer=orjson.loads
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (the driver's own is deferred-only).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()
        # SQLite's own lower() folds ASCII only; ILIKE (lower() LIKE lower()) must match É to é
        # as PostgreSQL does.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    if begin is not None:

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql(begin)

    return engine


def _lower(text: str | None) -> str | None:
    return text.lower() if isinstance(text, str) else text


# SQLSTATEs after which the server has dropped the connection: class 08 (connection exception)
# and 57P (admin or crash shutdown, cannot connect now, database dropped, idle timeout).
_CONNECTION_GONE = ("08", "57P")


def _connection_gone(error: BaseException) -> bool:
    sqlstate = getattr(error, "sqlstate", None) or ""
    return sqlstate.startswith(_CONNECTION_GONE) or isinstance(
        error, AsyncAdapt_asyncpg_dbapi.InternalClientError
    )


def _postgresql_engine(url: URL, pool_size: int, work_mem: str | None) -> AsyncEngine:
    # Opening a connection per request under load cost more than the request (measured: a
    # pool of 40 doubled throughput at 32 client connections over 10 + 20 overflow). Each
    # process may open pool_size * 1.25: PostgreSQL's max_connections must cover them all.
    # No pre-ping: it is a round trip on every checkout (a third of a one-statement
    # transaction's CPU on these machines). A connection found dead in use is a disconnect
    # (below), which discards the whole pool: once the database is back, only requests already
    # holding a connection from before the outage get 503; the rest get fresh connections.
    # JIT off: it compiles a plan once its cost passes a threshold, which counting a hundred
    # thousand matches of a search does, and spent 25-30 ms of a 250 ms query doing so
    # (EXPLAIN ANALYZE at a million records). Our queries are short; none gains from it.
    server_settings = {"jit": "off"}
    if work_mem is not None:
        server_settings["work_mem"] = work_mem
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size // 4,
        connect_args={"server_settings": server_settings},
        # The JSON columns hold what the intake took (finite numbers within 2**53): orjson reads
        # them as the standard library does, at a fraction of its cost (exports read millions).
        json_deserializer=orjson.loads,
    )

    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        # asyncpg reports a terminated backend as an ordinary server error, and a connection
        # whose socket is closing as an internal one, so SQLAlchemy would roll back on the dead
        # connection (failing again) and keep it in the pool. Marked a disconnect, it is
        # discarded instead, and the error says connection_invalidated: the database is
        # unavailable, not a bug. No connection at all is a failed connect: the same to a client.
        if context.connection is None or _connection_gone(context.original_exception):
            context.is_disconnect = True

    return engine


@dataclass
class Database:
    reader: AsyncEngine
    writer: AsyncEngine
    replica: AsyncEngine | None = None
    """A PostgreSQL streaming replica's, in autocommit as the reader; None: reads the primary."""

    @classmethod
    def connect(
        cls,
        database_url: str,
        *,
        replica_url: str | None = None,
        sqlite_synchronous: str = "NORMAL",
        pool_size: int = 32,
        work_mem: str | None = None,
    ) -> Database:
        url = async_url(database_url)
        if url.get_backend_name() == "sqlite":
            if replica_url is not None:
                raise ValueError("a replica needs a PostgreSQL primary (config.py refuses it)")
            return cls(
                reader=_sqlite_engine(url, None, sqlite_synchronous),
                writer=_sqlite_engine(url, "BEGIN IMMEDIATE", sqlite_synchronous),
            )
        engine = _postgresql_engine(url, pool_size, work_mem)
        replica = None
        if replica_url is not None:
            replica = _postgresql_engine(async_url(replica_url), pool_size, work_mem)
            replica = replica.execution_options(isolation_level="AUTOCOMMIT")
        # The same pool; asyncpg's autocommit is a flag of the driver's, set without a query.
        return cls(
            reader=engine.execution_options(isolation_level="AUTOCOMMIT"),
            writer=engine,
            replica=replica,
        )

    @property
    def dialect(self) -> str:
        return self.writer.dialect.name

    def __post_init__(self) -> None:
        self._read_sessions = async_sessionmaker(self.reader, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(self.writer, expire_on_commit=False)
        # SQLite has one writer at a time anyway; queueing this process's writers here, rather
        # than in SQLite's busy handler, keeps them from starving each other (and other
        # processes) past the busy timeout.
        self._one_writer = asyncio.Lock() if self.dialect == "sqlite" else None
        self._on_replica = self
        if self.replica is not None:
            self._on_replica = Database(reader=self.replica, writer=self.writer)

    def on_replica(self) -> Database:
        """This database with the replica as its reader (itself without one): for reads that
        may lag the primary and go through read_session, as exports do; writes still go to the
        primary. Disposed with this one, never by itself."""
        return self._on_replica

    def replica_session(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        """A read session on the replica, or on the primary where none is configured."""
        return self._on_replica.read_session()

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A session that only reads, each statement on its own (module docstring). If its
        connection died by the time it closes, nothing is lost: what was read stands, and so
        does the request's answer."""
        session = self._read_sessions()
        try:
            yield session
        finally:
            try:
                await session.close()
            except DBAPIError as error:
                if not error.connection_invalidated:
                    raise

    @asynccontextmanager
    async def write_session(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        async with contextlib.AsyncExitStack() as stack:
            if self._one_writer is not None:
                await stack.enter_async_context(self._one_writer)
            session = await stack.enter_async_context(self._write_sessions())
            await stack.enter_async_context(session.begin())
            yield session

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader.sync_engine.pool is not self.writer.sync_engine.pool:
            await self.reader.dispose()
        if self.replica is not None:
            await self.replica.dispose()

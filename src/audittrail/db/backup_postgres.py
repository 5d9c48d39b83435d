"""PostgreSQL's side of backup and restore: pg_dump's custom format, and pg_restore in one
transaction. The client programs are the ones on PATH, else the newest installed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from glob import glob
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from audittrail.db.backup_archive import (
    TABLES,
    Archive,
    BackupFailed,
    BackupRefused,
    Restored,
    not_migrated,
    refuse_replacing,
)

# Where Debian and Ubuntu install each major version's client programs, when none is on PATH.
POSTGRES_PROGRAMS = "/usr/lib/postgresql/*/bin"


class ProgramFailed(BackupFailed):
    """A PostgreSQL client program exited with an error; ``reason`` is its first line."""

    def __init__(self, program: str, reason: str, *, unchanged: bool = False) -> None:
        after = "; the database is unchanged" if unchanged else ""
        super().__init__(f"{program} failed{after}: {reason}")
        self.reason = reason


def backup(url: URL, partial: Path) -> None:
    """pg_dump the database into ``partial`` while servers go on writing to it."""
    revision, _, _ = asyncio.run(_state(url))
    if revision is None:
        raise not_migrated(f"database {url.database}")
    # pg_dump reads every table in one snapshot, while the servers go on committing.
    _run("pg_dump", "--format=custom", f"--file={partial}", url=url)


def archive(path: Path) -> Archive:
    """What the archive holds, from its table of contents and two small tables' rows."""
    listing = _run("pg_restore", "--list", "--", str(path))
    tables = set(re.findall(r"^\d+; \d+ \d+ TABLE public (\S+) ", listing, re.MULTILINE))
    missing = set(TABLES) - tables
    if missing:
        raise BackupRefused(
            f"{path} is a pg_dump archive but not of audittrail's database "
            f"(no {min(missing)} table)"
        )
    script = _run(
        "pg_restore", "--data-only", "--table=alembic_version", "--table=log_head", "--file=-",
        "--", str(path),
    )  # fmt: skip
    rows = _copy_rows(script)
    revisions = [row["version_num"] for row in rows.get("alembic_version", [])]
    heads = [int(row["size"]) for row in rows.get("log_head", []) if row["id"] == "1"]
    return Archive("postgresql", revisions[0] if revisions else "", heads[0] if heads else 0)


_COPY = re.compile(r"COPY public\.(\w+) \(([^)]*)\) FROM stdin;")


def _copy_rows(script: str) -> dict[str, list[dict[str, str]]]:
    """The rows of each table in a plain-text dump's COPY blocks, by column name."""
    rows: dict[str, list[dict[str, str]]] = {}
    columns: list[str] | None = None
    table = ""
    for line in script.splitlines():
        if columns is None:
            if match := _COPY.fullmatch(line):
                table, columns = match[1], match[2].split(", ")
                rows[table] = []
        elif line == "\\.":
            columns = None
        else:
            rows[table].append(dict(zip(columns, line.split("\t"), strict=True)))
    return rows


def restore(path: Path, url: URL, archive: Archive, force: bool) -> Restored:
    """pg_restore the archive into the database in one transaction, dropping first what it
    holds; refused while other sessions use the database, or when it is at another schema."""
    revision, replaced, others = asyncio.run(_state(url))
    if others:
        raise BackupRefused(
            f"database {url.database} is in use ({others} other sessions): stop every "
            "audittrail process using it first"
        )
    if revision is not None and revision != archive.revision:
        # pg_restore --clean drops what the backup holds, not what another schema added.
        raise BackupRefused(
            f"database {url.database} is at schema revision {revision} and the backup at "
            f"{archive.revision}: restore it into a new, empty database"
        )
    refuse_replacing(replaced, archive, force)
    _run(
        "pg_restore", "--clean", "--if-exists", "--single-transaction", "--exit-on-error",
        "--no-owner", "--no-privileges", f"--dbname={_conninfo_dbname(url)}", "--", str(path),
        url=url, unchanged=True,
    )  # fmt: skip
    return Restored(archive, replaced, asyncio.run(_restored(url)))


async def _state(url: URL) -> tuple[str | None, int, int]:
    """The database's schema revision (None in an empty one), the size of its log (0 if it has
    none) and how many other sessions are connected to it."""
    async with _connection(url) as connection:
        found = await connection.execute(
            text("SELECT to_regclass('public.alembic_version'), to_regclass('public.log_head')")
        )
        has_revision, has_head = found.one()
        revision = None
        if has_revision:
            revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
        size = 0
        if has_head:
            size = await connection.scalar(text("SELECT size FROM log_head WHERE id = 1")) or 0
        others = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
        )
    return revision, int(size), int(others or 0)


async def _restored(url: URL) -> str | None:
    """Gather the planner's statistics, which a restore leaves empty (until autovacuum's turn,
    queries may choose plans as if every table were small); the newest checkpoint's note."""
    async with _connection(url) as connection:
        await connection.execute(text("ANALYZE"))
        await connection.commit()
        note: str | None = await connection.scalar(
            text("SELECT note FROM checkpoints ORDER BY tree_size DESC LIMIT 1")
        )
    return note


@contextlib.asynccontextmanager
async def _connection(url: URL) -> AsyncIterator[AsyncConnection]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            yield connection
    except (SQLAlchemyError, OSError) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise BackupFailed(f"database {url.database}: {reason}") from None
    finally:
        await engine.dispose()


def _run(program: str, *arguments: str, url: URL | None = None, unchanged: bool = False) -> str:
    """Run one of PostgreSQL's client programs (connected to ``url``'s database, if given);
    its output."""
    done = subprocess.run(
        [_program(program), *arguments],
        capture_output=True,
        env=_environment(url) if url is not None else None,
        check=False,
    )
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").splitlines()
        first = next((line for line in lines if "error" in line), lines[0] if lines else "")
        reason = first.removeprefix(f"{program}: ").removeprefix("error: ")
        raise ProgramFailed(program, reason, unchanged=unchanged)
    return done.stdout.decode()


def _program(name: str) -> str:
    """A client program on PATH, else the newest installed under POSTGRES_PROGRAMS."""
    found = shutil.which(name)
    if found is not None:
        return found
    versions = sorted(
        glob(f"{POSTGRES_PROGRAMS}/{name}"),
        key=lambda path: [int(part) for part in re.findall(r"\d+", path)],
    )
    if versions:
        return versions[-1]
    raise BackupFailed(
        f"{name} was found neither on PATH nor in {POSTGRES_PROGRAMS}: install PostgreSQL's "
        "client programs, of the server's major version or newer"
    )


def _conninfo_dbname(url: URL) -> str:
    """The database as a libpq connection string of its name alone, quoted: a bare name holding
    "=" (or a URI) would be read as a connection string of its own. The rest comes from the
    environment (`_environment`)."""
    name = (url.database or "").replace("\\", "\\\\").replace("'", "\\'")
    return f"dbname='{name}'"


def _environment(url: URL) -> dict[str, str]:
    """libpq's variables for the URL's database: the password stays out of the command line."""
    environment = dict(os.environ)
    for variable, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
        ("PGSSLMODE", url.query.get("sslmode") or url.query.get("ssl")),
    ):
        if value is not None:
            environment[variable] = str(value)
    return environment

"""SQLite's side of backup and restore: the online backup API, out of the database and into it."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import URL

from audittrail.db.backup_archive import (
    TABLES,
    Archive,
    BackupFailed,
    BackupRefused,
    Restored,
    not_migrated,
    refuse_replacing,
)
from audittrail.db.engine import SQLITE_BUSY_TIMEOUT_MS


def database_path(url: URL) -> Path:
    """The SQLite file the URL names."""
    if url.database in (None, "", ":memory:"):
        raise BackupRefused("AUDITTRAIL_DATABASE_URL names no SQLite file")
    return Path(url.database)


def refuse_the_database_itself(path: Path, database: Path) -> None:
    """A backup written over, or restored from, the live file would destroy it."""
    if path.exists() and database.exists() and path.samefile(database):
        raise BackupRefused(f"{path} is the database itself (AUDITTRAIL_DATABASE_URL)")


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    """A connection that never creates the file (mode ``ro`` or ``rw``)."""
    return sqlite3.connect(
        f"file:{quote(str(path))}?mode={mode}",
        uri=True,
        isolation_level=None,
        timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
    )


def _tables(database: sqlite3.Connection) -> set[str]:
    names = database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {name for (name,) in names}


def backup(database: Path, partial: Path) -> None:
    """Copy the database into ``partial``, a new file, while servers go on writing to it."""
    if not database.is_file():
        raise BackupRefused(f"no SQLite database at {database}")
    try:
        with (
            contextlib.closing(_connect(database, "rw")) as live,
            contextlib.closing(sqlite3.connect(partial, isolation_level=None)) as copy,
        ):
            if "alembic_version" not in _tables(live):
                raise not_migrated(f"the SQLite database at {database}")
            # All pages in one step, so in one read transaction: a snapshot of the last commit
            # before it, while the servers go on committing to the WAL.
            live.backup(copy)
            # One file that stands alone: no -wal beside it, whatever the live one's mode.
            copy.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as error:
        raise BackupFailed(f"cannot back up {database}: {error}") from None


def archive(path: Path, *, check: bool = False) -> Archive:
    """What the SQLite file holds; with ``check``, after SQLite's quick check of every page."""
    try:
        with contextlib.closing(_connect(path, "ro")) as database:
            if check:
                problems = database.execute("PRAGMA quick_check").fetchall()
                if problems != [("ok",)]:
                    raise BackupRefused(f"{path} is a damaged SQLite database: {problems[0][0]}")
            missing = set(TABLES) - _tables(database)
            if missing:
                raise BackupRefused(
                    f"{path} is a SQLite database but not audittrail's (no {min(missing)} table)"
                )
            revision = database.execute("SELECT version_num FROM alembic_version").fetchone()
            return Archive("sqlite", revision[0] if revision else "", _log_size(database))
    except sqlite3.DatabaseError as error:
        raise BackupRefused(f"{path} is not a readable SQLite database: {error}") from None


def _log_size(database: sqlite3.Connection) -> int:
    """The log's size; 0 in a database without one (new, or never migrated)."""
    try:
        row = database.execute("SELECT size FROM log_head WHERE id = 1").fetchone()
    except sqlite3.OperationalError:  # no such table
        return 0
    return int(row[0]) if row else 0


def restore(path: Path, database: Path, archive: Archive, force: bool) -> Restored:
    """Replace the database (or make it) with the backup in ``path``, every other process
    locked out."""
    created = not database.exists()
    if created:  # it will hold credentials' hashes: the backup's own mode, never the umask's
        database.touch(mode=0o600)
    try:
        with contextlib.closing(
            sqlite3.connect(database, isolation_level=None, timeout=0)
        ) as target:
            replaced = _lock(target, database)
            refuse_replacing(replaced, archive, force)
            with contextlib.closing(_connect(path, "ro")) as source:
                # One write transaction on the database: it holds all of the backup once that
                # commits, and what it held before if anything (a crash included) stops it.
                source.backup(target)
            note = target.execute(
                "SELECT note FROM checkpoints ORDER BY tree_size DESC LIMIT 1"
            ).fetchone()
    except BaseException as error:
        if created:
            database.unlink(missing_ok=True)
        if isinstance(error, sqlite3.Error):
            raise BackupFailed(f"cannot restore into {database}: {error}") from None
        raise
    return Restored(archive, replaced, note[0] if note else None)


def _lock(target: sqlite3.Connection, database: Path) -> int:
    """Lock the database against every other connection until ``target`` closes, and read the
    size of its log. In WAL mode a connection in exclusive locking mode gets its lock only
    while no other process has the database open: an idle server holding a connection too."""
    target.execute("PRAGMA locking_mode=EXCLUSIVE")
    try:
        target.execute("BEGIN EXCLUSIVE")
    except sqlite3.OperationalError as error:
        if "locked" not in str(error) and "busy" not in str(error):
            raise
        raise BackupRefused(
            f"the database at {database} is in use: stop every audittrail process using it first"
        ) from None
    size = _log_size(target)
    # The backup cannot start inside a transaction; the locks stay until the connection closes.
    target.execute("ROLLBACK")
    return size

"""Backups of the database and their restore: SQLite's online backup API, PostgreSQL's pg_dump.

A backup is written beside its file and renamed into place only once it is whole and reads back
as a restore reads it, so the file at that name is always a complete backup. A restore checks
the backup and the database first (a backup of this kind, of a schema this release knows; no
other process using the database; no log it would replace unless forced) and then replaces the
whole database in one transaction: it either holds the backup, or is left as it was.

Blocking, for the command line: the database's own queries run their event loop here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from audittrail.db import backup_postgres, backup_sqlite
from audittrail.db.backup_archive import (
    NAMES,
    Archive,
    BackupFailed,
    BackupRefused,
    Kind,
    Restored,
)
from audittrail.db.engine import async_url
from audittrail.db.migrate import alembic_config

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


def backup(database_url: str, path: Path, *, replace: bool = False) -> Archive:
    """Back the database up into ``path`` while servers keep writing to it."""
    url = async_url(database_url)
    kind = _kind(url)
    if path.is_dir():
        raise BackupRefused(f"{path} is a directory: name the backup's file")
    if path.exists() and not replace:
        raise BackupRefused(f"{path} exists: choose a new name, or --force to replace it")
    if kind == "sqlite":
        backup_sqlite.refuse_the_database_itself(path, backup_sqlite.database_path(url))
    with _partial_file(path) as partial:
        if kind == "sqlite":
            backup_sqlite.backup(backup_sqlite.database_path(url), partial)
        else:
            backup_postgres.backup(url, partial)
        try:
            archive = _read(partial, kind)
        except BackupRefused as error:
            raise BackupFailed(f"the backup written does not read back: {error}") from None
        try:
            _sync(partial)
            partial.replace(path)
            _sync(path.parent)
        except OSError as error:
            raise BackupFailed(f"cannot write {path}: {error.strerror}") from None
    return archive


def restore(database_url: str, path: Path, *, force: bool = False) -> Restored:
    """Replace the database with the backup in ``path``; refused while any other process uses
    the database and, unless ``force``, when it holds a log."""
    url = async_url(database_url)
    kind = _kind(url)
    if kind == "sqlite":
        backup_sqlite.refuse_the_database_itself(path, backup_sqlite.database_path(url))
    archive = _restorable(path, kind)
    if kind == "sqlite":
        return backup_sqlite.restore(path, backup_sqlite.database_path(url), archive, force)
    return backup_postgres.restore(path, url, archive, force)


def _restorable(path: Path, kind: Kind) -> Archive:
    """What the backup in ``path`` holds, refused unless it is a backup for a database of
    ``kind`` at a schema revision this release knows."""
    try:
        with path.open("rb") as file:
            magic = file.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise BackupRefused(f"{path}: no such file") from None
    except OSError as error:
        raise BackupRefused(f"{path}: {error.strerror}") from None
    found: Kind | None = None
    if magic == SQLITE_MAGIC:
        found = "sqlite"
    elif magic.startswith(PG_DUMP_MAGIC):
        found = "postgresql"
    if found is None:
        raise BackupRefused(
            f"{path} is not an audittrail backup (neither a SQLite database nor a pg_dump archive)"
        )
    if found != kind:
        raise BackupRefused(
            f"{path} is a {NAMES[found]} backup, and AUDITTRAIL_DATABASE_URL names a "
            f"{NAMES[kind]} database: restore it into a {NAMES[found]} one"
        )
    archive = _read(path, kind, check=True)
    if archive.revision not in _revisions():
        raise BackupRefused(
            f"{path} holds schema revision {archive.revision!r}, which this release of "
            "audittrail does not know: restore it with the release that made it, or a newer one"
        )
    return archive


def _read(path: Path, kind: Kind, *, check: bool = False) -> Archive:
    if kind == "sqlite":
        return backup_sqlite.archive(path, check=check)
    try:
        return backup_postgres.archive(path)
    except backup_postgres.ProgramFailed as error:
        raise BackupRefused(f"{path} is not a readable pg_dump archive: {error.reason}") from None


def _kind(url: URL) -> Kind:
    return "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"


def _revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config(""))
    return frozenset(revision.revision for revision in script.walk_revisions())


@contextlib.contextmanager
def _partial_file(path: Path) -> Iterator[Path]:
    """A new file (mode 0600: a backup holds every credential's hash) beside ``path``, removed
    unless the block moved it into place."""
    try:
        descriptor, name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
        )
    except OSError as error:
        raise BackupRefused(f"cannot write beside {path}: {error.strerror}") from None
    os.close(descriptor)
    partial = Path(name)
    try:
        yield partial
    finally:
        partial.unlink(missing_ok=True)


def _sync(path: Path) -> None:
    """Make a file's content, or a directory's entries, durable."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

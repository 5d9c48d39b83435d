"""What a backup holds, and the refusals and failures of backup and restore, either kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["sqlite", "postgresql"]

NAMES: dict[Kind, str] = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
# What makes a database audittrail's: Alembic's record of its schema, and the log.
TABLES = ("alembic_version", "log_head", "records", "checkpoints")


class BackupRefused(Exception):
    """The file or the database says no; nothing was written or changed."""


class BackupFailed(Exception):
    """A program, the database or the file system failed; nothing was changed."""


@dataclass(frozen=True)
class Archive:
    """What a backup holds: its database's kind, its schema revision and its log's size."""

    kind: Kind
    revision: str
    log_size: int


@dataclass(frozen=True)
class Restored:
    archive: Archive
    replaced: int
    """The size of the log the database held before (0: none)."""
    latest_checkpoint: str | None
    """The newest signed checkpoint the database now holds, as its note."""


def not_migrated(database: str) -> BackupRefused:
    return BackupRefused(f"{database} is not audittrail's: it has no schema (audittrail migrate)")


def refuse_replacing(size: int, archive: Archive, force: bool) -> None:
    """Unless forced, a restore replaces no log: ``size`` is the database's."""
    if size == 0 or force:
        return
    lost = (
        f": its last {size - archive.log_size:,} records, and every checkpoint published past "
        f"{archive.log_size:,}, would be lost"
        if size > archive.log_size
        else ""
    )
    raise BackupRefused(
        f"the database holds a log of {size:,} records and the backup one of "
        f"{archive.log_size:,}{lost}; --force replaces it"
    )

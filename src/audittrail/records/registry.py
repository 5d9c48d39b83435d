"""What records are checked against, kept per process: API keys, applications, definitions.

Checking a record needs the caller's API key and its application's param definitions: two or
three queries, more than the rest of the request costs. They change rarely, and every change
leaves a system record that bumps the log head's registry version (log/system.py). So each
process keeps what it reads, labelled with the version it read *before* reading it, and the
group commit compares, under the log's lock, the oldest label a submission was checked with to
the head's version: a submission checked against anything older goes back to be checked again
(records/service.py, `ingest`). So a revoked key or an archived application never gets a record
in, through any process, and nothing waits for an entry to expire. Refusals are never answered
from what is kept either (records/intake.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.auth import service as auth_service
from audittrail.config import Settings
from audittrail.db.engine import Database
from audittrail.db.models import Application, ParamDefinition
from audittrail.log import head as log_head

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class Registry:
    """The process's copy, all of it as of `version` (-1: nothing read yet)."""

    database: Database
    settings: Settings
    version: int = -1
    grants: dict[str, auth_service.KeyGrant] = field(default_factory=dict)
    applications_by_id: dict[str, Application | None] = field(default_factory=dict)
    applications_by_key: dict[str, Application | None] = field(default_factory=dict)
    definitions: dict[str, list[ParamDefinition]] = field(default_factory=dict)

    def observe(self, version: int) -> None:
        """The head's registry version as just read: forget everything kept from before it."""
        if version > self.version:
            self.version = version
            for kept in (
                self.grants,
                self.applications_by_id,
                self.applications_by_key,
                self.definitions,
            ):
                kept.clear()

    async def read(self, query: Callable[[AsyncSession], Awaitable[V]]) -> tuple[V, int]:
        """What the query reads, and the registry version read just before it."""
        async with self.database.read_session() as session:
            version = (await log_head.read(session)).registry_version
            value = await query(session)
        self.observe(version)
        return value, version

    def keep(self, kept: dict[K, V], key: K, value: V, version: int) -> None:
        """Keep a value read at this version, unless the registry has moved on since."""
        if version == self.version:
            kept[key] = value

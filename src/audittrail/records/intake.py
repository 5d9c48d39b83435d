"""What records are checked against, kept per process: API keys, applications, definitions.

Checking a record needs the caller's API key and its application's param definitions: two or
three queries, more than the rest of the request costs. They change rarely, and every change
leaves a system record, which bumps the log head's registry version (records/sequencer.py). So
each process keeps what it reads, labelled with the version it read *before* reading it, and the
group commit compares, under the log's lock, the oldest label a submission was checked with to
the head's version: a submission checked against anything older goes back to be checked again
(`RegistryChanged`). So a revoked key or an archived application never gets a record in, through
any process, and nothing waits for an entry to expire. Refusals are never answered from what is
kept either: a request about to be refused is checked again from the database first, so a key or
application created through another process a moment ago is not refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock
from audittrail.applications import repository as applications_repo
from audittrail.auth import credentials
from audittrail.auth import service as auth_service
from audittrail.auth.dependencies import require_roles
from audittrail.auth.principal import Principal
from audittrail.config import Settings
from audittrail.db.engine import Database
from audittrail.db.models import Application, ParamDefinition
from audittrail.errors import AppError, Forbidden, Unauthenticated
from audittrail.records import sequencer
from audittrail.records.idempotency import Claim
from audittrail.records.sequencer import NewRecord
from audittrail.records.writer import GroupCommitWriter, RegistryChanged, Written

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")
CHECKS = 3
Checked = tuple[list[NewRecord], list[Claim | None]]


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

    async def read(self, query: Callable[[AsyncSession], Awaitable[_V]]) -> tuple[_V, int]:
        """What the query reads, and the registry version read just before it."""
        async with self.database.read_session() as session:
            version = await sequencer.registry_version(session)
            value = await query(session)
        self.observe(version)
        return value, version


class Intake:
    """One request's checks: who is calling and the applications its records name, with the
    registry version all of it holds at (the oldest label of anything it used)."""

    def __init__(self, registry: Registry, presented: auth_service.Credentials) -> None:
        self.registry = registry
        self.presented = presented
        self.fresh = False
        self.used_kept = False  # whether anything came from the registry's copy
        self.version: int | None = None
        self.authenticated: auth_service.Authenticated | None = None

    @property
    def principal(self) -> Principal:
        assert self.authenticated is not None, "authenticate first"
        return self.authenticated.principal

    def refresh(self) -> None:
        """Check everything again from the database, ignoring (and renewing) what is kept."""
        self.fresh = True
        self.used_kept = False
        self.version = None

    async def authenticate(self, *roles: str) -> auth_service.Authenticated:
        """Who is calling, if they hold one of the roles; 401 or 403 only after a fresh look."""
        try:
            return await self._authenticate(roles)
        except (Unauthenticated, Forbidden):
            if not self.used_kept:
                raise
            self.refresh()
            return await self._authenticate(roles)

    async def _authenticate(self, roles: tuple[str, ...]) -> auth_service.Authenticated:
        key = self.presented.used_api_key()
        if key is None:  # an access token or a session cookie: nothing is kept for those
            settings, presented = self.registry.settings, self.presented
            authenticated, version = await self.registry.read(
                lambda session: auth_service.authenticate(session, settings, presented)
            )
            self._used(version)
        else:
            digest = credentials.token_digest(key)
            grant = await self._kept(
                self.registry.grants,
                digest,
                lambda session: auth_service.api_key_grant(session, key),
            )
            now = clock.now()
            authenticated = grant.use(now)
            if authenticated.api_key_needs_touch and digest in self.registry.grants:
                # The request notes the use; those in the next minute need not.
                self.registry.grants[digest] = replace(grant, last_used_at=now)
        require_roles(authenticated.principal, *roles)
        self.authenticated = authenticated
        return authenticated

    async def by_id(self, application_id: str) -> Application | None:
        return await self._kept(
            self.registry.applications_by_id,
            application_id,
            lambda session: applications_repo.by_id(session, application_id),
        )

    async def by_key(self, key: str) -> Application | None:
        return await self._kept(
            self.registry.applications_by_key,
            key,
            lambda session: applications_repo.by_key(session, key),
        )

    async def definitions(self, application_id: str) -> list[ParamDefinition]:
        return await self._kept(
            self.registry.definitions,
            application_id,
            lambda session: applications_repo.definitions(session, application_id),
        )

    async def _kept(
        self,
        kept: dict[_K, _V],
        key: _K,
        query: Callable[[AsyncSession], Awaitable[_V]],
    ) -> _V:
        if not self.fresh and key in kept:
            self.used_kept = True
            self._used(self.registry.version)
            return kept[key]
        value, version = await self.registry.read(query)
        if version == self.registry.version:
            kept[key] = value
        self._used(version)
        return value

    def _used(self, version: int) -> None:
        self.version = version if self.version is None else min(self.version, version)


async def commit_checked(
    intake: Intake, writer: GroupCommitWriter, check: Callable[[], Awaitable[Checked]], role: str
) -> Written:
    """Check the records and commit them; checked again from the database before a refusal,
    and when what they were checked against changed before their commit."""
    for _ in range(CHECKS):
        try:
            records, claims = await check()
        except AppError:
            if not intake.used_kept:
                raise
            intake.refresh()
            await intake.authenticate(role)
            continue
        try:
            return await writer.submit(records, claims, registry_version=intake.version)
        except RegistryChanged:
            intake.refresh()
            await intake.authenticate(role)
    raise writer.unavailable(
        "REGISTRY_CHANGING",
        "Credentials or applications kept changing while this request was checked. "
        "Nothing was stored; retry shortly.",
    )

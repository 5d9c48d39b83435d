"""One ingest request's checks: who is calling, and the applications its records name.

Both come from the process's registry where it has them (records/registry.py), and each
request remembers the oldest registry version of anything it used, which its submission to the
group commit carries. A refusal (401, 403, 422) that used anything kept is looked up again from
the database before it is answered, so a key or application created through another process a
moment ago is never refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock
from audittrail.access import Authenticated, Credentials, Principal, authorize
from audittrail.applications import service as applications
from audittrail.auth import service as auth_service
from audittrail.db.models import Application, ParamDefinition
from audittrail.errors import Forbidden, Unauthenticated
from audittrail.records.registry import K, Registry, V


class Intake:
    """One request's checks, with the registry version all of it holds at."""

    def __init__(self, registry: Registry, presented: Credentials, scope: str) -> None:
        self.registry = registry
        self.presented = presented
        self.scope = scope
        self.fresh = False
        self.used_kept = False  # whether anything came from the registry's copy
        self.version: int | None = None
        self.authenticated: Authenticated | None = None

    @property
    def principal(self) -> Principal:
        assert self.authenticated is not None, "authenticate first"
        return self.authenticated.principal

    async def refresh(self) -> None:
        """Check the caller again from the database, and everything after it, ignoring (and
        renewing) what is kept."""
        self.fresh = True
        self.used_kept = False
        self.version = None
        await self.authenticate()

    async def authenticate(self) -> Authenticated:
        """Who is calling, if they hold the scope; 401 or 403 only after a fresh look."""
        try:
            return await self._authenticate()
        except (Unauthenticated, Forbidden):
            if not self.used_kept:
                raise
            await self.refresh()
            assert self.authenticated is not None
            return self.authenticated

    async def _authenticate(self) -> Authenticated:
        key = self.presented.used_api_key()
        if key is None:  # an access token or a session cookie: nothing is kept for those
            settings, presented = self.registry.settings, self.presented
            authenticated, version = await self.registry.read(
                lambda session: auth_service.authenticate(session, settings, presented)
            )
            self._used(version)
        else:
            digest = auth_service.api_key_digest(key)
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
        authorize(authenticated.principal, self.scope)
        self.authenticated = authenticated
        return authenticated

    # records.service.ApplicationLookup

    async def by_id(self, application_id: str) -> Application | None:
        return await self._kept(
            self.registry.applications_by_id,
            application_id,
            lambda session: applications.find_by_id(session, application_id),
        )

    async def by_key(self, key: str) -> Application | None:
        return await self._kept(
            self.registry.applications_by_key,
            key,
            lambda session: applications.find_by_key(session, key),
        )

    async def definitions(self, application_id: str) -> list[ParamDefinition]:
        return await self._kept(
            self.registry.definitions,
            application_id,
            lambda session: applications.definitions(session, application_id),
        )

    async def _kept(
        self, kept: dict[K, V], key: K, query: Callable[[AsyncSession], Awaitable[V]]
    ) -> V:
        if not self.fresh and key in kept:
            self.used_kept = True
            self._used(self.registry.version)
            return kept[key]
        value, version = await self.registry.read(query)
        self.registry.keep(kept, key, value, version)
        self._used(version)
        return value

    def _used(self, version: int) -> None:
        self.version = version if self.version is None else min(self.version, version)

"""The FastAPI app factory: routers, error handlers, and a lifespan that migrates and bootstraps."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from audittrail import logs, runtime
from audittrail.applications.routes import router as applications_router
from audittrail.auth import service as auth_service
from audittrail.auth.routes import api_keys_router, auth_router, users_router
from audittrail.config import Settings
from audittrail.db import migrate
from audittrail.db.engine import Database
from audittrail.guards import BodySizeLimit, NoNulInUrl
from audittrail.handlers import install as install_error_handlers
from audittrail.log import checkpointer
from audittrail.log.routes import router as log_router
from audittrail.log.signer import LogSigner
from audittrail.metrics import router as metrics_router
from audittrail.records import ingest
from audittrail.records.registry import Registry
from audittrail.records.routes import router as records_router
from audittrail.records.writer import GroupCommitWriter
from audittrail.schemas import ERROR_RESPONSES

DESCRIPTION = """
A verifiable audit trail. Applications post records ("who did what, to which entity,
how serious, with which parameters"); people search them; every record is appended to
a log that cannot be edited.

Authenticate with an API key (`Authorization: Bearer <key>` or `X-API-Key: <key>`), an
access token from `POST /api/auth/login` (`Authorization: Bearer <token>`), or the
`antidote_session` cookie that login sets.

Errors are always `{"error": {"code": "UPPER_SNAKE", "message": "...", "details": [...]}}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    logs.configure(json_lines=settings.env == "production")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await asyncio.to_thread(migrate.upgrade, settings.database_url)
        database = Database.connect(
            settings.database_url,
            sqlite_synchronous=settings.sqlite_synchronous,
            pool_size=settings.database_pool_size,
        )
        signer = LogSigner.load(settings.log_origin, settings.log_key_file)
        registry = Registry(database, settings)
        writer = GroupCommitWriter(database, settings, on_registry_version=registry.observe)
        app.state.database = database
        app.state.signer = signer
        app.state.authenticator = auth_service.Authenticator(settings, database)
        app.state.registry = registry
        app.state.writer = writer
        bootstrapped = await auth_service.bootstrap(database, settings)
        if bootstrapped is not None:
            _announce(bootstrapped)
        writer.start()
        if settings.tune_gc:
            runtime.tune_gc()
        checkpoints = asyncio.create_task(
            checkpointer.run(database, signer, settings.checkpoint_interval)
        )
        try:
            yield
        finally:
            await writer.stop()
            checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checkpoints
            await checkpointer.checkpoint_head(database, signer)  # cover the last records
            await database.dispose()

    app = FastAPI(
        title="audittrail",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(ingest.IngestRoutes)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(NoNulInUrl)
    # Records first: routes are matched in order, and records are what is read most.
    for router in (
        records_router,
        auth_router,
        users_router,
        api_keys_router,
        applications_router,
        log_router,
        metrics_router,
    ):
        app.include_router(router, responses=ERROR_RESPONSES)
    _document_ingest(app)
    return app


def _document_ingest(app: FastAPI) -> None:
    """The OpenAPI document with the intake routes, which records/ingest.py serves outside
    FastAPI's router, in their place: first, as the records router comes first."""
    documented = APIRouter()
    documented.include_router(ingest.documented, responses=ERROR_RESPONSES)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=[*documented.routes, *app.routes],
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _announce(bootstrapped: auth_service.Bootstrapped) -> None:
    """Print generated credentials once: they are stored only as hashes."""
    lines = [f"audittrail: created admin user {bootstrapped.email}"]
    if bootstrapped.generated_password:
        lines.append(f"  password: {bootstrapped.generated_password}")
    if bootstrapped.generated_api_key:
        lines.append(f"  API key:  {bootstrapped.generated_api_key}")
    lines.append("  (shown once; store them now)")
    print("\n".join(lines), file=sys.stderr, flush=True)

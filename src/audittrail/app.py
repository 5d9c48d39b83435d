"""The FastAPI app factory: routers, error handlers, and a lifespan that migrates and bootstraps."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

from audittrail import clock, health, logs, runtime, stopping, throttle
from audittrail.applications.routes import router as applications_router
from audittrail.assets import Assets
from audittrail.auth import service as auth_service
from audittrail.auth.routes import api_keys_router, auth_router, users_router
from audittrail.config import Settings
from audittrail.db import migrate
from audittrail.db.engine import Database
from audittrail.deps import json_bodies
from audittrail.guards import BodySizeLimit, NoNulInUrl, SecurityHeaders, content_security_policy
from audittrail.handlers import UnexpectedErrors
from audittrail.handlers import install as install_error_handlers
from audittrail.log import checkpointer
from audittrail.log.routes import router as log_router
from audittrail.log.signer import LogSigner
from audittrail.metrics import Exposition
from audittrail.metrics import routers as metrics_routers
from audittrail.records import ingest
from audittrail.records.export.job_routes import router as export_jobs_router
from audittrail.records.export.job_runner import ExportRunner
from audittrail.records.export.routes import router as export_router
from audittrail.records.import_routes import router as import_router
from audittrail.records.registry import Registry
from audittrail.records.routes import router as records_router
from audittrail.records.stats.routes import router as stats_router
from audittrail.records.writer import GroupCommitWriter
from audittrail.schemas import ERROR_RESPONSES
from audittrail.web import routes as web

log = structlog.get_logger(__name__)

DESCRIPTION = """
A verifiable audit trail. Applications post records ("who did what, to which entity,
how serious, with which parameters"); people search them; every record is appended to
a log that cannot be edited.

Authenticate with an API key (`Authorization: Bearer <key>` or `X-API-Key: <key>`), an
access token from `POST /api/auth/login` (`Authorization: Bearer <token>`), or the
`antidote_session` cookie that login sets.

Errors are always `{"error": {"code": "UPPER_SNAKE", "message": "...", "details": [...]}}`.
"""


# Every FastAPI route that takes a body reads it as JSON only (deps.json_bodies).
JSON_BODIES = Depends(json_bodies)


def create_served_app() -> FastAPI:
    """The app as `audittrail serve` runs it, in each worker process: a stop signal also
    closes its intake at once (stopping.py), so every request is answered within a bound."""
    return create_app(close_on_stop_signal=True)


def create_app(settings: Settings | None = None, *, close_on_stop_signal: bool = False) -> FastAPI:
    settings = settings or Settings()
    logs.configure(json_lines=settings.json_logs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await asyncio.to_thread(migrate.upgrade, settings.database_url)
        database = Database.connect(
            settings.database_url,
            replica_url=settings.read_database_url,  # never migrated: it replays the primary
            sqlite_synchronous=settings.sqlite_synchronous,
            pool_size=settings.database_pool_size,
            work_mem=settings.database_work_mem,
        )
        signer = LogSigner.load(settings.log_origin, settings.log_key_file)
        try:
            await checkpointer.check_signer(database, signer, replaced=settings.log_key_replaced)
        except checkpointer.ForeignSigner:
            await database.dispose()
            raise
        registry = Registry(database, settings)
        writer = GroupCommitWriter(database, settings, on_registry_version=registry.observe)
        exports = ExportRunner(database, signer, settings)
        app.state.database = database
        app.state.started_at = clock.now()
        app.state.signer = signer
        app.state.authenticator = auth_service.Authenticator(settings, database)
        app.state.registry = registry
        app.state.writer = writer
        app.state.export_runner = exports
        app.state.rate_limits = rate_limits = throttle.RateLimits.start(settings)
        bootstrapped = await auth_service.bootstrap(database, settings)
        if bootstrapped is not None:
            _announce(bootstrapped, json_lines=settings.json_logs)
        writer.start()
        if close_on_stop_signal:
            stopping.on_stop_signal(lambda: writer.close(settings.shutdown_timeout))
        if settings.tune_gc:
            runtime.tune_gc()
        checkpoints_stop = asyncio.Event()
        checkpoints = asyncio.create_task(
            checkpointer.run(database, signer, settings.checkpoint_interval, checkpoints_stop)
        )
        exports.start()
        exposition = Exposition.start(database, writer, settings, app.state.started_at)
        try:
            yield
        finally:
            await exposition.stop()
            try:  # bounded: a database that stopped answering does not keep the process up
                async with asyncio.timeout(settings.shutdown_timeout):
                    await exports.stop()  # its job back in the queue, for the next process
                    await writer.stop()
                    checkpoints_stop.set()
                    await checkpoints
                    await checkpointer.last_round(database, signer)
            except TimeoutError:
                log.error("shutdown ran past shutdown_timeout; stopping where it stood")
                writer.abandon()
                checkpoints.cancel()
            await database.dispose()
            rate_limits.close()

    app = FastAPI(
        title="audittrail",
        version="0.2.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # _serve_docs: from the package, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(ingest.IngestRoutes)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(NoNulInUrl)
    # Outermost last: a bug anywhere inside is one log line with the request id, and every
    # response (the guards' own errors and that 500 too) carries the id and the security headers.
    app.add_middleware(UnexpectedErrors)
    app.add_middleware(logs.RequestLog)  # inside the request id, outside everything that answers
    app.add_middleware(CorrelationIdMiddleware, validator=logs.acceptable_request_id)
    app.add_middleware(SecurityHeaders)
    # Records first: routes are matched in order, and records are what is read most.
    for router in (
        records_router,
        stats_router,
        export_router,
        export_jobs_router,
        import_router,
        auth_router,
        users_router,
        api_keys_router,
        applications_router,
        log_router,
        *metrics_routers(settings),  # none with a metrics port
        health.router,
    ):
        app.include_router(router, responses=ERROR_RESPONSES, dependencies=[JSON_BODIES])
    _document_ingest(app)
    _serve_docs(app)
    web.install(app)
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


# swagger-ui-dist 5.35.0 (npm), its bundle, stylesheet, icon and licences.
SWAGGER_ASSETS = Path(__file__).parent / "static" / "swagger"
SWAGGER_PATH = "/static/swagger"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def _serve_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the package's own copy, under a policy that admits its one
    inline script (the page FastAPI writes) by hash, and no other."""
    app.mount(SWAGGER_PATH, Assets(directory=SWAGGER_ASSETS), name="swagger")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{SWAGGER_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{SWAGGER_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{SWAGGER_PATH}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},  # else it asks validator.swagger.io
        )
        hashes = [
            "sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode()
            for script in _INLINE_SCRIPT.findall(bytes(page.body))
        ]
        page.headers["Content-Security-Policy"] = content_security_policy(hashes)
        return page


def _announce(bootstrapped: auth_service.Bootstrapped, *, json_lines: bool) -> None:
    """Print generated credentials once: they are stored only as hashes. With JSON logs, as one
    JSON line like every other, so that a log pipeline parsing stderr does not choke on it."""
    if json_lines:
        generated = {
            "password": bootstrapped.generated_password,
            "api_key": bootstrapped.generated_api_key,
        }
        shown = {name: value for name, value in generated.items() if value}
        # A logger bound now, in the format configured now (a module's keeps its first).
        structlog.get_logger(__name__).warning(
            "admin user created; shown once, store them now", email=bootstrapped.email, **shown
        )
        return
    lines = [f"audittrail: created admin user {bootstrapped.email}"]
    if bootstrapped.generated_password:
        lines.append(f"  password: {bootstrapped.generated_password}")
    if bootstrapped.generated_api_key:
        lines.append(f"  API key:  {bootstrapped.generated_api_key}")
    lines.append("  (shown once; store them now)")
    print("\n".join(lines), file=sys.stderr, flush=True)

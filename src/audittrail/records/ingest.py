"""Record intake: POST /records and /records/batch, served straight from the ASGI call.

Under load a single POST spent more CPU in FastAPI's routing and request handling (route
matching over every route, the request/response wrappers, dependency solving, the exception and
exit-stack middleware around each call) than in everything it does for the record (docs/NOTES.md,
"The fast path"). So these two routes are not FastAPI's: `IngestRoutes`, a middleware inside the
guards (body size, NUL in the URL), matches their method and path and calls the endpoints below
with the Request. They read their own request (records/bodies.py), authenticate first, then
authorize through the one function every route calls (`access.authorize`, by `Intake`).

Because FastAPI never serves them, nothing FastAPI adds to its routes (router dependencies,
dependency_overrides, response validation) reaches them: access control belongs in
`access.authorize`, which both kinds of route call. FastAPI documents them all the same:
`documented` holds them as routes for the OpenAPI document only (app.py). An exception an
endpoint raises goes to the app's own handlers, found as Starlette finds them; one without a
handler (a bug) goes on to the server error middleware (500).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, BackgroundTasks, Request, Response, status
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from audittrail import logs, throttle
from audittrail.access import (
    RECORDS_WRITE,
    authenticator_of,
    check_origin,
    credentials_of,
    touch_later,
)
from audittrail.deps import JSON, check_media_type, client_ip
from audittrail.log.replica import LOG_SIZE_HEADER
from audittrail.records import answers, batch, bodies, idempotency, limits, service
from audittrail.records.bodies import IDEMPOTENCY_KEY_HEADER
from audittrail.records.intake import Intake
from audittrail.records.registry import Registry
from audittrail.records.schemas import BatchItem, BatchResponse, RecordCreate, RecordResponse
from audittrail.records.service import Checked
from audittrail.records.writer import Written

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response]]

# For the OpenAPI document only: IngestRoutes serves these paths.
documented = APIRouter(prefix="/api/audit-trail/records", tags=["records"])


async def writer_intake(request: Request, background: BackgroundTasks) -> Intake:
    """The request's checks, its caller authenticated and authorized as a writer before its body
    is read; a session cookie's request checked to come from the app's own pages
    (access.check_origin), as on every other route.

    No database session is held by the request: one held while waiting for the group commit
    would starve the writer of connections under load.
    """
    registry: Registry = request.app.state.registry
    presented = await credentials_of(request)
    intake = Intake(registry, presented, RECORDS_WRITE)
    authenticated = await intake.authenticate()
    check_origin(request, presented)
    logs.note_credential(request.scope, authenticated.principal.actor)
    await throttle.admit(request, authenticated.principal)
    touch_later(background, authenticator_of(request), authenticated)
    return intake


def created(
    body: bytes,
    written: Written,
    background: BackgroundTasks,
    headers: dict[str, str] | None = None,
) -> Response:
    """201 with the answer (records/answers.py); 200 with Idempotent-Replayed if every record
    was a replay. Log-Size: the log's size with these records in it, for a read that must see
    them (Min-Log-Size, log/replica.py)."""
    replayed = written.replayed
    headers = dict(headers or {})
    headers[LOG_SIZE_HEADER] = str(max(record.seq for record in written.records) + 1)
    status_code = status.HTTP_201_CREATED
    if all(replayed):
        status_code = status.HTTP_200_OK
        headers["Idempotent-Replayed"] = "true"
    return Response(
        body,
        status_code=status_code,
        headers=headers,
        media_type="application/json",
        background=background,
    )


# The intake routes read their request themselves (records/bodies.py); these document what
# FastAPI would have derived from body, header and security parameters.
_SECURITY: list[dict[str, list[str]]] = [
    {"HTTPBearer": []},
    {"APIKeyHeader": []},
    {"APIKeyCookie": []},
]
_RECORD_SCHEMA = RecordCreate.model_json_schema(ref_template="#/components/schemas/{model}")
_REPLAY = "An idempotent replay: the record created by the first request with this Idempotency-Key"
_BATCH_REPLAY = (
    "An idempotent replay of every item: the records created by the first requests with their "
    "idempotency_key"
)
_LOG_SIZE = {
    LOG_SIZE_HEADER: {
        "description": "The log's size with these records in it: send it as Min-Log-Size to "
        "read them where a replica serves reads (docs/operations.md#read-replica).",
        "schema": {"type": "integer"},
    }
}


@documented.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RecordResponse,
    responses={
        status.HTTP_201_CREATED: {"headers": _LOG_SIZE},
        status.HTTP_200_OK: {"model": RecordResponse, "description": _REPLAY, "headers": _LOG_SIZE},
    },
    summary="Create Manual Audit Record",
    description="Appends a record to the log. The actor is the authenticated principal and the "
    "IP address the client's; params are checked against the application's definitions. "
    "A 201 means the record is committed. params and metadata are JSON objects of at most "
    "64 KiB serialized (413 past that) and 10 levels of nesting (422); the whole record as the "
    "log stores it (its canonical JSON leaf) is at most 65,535 bytes (413 RECORD_TOO_LARGE).",
    openapi_extra={
        "security": _SECURITY,
        "parameters": [
            {
                "name": IDEMPOTENCY_KEY_HEADER,
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "Retrying with the same key and body returns the first record "
                "(200, Idempotent-Replayed: true); the same key with another body is a 409. "
                "Keys are kept for good, per application (per credential for records without "
                "one).",
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _RECORD_SCHEMA}},
        },
    },
)
async def create_record(request: Request) -> Response:
    background = BackgroundTasks()
    intake = await writer_intake(request, background)
    raw = await request.body()
    check_media_type(request, raw, JSON)
    body, idempotency_key = bodies.single_record(raw, request.headers.get(IDEMPOTENCY_KEY_HEADER))
    ip = await client_ip(request)

    async def check() -> Checked:
        principal = intake.principal
        new = await service.prepare(intake, body, principal=principal, ip=ip)
        limits.check_text(IDEMPOTENCY_KEY_HEADER, idempotency_key, location="header")
        claim = idempotency.claim(
            idempotency_key, new, body, principal, f"header.{IDEMPOTENCY_KEY_HEADER}"
        )
        return [new], [claim]

    written = await service.ingest(intake, request.app.state.writer, check)
    [record] = written.records
    location = {"Location": f"{documented.prefix}/{record.id}"}
    return created(answers.record_json(record), written, background, location)


@documented.post(
    "/batch",
    status_code=status.HTTP_201_CREATED,
    response_model=BatchResponse,
    responses={
        status.HTTP_201_CREATED: {"headers": _LOG_SIZE},
        status.HTTP_200_OK: {
            "model": BatchResponse,
            "description": _BATCH_REPLAY,
            "headers": _LOG_SIZE,
        },
    },
    summary="Create up to 1,000 records at once",
    description="A JSON array, or NDJSON with `Content-Type: application/x-ndjson`, of records in "
    "the single-record shape, each with an optional `idempotency_key`. All or nothing: a 422 "
    "names each bad item by index and nothing is stored; 201 returns the records in order "
    "(200 with Idempotent-Replayed: true if every one was a replay). Over 1,000: 413.",
    openapi_extra={
        "security": _SECURITY,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "maxItems": batch.MAX_BATCH,
                        "items": BatchItem.model_json_schema(
                            ref_template="#/components/schemas/{model}"
                        ),
                    }
                },
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        },
    },
)
async def create_batch(request: Request) -> Response:
    background = BackgroundTasks()
    intake = await writer_intake(request, background)
    raw = await request.body()
    check_media_type(request, raw, JSON, batch.NDJSON)
    items = batch.parse(raw, request.headers.get("content-type", ""))
    ip = await client_ip(request)

    async def check() -> Checked:
        return await batch.prepare_all(intake, items, principal=intake.principal, ip=ip)

    written = await service.ingest(intake, request.app.state.writer, check)
    return created(answers.batch_json(written.records), written, background)


class IngestRoutes:
    """ASGI middleware: POST to the intake paths goes to its endpoint, with the Request alone.

    The scope names the documented route served, as Starlette's router does for its own: the
    request metrics read the route's template from it (instruments.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.endpoints: dict[str, Endpoint] = {
            documented.prefix: create_record,
            f"{documented.prefix}/batch": create_batch,
        }
        self.routes = {
            route.path: route for route in documented.routes if isinstance(route, APIRoute)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = _route_path(scope)
            endpoint = self.endpoints.get(path)
            if endpoint is not None:
                scope["route"] = self.routes[path]
                await _serve(endpoint, scope, receive, send)
                return
        await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path as the app's routes see it: without the root path it is mounted under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def _serve(endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    try:
        response = await endpoint(request)
    except Exception as error:
        handler = _handler_for(error, scope["app"].exception_handlers)
        if handler is None:
            raise
        response = await handler(request, error)
    await response(scope, receive, send)


def _handler_for(error: Exception, handlers: dict[object, Handler]) -> Handler | None:
    """The app's handler for the error's nearest class, as Starlette's ExceptionMiddleware picks
    it; the catch-all (Exception, 500) is the server error middleware's, outside this one."""
    for cls in type(error).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None

"""Turns every exception into the platform's error envelope; no stack trace reaches a client."""

from __future__ import annotations

import traceback
from pathlib import Path

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audittrail import instruments
from audittrail.errors import AppError, ServiceUnavailable, request_validation_error

log = structlog.get_logger(__name__)

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}


def error_response(error: AppError) -> JSONResponse:
    if error.status_code == 503:
        instruments.unavailable_responses.labels(error.error_code).inc()
    return JSONResponse(error.body(), status_code=error.status_code, headers=error.headers)


async def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(exc)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(request_validation_error(exc.errors()))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    message = {404: "No such resource.", 405: "Method not allowed on this resource."}.get(
        exc.status_code, str(exc.detail)
    )
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is down, unreachable or too busy: the client may retry, nothing was stored."""
    log.warning("database unavailable", path=request.url.path, error=str(exc).splitlines()[0])
    error = ServiceUnavailable(
        "The database is unavailable; nothing was stored. Retry shortly.",
        code="DATABASE_UNAVAILABLE",
        headers={"Retry-After": "1"},
    )
    return error_response(error)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A driver error of no more telling class: an outage if it cost the connection, else a bug."""
    assert isinstance(exc, DBAPIError)
    if exc.connection_invalidated:
        return await _database_unavailable(request, exc)
    return await _unexpected_error(request, exc)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    return _internal_error(request.scope, exc)


def _internal_error(scope: Scope, exc: Exception) -> JSONResponse:
    """A bug: one log line (logs.py adds the request id), the 500 envelope to the client."""
    log.error(
        "unhandled error",
        method=scope.get("method"),
        path=scope.get("path"),
        error=f"{type(exc).__name__}: {_first_line(exc)}",
        **_where(exc),
    )
    body = {"error": {"code": "INTERNAL_ERROR", "message": "Internal server error."}}
    return JSONResponse(body, status_code=500)


def _first_line(exc: Exception, limit: int = 500) -> str:
    """The message's first line: a driver error's next lines hold the SQL and its parameters."""
    lines = str(exc).strip().splitlines()
    return lines[0][:limit] if lines else ""


_PACKAGE = Path(__file__).parent


def _where(exc: Exception) -> dict[str, str]:
    """The innermost frame, and the innermost of this package where that is another's."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return {}
    where = {"at": _frame(frames[-1])}
    ours = [frame for frame in frames if Path(frame.filename).is_relative_to(_PACKAGE)]
    if ours and ours[-1] is not frames[-1]:
        where["from"] = _frame(ours[-1])
    return where


def _frame(frame: traceback.FrameSummary) -> str:
    return f"{frame.filename}:{frame.lineno} in {frame.name}"


class UnexpectedErrors:
    """ASGI: an exception nothing handled becomes one log line and the 500 envelope, here.

    Starlette's ServerErrorMiddleware would answer too, but outside every middleware (so without
    the request id and the security headers), and then re-raise for the server to print the
    traceback: a page of log a request. Once the response has started there is no answering;
    the server closes the connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, noting_start)
        except Exception as exc:
            response = _internal_error(scope, exc)
            if not started:
                await response(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for unavailable in (OperationalError, InterfaceError, DisconnectionError, PoolTimeout, OSError):
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(DBAPIError, _database_error)
    # Any other exception: UnexpectedErrors, a middleware (app.py).

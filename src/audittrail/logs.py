"""Structured logging, configured once: JSON lines in production, readable lines in development.

Tracebacks are rendered plainly. The default (rich, with local variables) takes seconds for
one SQLAlchemy error and runs inside the event loop, which froze the server during a database
outage exactly when it had the most to say.
"""

from __future__ import annotations

import logging
import sys
import time

import structlog
from asgi_correlation_id import correlation_id
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audittrail import instruments

log = structlog.get_logger("audittrail.requests")
# Where a request's credential is noted for its log line (the scope's state, as request.state).
CREDENTIAL = "credential"


def _request_id(
    _logger: object, _method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """The id of the request being served (X-Request-ID, app.py), on every line it logs."""
    request_id = correlation_id.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def configure(*, json_lines: bool, level: int = logging.INFO) -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        _request_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if json_lines:
        processors.append(structlog.processors.dict_tracebacks)
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


def note_credential(scope: Scope, name: str) -> None:
    """Name the request's caller on its log line: a user's email or `api_key:<key name>`, never
    a secret (access.Principal.actor)."""
    scope.setdefault("state", {})[CREDENTIAL] = name


class RequestLog:
    """ASGI: one line per request once it is answered: method, path (no query: a query is
    data), status, duration, the caller's name where one was authenticated; the request id
    comes with every line (`_request_id`). A request whose answer never started (the client
    went away) is logged with status 0. The duration runs to the answer's last bytes (not
    through the background tasks after it), and goes to the request metrics too
    (instruments.py), under the route's template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        seconds: float | None = None

        async def noting_answer(message: Message) -> None:
            nonlocal status, seconds
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Answered: what runs after (background tasks) is no wait of the client's. Counted
                # before the last bytes go, so a client holding its answer finds it counted.
                seconds = time.perf_counter() - started
                instruments.observe_request(scope, status, seconds)
            await send(message)

        try:
            await self.app(scope, receive, noting_answer)
        finally:
            if seconds is None:  # never answered in full: the client left, or a bug
                seconds = time.perf_counter() - started
                instruments.observe_request(scope, status, seconds)
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round(1000 * seconds, 2),
                credential=scope.get("state", {}).get(CREDENTIAL),
            )

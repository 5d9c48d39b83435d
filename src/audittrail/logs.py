"""Structured logging, configured once: JSON lines in production, readable lines in development.

Tracebacks are rendered plainly. The default (rich, with local variables) takes seconds for
one SQLAlchemy error and runs inside the event loop, which froze the server during a database
outage exactly when it had the most to say.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import TextIO, cast

import structlog
from asgi_correlation_id import correlation_id
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.tracebacks import ExceptionDictTransformer

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
    """Our lines, and the standard library's of other packages (uvicorn's, asgi-correlation-id's),
    in one format: in production one JSON object a line, none of them plain text among them."""
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
        # Without the frames' local variables: an ASGI frame's hold the request's headers,
        # credentials included, and rendering them is slow inside the event loop.
        processors.append(
            structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
        )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # A line in one write (print writes its newline apart): workers share one stderr.
        logger_factory=structlog.WriteLoggerFactory(_STDERR),
        cache_logger_on_first_use=True,
    )
    _route_standard_logging([structlog.stdlib.add_logger_name, *processors], renderer, level)


class _CurrentStderr:
    """sys.stderr as it is at each write, as the standard library's last-resort handler writes:
    a stream kept from when logging was configured may be closed since (a test's capture)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_STDERR = cast(TextIO, _CurrentStderr())  # structlog and logging call only write and flush
# The root logger's handler that configure() installs, and replaces when called again.
_HANDLER_NAME = "audittrail"


def _route_standard_logging(
    chain: list[structlog.typing.Processor], renderer: structlog.typing.Processor, level: int
) -> None:
    handler = logging.StreamHandler(_STDERR)
    handler.name = _HANDLER_NAME
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=chain,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for previous in [h for h in root.handlers if h.name == _HANDLER_NAME]:
        root.removeHandler(previous)
    root.addHandler(handler)
    # Other packages say what goes wrong; uvicorn also when it starts and stops serving.
    logging.getLogger("uvicorn").setLevel(level)


# An X-Request-ID a client or proxy sends is kept if it is 1-128 of these characters: enough for
# UUIDs, nginx's and load balancers' ids ("Root=1-67891233-abcdef012345678912345678"), nothing
# that could break a log line or the answer's header.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:;=+/@-]{1,128}")


def acceptable_request_id(value: str) -> bool:
    """Whether a request's own X-Request-ID is kept (else asgi-correlation-id makes one)."""
    return _REQUEST_ID.fullmatch(value) is not None


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

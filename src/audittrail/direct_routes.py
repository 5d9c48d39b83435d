"""Serves the record intake routes straight from the ASGI call, ahead of FastAPI's router.

Under load a single POST spent more CPU in FastAPI's routing and request handling (route
matching over every route, the request/response wrappers, dependency solving for a route that
has none, the exception and exit-stack middleware around each call) than in everything it does
for the record. These routes read their own request already (records/bodies.py), so this
middleware matches them itself, with the routes' own `matches`, and calls their endpoints with
the Request. Everything else goes on to FastAPI, and the routes stay registered there, so the
OpenAPI document, other methods (405) and the error envelope are unchanged. It sits inside the
guards (body size, NUL in the URL), and an exception an endpoint raises goes to the app's own
handlers, found as Starlette finds them; one without a handler (a bug) goes on to the server
error middleware, as from any route (500).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response]]


class DirectRoutes:
    """ASGI middleware: these routes' endpoints called with the Request, nothing in between."""

    def __init__(self, app: ASGIApp, routes: Sequence[APIRoute]) -> None:
        self.app = app
        for route in routes:
            parameters = list(inspect.signature(route.endpoint).parameters.values())
            if len(parameters) != 1 or parameters[0].annotation not in (Request, "Request"):
                raise TypeError(f"{route.path}: a direct route's endpoint takes the Request alone")
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            for route in self.routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope)
                    await self._serve(route.endpoint, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    @staticmethod
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

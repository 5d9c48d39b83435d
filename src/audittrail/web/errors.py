"""Errors on a page are pages: the API's own error handlers decide status, code and message, and
for a browser asking for a page the envelope they answer is shown as HTML instead (a 401 as a
redirect to sign in)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from audittrail.web.templating import render

Handler = Callable[[Request, Exception], Awaitable[Response]]

NOT_PAGES = ("/api/", "/static/", "/docs", "/openapi.json")


def is_page(request: Request) -> bool:
    """Whether the error answers a browser asking for a page (which says it takes text/html):
    a client of the API, or anything else, gets the error envelope as ever."""
    wants_html = "text/html" in request.headers.get("accept", "")
    return wants_html and not request.url.path.startswith(NOT_PAGES)


def sign_in_url(request: Request) -> str:
    """/login, then back to this page (only ever a path of this site: app.js's sameSitePath
    checks it)."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(here, safe='')}"


def _as_page(handler: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        response = await handler(request, exc)
        if not is_page(request):
            return response
        if response.status_code == 401:
            return RedirectResponse(sign_in_url(request), status_code=303)
        error = json.loads(bytes(response.body))["error"]
        page = render(
            request,
            "error.html",
            None,
            status_code=response.status_code,
            error=error,
        )
        if "retry-after" in response.headers:
            page.headers["Retry-After"] = response.headers["retry-after"]
        return page

    return handle


def install(app: FastAPI) -> None:
    """Wrap every error handler the app has (call after handlers.install)."""
    for exception, handler in list(app.exception_handlers.items()):
        app.add_exception_handler(exception, _as_page(handler))  # type: ignore[arg-type]

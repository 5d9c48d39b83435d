"""The viewer's pages and assets, mounted on the app (app.py)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from audittrail.assets import Assets
from audittrail.web import (
    account_pages,
    analytics_pages,
    application_pages,
    dashboard,
    errors,
    record_pages,
    records_pages,
    stats_pages,
)
from audittrail.web.templating import STATIC, render

ASSETS = Path(__file__).parent / "static"


async def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", None)


def install(app: FastAPI) -> None:
    """The pages at /, their assets at /static/web, and errors on pages shown as pages."""
    app.mount(STATIC, Assets(directory=ASSETS), name="web")
    app.add_api_route("/login", login_page, include_in_schema=False, response_class=HTMLResponse)
    # records_pages before record_pages: /records/rows is not a record's id.
    for pages in (
        dashboard.router,
        records_pages.router,
        record_pages.router,
        stats_pages.router,
        analytics_pages.router,
        application_pages.router,
        account_pages.router,
    ):
        app.include_router(pages)
    errors.install(app)

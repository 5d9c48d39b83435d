"""The applications pages: the list with colour chips, a new application, one application's params.

They only read; the forms on them create and change through the applications API.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from audittrail.access import APPLICATIONS_WRITE, ApplicationsReader, ApplicationsWriter
from audittrail.applications import service as applications
from audittrail.applications.routes import ReadableApplication
from audittrail.applications.schemas import ParamType
from audittrail.deps import ReadSession
from audittrail.pagination import Pages
from audittrail.web.templating import render

router = APIRouter(include_in_schema=False)

PARAM_TYPES = [param_type.value for param_type in ParamType]


@router.get("/applications", response_class=HTMLResponse)
async def applications_page(
    request: Request, principal: ApplicationsReader, session: ReadSession, pages: Pages
) -> HTMLResponse:
    found, total = await applications.page(
        session,
        principal.visibility,
        include_archived=True,
        offset=pages.offset,
        limit=pages.page_size,
    )
    return render(
        request,
        "applications.html",
        principal,
        applications=found,
        pages=pages.meta(total),
        may_write=principal.holds(APPLICATIONS_WRITE),
    )


# Before /applications/{app}: "new" is a page, not an application's key.
@router.get("/applications/new", response_class=HTMLResponse)
async def new_application_page(request: Request, principal: ApplicationsWriter) -> HTMLResponse:
    return render(request, "application_form.html", principal, param_types=PARAM_TYPES)


@router.get("/applications/{app}", response_class=HTMLResponse)
async def application_page(
    request: Request,
    principal: ApplicationsReader,
    application: ReadableApplication,
    session: ReadSession,
) -> HTMLResponse:
    return render(
        request,
        "application.html",
        principal,
        application=application,
        params=await applications.definitions(session, application.id),
        param_types=PARAM_TYPES,
        may_write=principal.holds(APPLICATIONS_WRITE),
    )

"""The admins' pages for who may call: API keys and users.

They only read; the forms on them create, rotate, revoke and change through the auth API, whose
answer to a new or rotated key is the one place its secret is ever shown.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from audittrail import clock
from audittrail.access import ROLE_SCOPES, SCOPES, UNBINDABLE_SCOPES, Admin
from audittrail.auth import keys, users
from audittrail.deps import ReadSession
from audittrail.pagination import Pages
from audittrail.web.templating import render
from audittrail.web.views import visible_applications

router = APIRouter(include_in_schema=False)


@router.get("/api-keys", response_class=HTMLResponse)
async def api_keys_page(
    request: Request, principal: Admin, session: ReadSession, pages: Pages
) -> HTMLResponse:
    found, total = await keys.api_keys_page(session, offset=pages.offset, limit=pages.page_size)
    return render(
        request,
        "api_keys.html",
        principal,
        api_keys=found,
        application_keys=await keys.application_refs(session, found),
        applications=await visible_applications(session, principal),
        scopes=SCOPES,
        default_scopes=keys.DEFAULT_SCOPES,
        unbindable_scopes=UNBINDABLE_SCOPES,
        pages=pages.meta(total),
        now=clock.now(),
    )


@router.get("/users", response_class=HTMLResponse)
async def users_page(
    request: Request, principal: Admin, session: ReadSession, pages: Pages
) -> HTMLResponse:
    found, total = await users.users_page(session, offset=pages.offset, limit=pages.page_size)
    return render(
        request,
        "users.html",
        principal,
        users=found,
        roles=list(ROLE_SCOPES),
        pages=pages.meta(total),
    )

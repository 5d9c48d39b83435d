"""HTTP routes for applications and their param definitions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel

from audittrail.access import ApplicationsReader, ApplicationsWriter
from audittrail.applications import service
from audittrail.applications.schemas import (
    ApplicationCreate,
    ApplicationResponse,
    ApplicationUpdate,
    ParamDefinitionCreate,
    ParamDefinitionResponse,
    ParamDefinitionUpdate,
)
from audittrail.db.models import Application
from audittrail.deps import ClientIP, ReadSession, WriteSession
from audittrail.pagination import PageMeta, Pages

router = APIRouter(prefix="/api/audit-trail/applications", tags=["applications"])

AppRef = Annotated[str, "an application's id or key"]


async def readable_application(
    app: AppRef, principal: ApplicationsReader, session: ReadSession
) -> Application:
    return await service.get(session, app, principal.visibility)


async def writable_application(app: AppRef, session: WriteSession) -> Application:
    return await service.get_for_change(session, app)


ReadableApplication = Annotated[Application, Depends(readable_application)]
WritableApplication = Annotated[Application, Depends(writable_application)]


class ApplicationPage(PageMeta):
    applications: list[ApplicationResponse]


class ParamDefinitionList(BaseModel):
    params: list[ParamDefinitionResponse]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApplicationResponse,
    summary="Register an application",
    description="Registers a source of records, optionally with its param definitions.",
)
async def create_application(
    body: ApplicationCreate, principal: ApplicationsWriter, session: WriteSession, ip: ClientIP
) -> ApplicationResponse:
    application = await service.create(session, body, actor=principal.actor, ip=ip)
    return ApplicationResponse.model_validate(application)


@router.get("", response_model=ApplicationPage, summary="List applications")
async def list_applications(
    principal: ApplicationsReader,
    session: ReadSession,
    pages: Pages,
    include_archived: Annotated[bool, Query(description="Also list archived ones.")] = False,
) -> ApplicationPage:
    applications, total = await service.page(
        session,
        principal.visibility,
        include_archived=include_archived,
        offset=pages.offset,
        limit=pages.page_size,
    )
    return ApplicationPage(
        applications=[ApplicationResponse.model_validate(a) for a in applications],
        **pages.meta(total),
    )


@router.get("/{app}", response_model=ApplicationResponse, summary="Get an application")
async def get_application(application: ReadableApplication) -> ApplicationResponse:
    return ApplicationResponse.model_validate(application)


@router.patch(
    "/{app}",
    response_model=ApplicationResponse,
    summary="Change an application",
    description="The key is immutable. `archived: true` archives it: it keeps its records and "
    "takes no new ones.",
)
async def update_application(
    principal: ApplicationsWriter,
    app: AppRef,
    body: ApplicationUpdate,
    session: WriteSession,
    ip: ClientIP,
) -> ApplicationResponse:
    application = await service.update(session, app, body, actor=principal.actor, ip=ip)
    return ApplicationResponse.model_validate(application)


@router.delete(
    "/{app}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an application",
    description="Only an application without records can be deleted (409 otherwise).",
)
async def delete_application(
    principal: ApplicationsWriter, app: AppRef, session: WriteSession, ip: ClientIP
) -> Response:
    await service.delete(session, app, actor=principal.actor, ip=ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{app}/params",
    status_code=status.HTTP_201_CREATED,
    response_model=ParamDefinitionResponse,
    summary="Register a param",
)
async def create_param(
    principal: ApplicationsWriter,
    application: WritableApplication,
    body: ParamDefinitionCreate,
    session: WriteSession,
    ip: ClientIP,
) -> ParamDefinitionResponse:
    definition = await service.create_definition(
        session, application, body, actor=principal.actor, ip=ip
    )
    return ParamDefinitionResponse.model_validate(definition)


@router.get("/{app}/params", response_model=ParamDefinitionList, summary="List params")
async def list_params(
    application: ReadableApplication, session: ReadSession
) -> ParamDefinitionList:
    definitions = await service.definitions(session, application.id)
    return ParamDefinitionList(
        params=[ParamDefinitionResponse.model_validate(d) for d in definitions]
    )


@router.get("/{app}/params/{param_key}", response_model=ParamDefinitionResponse)
async def get_param(
    param_key: str, application: ReadableApplication, session: ReadSession
) -> ParamDefinitionResponse:
    definition = await service.get_definition(session, application, param_key)
    return ParamDefinitionResponse.model_validate(definition)


@router.patch(
    "/{app}/params/{param_key}",
    response_model=ParamDefinitionResponse,
    description="Key and type are immutable.",
)
async def update_param(
    param_key: str,
    principal: ApplicationsWriter,
    application: WritableApplication,
    body: ParamDefinitionUpdate,
    session: WriteSession,
    ip: ClientIP,
) -> ParamDefinitionResponse:
    definition = await service.update_definition(
        session,
        application,
        param_key,
        body,
        actor=principal.actor,
        may_unmask=principal.is_admin,
        ip=ip,
    )
    return ParamDefinitionResponse.model_validate(definition)


@router.delete("/{app}/params/{param_key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_param(
    param_key: str,
    principal: ApplicationsWriter,
    application: WritableApplication,
    session: WriteSession,
    ip: ClientIP,
) -> Response:
    await service.delete_definition(
        session,
        application,
        param_key,
        actor=principal.actor,
        may_unmask=principal.is_admin,
        ip=ip,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)

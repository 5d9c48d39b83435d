"""HTTP routes for export jobs: start one, follow it, download its file and manifest."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse, PlainTextResponse

from audittrail.access import Exporter
from audittrail.deps import ClientIP, DatabaseDep, ReadSession, SettingsDep
from audittrail.pagination import Pages
from audittrail.records.export import jobs, parameters
from audittrail.records.export.formats import MEDIA_TYPES, Format, attachment
from audittrail.records.export.job_schemas import ExportJobPage, ExportJobResponse
from audittrail.records.export.routes import export_parameters, snapshot_of
from audittrail.records.export.service import ExportRequest
from audittrail.records.export.snapshot import Snapshot
from audittrail.schemas import ErrorEnvelope

router = APIRouter(prefix="/api/audit-trail/exports", tags=["export"])

NOT_READY: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorEnvelope, "description": "Not done yet (Retry-After), or failed."},
    410: {"model": ErrorEnvelope, "description": "Expired: its file was removed."},
}


@router.post(
    "",
    status_code=202,
    response_model=ExportJobResponse,
    summary="Start an export job",
    description="The parameters of GET /export; the export is written to a file in the "
    "background, against the checkpoint the job is made at (or tree_size). Location names the "
    "job (docs/export.md).",
)
async def start_export_job(
    request: Request,
    response: Response,
    wanted: Annotated[ExportRequest, Depends(export_parameters)],
    snapshot: Annotated[Snapshot, Depends(snapshot_of)],
    database: DatabaseDep,
    ip: ClientIP,
) -> ExportJobResponse:
    job = await jobs.create(database, wanted, snapshot, parameters.given(request), ip)
    request.app.state.export_runner.wake()
    response.headers["Location"] = f"{router.prefix}/{job.id}"
    return jobs.response(job)


@router.get(
    "",
    response_model=ExportJobPage,
    summary="List export jobs",
    description="The caller's export jobs (an admin's: everyone's), newest first.",
)
async def list_export_jobs(
    principal: Exporter, session: ReadSession, pages: Pages
) -> ExportJobPage:
    found, total = await jobs.page(session, principal, offset=pages.offset, limit=pages.page_size)
    return ExportJobPage(exports=[jobs.response(job) for job in found], **pages.meta(total))


@router.get("/{job_id}", response_model=ExportJobResponse, summary="Get an export job")
async def get_export_job(
    job_id: str, principal: Exporter, session: ReadSession
) -> ExportJobResponse:
    return jobs.response(await jobs.get(session, job_id, principal))


@router.get(
    "/{job_id}/download",
    response_class=FileResponse,
    summary="Download an export job's file",
    responses={
        200: {"content": {MEDIA_TYPES[f].split(";")[0]: {} for f in Format}},
        **NOT_READY,
    },
)
async def download_export_job(
    request: Request, job_id: str, principal: Exporter, session: ReadSession, settings: SettingsDep
) -> Any:
    job = await jobs.get(session, job_id, principal)
    files = jobs.ready(job, settings.export_directory)
    manifest = request.url_for("get_export_job_manifest", job_id=job.id)
    headers = {
        "Content-Disposition": attachment(Format(job.format), job.tree_size),
        "Audittrail-Tree-Size": str(job.tree_size),
        "Link": f'<{manifest.path}>; rel="describedby"',
    }
    return FileResponse(files.data, media_type=MEDIA_TYPES[Format(job.format)], headers=headers)


@router.get(
    "/{job_id}/manifest",
    # Not PlainTextResponse: the OpenAPI document would say the errors are text/plain too.
    response_class=Response,
    summary="Get an export job's signed manifest",
    description="The signed manifest of the job's file, whatever its format (NDJSON and packs "
    "also carry it inside).",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **NOT_READY},
)
async def get_export_job_manifest(
    job_id: str, principal: Exporter, session: ReadSession, settings: SettingsDep
) -> PlainTextResponse:
    job = await jobs.get(session, job_id, principal)
    files = jobs.ready(job, settings.export_directory)
    return PlainTextResponse(files.manifest.read_text())

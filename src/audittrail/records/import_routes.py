"""POST /api/audit-trail/imports: an export's file back into the log, by an admin
(records/imports.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from audittrail.access import ADMIN_SCOPE, Admin, credentials_of
from audittrail.deps import ClientIP, check_media_type
from audittrail.records import imports
from audittrail.records.intake import Intake

router = APIRouter(prefix="/api/audit-trail/imports", tags=["imports"])


class ImportAnswer(BaseModel):
    file_sha256: str = Field(description="The SHA-256 of the body, as its records' keys hold it.")
    records: int = Field(description="The records of the file (not its manifest or blank lines).")
    stored: int = Field(description="Records stored by this import.")
    replayed: int = Field(description="Records an earlier import of the same file stored.")
    dry_run: bool


_BODY = {"schema": {"type": "string"}}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportAnswer,
    responses={
        status.HTTP_200_OK: {
            "model": ImportAnswer,
            "description": "Nothing stored: a dry run, or every record imported before.",
        }
    },
    summary="Import records from an export's NDJSON or CSV",
    description="The body is a file in an export's format (docs/export.md, Import): NDJSON "
    "(`application/x-ndjson`, the manifest line skipped) or CSV (`text/csv`). Every line is "
    "checked first; if any does not fit (or repeats another line's `id`), a 422 names each by "
    "its line number and nothing is stored. Records get their id, time, actor (the importer) "
    "and IP address (this request's) now, and `source` `import`; the file's are kept in "
    "metadata (`original_id`, `original_created_at`, `original_actor`, "
    "`original_ip_address`, replacing any the file's metadata held), and "
    "`metadata.imported_by` names the importer. Importing the same, unchanged file again "
    "stores nothing twice. `dry_run=true` checks without storing.",
    openapi_extra={
        "requestBody": {"required": True, "content": {imports.NDJSON: _BODY, imports.CSV: _BODY}}
    },
)
async def import_records(
    request: Request, response: Response, principal: Admin, ip: ClientIP, dry_run: bool = False
) -> ImportAnswer:
    body = await request.body()
    check_media_type(request, body, imports.NDJSON, imports.CSV)
    file = imports.ImportFile.of_bytes(body, request.headers.get("content-type", ""))
    # The group commit's checks: a registry that moves on during the import is followed.
    intake = Intake(request.app.state.registry, await credentials_of(request), ADMIN_SCOPE)
    await intake.authenticate()
    imported = await imports.run(file, intake, request.app.state.writer, dry_run=dry_run, ip=ip)
    if not imported.stored:
        response.status_code = status.HTTP_200_OK
    return ImportAnswer(
        file_sha256=imported.file_sha256,
        records=imported.records,
        stored=imported.stored,
        replayed=imported.replayed,
        dry_run=imported.dry_run,
    )

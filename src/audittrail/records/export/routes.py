"""HTTP routes for exports: the direct, streamed one (jobs: records/export/job_routes.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, PlainTextResponse, StreamingResponse
from starlette.background import BackgroundTask

from audittrail.access import Exporter
from audittrail.db.engine import Database
from audittrail.deps import DatabaseDep, client_ip, get_settings
from audittrail.log import replica
from audittrail.log.signer import LogSigner
from audittrail.records import query as q
from audittrail.records.export import pack, parameters
from audittrail.records.export.formats import MEDIA_TYPES, Format, attachment
from audittrail.records.export.parameters import ExportOptions, export_options
from audittrail.records.export.service import Export, ExportRequest
from audittrail.records.export.snapshot import Snapshot, covering, pinned
from audittrail.records.filters import Filters, record_filters
from audittrail.records.query import MAX_SEQ

router = APIRouter(prefix="/api/audit-trail", tags=["export"])


async def export_parameters(
    request: Request,
    principal: Exporter,
    filters: Annotated[Filters, Depends(record_filters)],
    options: Annotated[ExportOptions, Depends(export_options)],
) -> ExportRequest:
    stated = parameters.stated(parameters.given(request))
    return options.request(filters, principal.visibility, principal.actor, stated)


TreeSize = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_SEQ,
        description="Take the export against the signed checkpoint of this size (default: the "
        "latest, once it covers the log as the request found it).",
    ),
]


async def snapshot_of(
    request: Request, database: DatabaseDep, tree_size: TreeSize = None
) -> Snapshot:
    if tree_size is not None:
        return await pinned(database, tree_size)
    return await covering(database, get_settings(request).checkpoint_interval)


@router.get(
    "/export",
    summary="Export audit records",
    description="Every filter and sort of the record list, as NDJSON (each line a record's "
    "canonical leaf bytes, then a signed manifest), CSV, or an evidence pack (a zip that "
    "`audittrail verify --pack` checks offline). Taken against a signed checkpoint; streamed "
    "(docs/export.md).",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "application/x-ndjson": {},
                "text/csv": {},
                "application/zip": {},
                "text/plain": {},
            }
        }
    },
)
async def export(
    request: Request,
    wanted: Annotated[ExportRequest, Depends(export_parameters)],
    snapshot: Annotated[Snapshot, Depends(snapshot_of)],
    database: DatabaseDep,
    manifest: Annotated[
        bool, Query(description="CSV: answer this export's signed manifest, not its data.")
    ] = False,
) -> Any:
    signer: LogSigner = request.app.state.signer
    export = Export(wanted, snapshot)
    # The checkpoint was chosen on the primary; its records are read where they all are.
    source = await replica.holding(database, snapshot.tree_size)
    await export.start(source)
    ip = await client_ip(request)
    if manifest:
        if wanted.format is not Format.CSV:
            raise q.invalid("manifest", "applies to format=csv: NDJSON and packs carry theirs.")
        async for _ in export.data(source):
            pass
        return PlainTextResponse(export.manifest(signer))
    headers = {
        "Content-Disposition": attachment(wanted.format, snapshot.tree_size),
        "Audittrail-Tree-Size": str(snapshot.tree_size),
    }
    if wanted.format is Format.PACK:
        return await _pack_response(request, export, source, headers, ip)
    if wanted.format is Format.CSV:
        # Relative (RFC 8288 resolves it against the request's URL): right behind a proxy too.
        pinned = request.url.include_query_params(tree_size=snapshot.tree_size, manifest="true")
        headers["Link"] = f'<{pinned.path}?{pinned.query}>; rel="describedby"'

    async def body() -> AsyncIterator[bytes]:
        complete = False
        try:
            async for chunk in export.data(source):
                yield chunk
            complete = True
        finally:
            # Recorded however it ends: a client that reads what it wants and goes away is
            # recorded too. Shielded: the cancelled response must not take the record with it.
            record = export.record(ip, complete=complete)
            await asyncio.shield(request.app.state.writer.submit([record]))
        if wanted.format is Format.NDJSON:
            yield export.manifest_line(signer)

    return StreamingResponse(body(), media_type=MEDIA_TYPES[wanted.format], headers=headers)


async def _pack_response(
    request: Request, export: Export, source: Database, headers: dict[str, str], ip: str | None
) -> FileResponse:
    path = pack.temporary_file(get_settings(request).export_directory)
    try:
        await pack.write(export, source, request.app.state.signer, path)
        await request.app.state.writer.submit([export.record(ip)])
    except BaseException:
        _remove(path)
        raise
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[Format.PACK],
        headers=headers,
        background=BackgroundTask(_remove, path),
    )


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()

"""HTTP routes of the verifiable log: checkpoints, proofs, entries, and the C2SP tlog-tiles layout.

Checkpoints, the verifier key, consistency proofs and hash tiles carry no record content and
are public, so witnesses and auditors can follow the log without an account. Entries and
inclusion proofs name records, and need a reader.

Proofs, tiles and entries may be read from a replica (log/replica.py); the head and the latest
checkpoint, which say what the log holds now, always from the primary.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from audittrail.access import LogReader, RecordsReader
from audittrail.deps import DatabaseDep, ReadSession, SettingsDep
from audittrail.errors import NotFound
from audittrail.integrity import tree
from audittrail.log import replica, service
from audittrail.log.replica import FromReplica
from audittrail.log.schemas import (
    CheckpointPage,
    ConsistencyProofResponse,
    HeadResponse,
    InclusionProofResponse,
)
from audittrail.log.signer import LogSigner
from audittrail.pagination import Pages

router = APIRouter(prefix="/api/audit-trail", tags=["log"])

ENTRIES_CHUNK = 1000
NOTE_MEDIA_TYPE = "text/plain; charset=utf-8"
# Full tiles and bundles never change once they exist; partial ones are replaced by wider ones.
IMMUTABLE = "public, max-age=31536000, immutable"


@router.get(
    "/log/checkpoint",
    response_class=PlainTextResponse,
    summary="Latest signed checkpoint",
    description="The C2SP tlog-checkpoint, as a signed note (Ed25519).",
)
async def latest_checkpoint(session: ReadSession) -> PlainTextResponse:
    checkpoint = await service.latest_checkpoint(session)
    return PlainTextResponse(checkpoint.note, media_type=NOTE_MEDIA_TYPE)


@router.get("/log/head", response_model=HeadResponse, summary="The log's current size and root")
async def log_head(session: ReadSession) -> HeadResponse:
    return await service.head(session)


@router.get("/log/checkpoints", response_model=CheckpointPage, summary="Every checkpoint")
async def list_checkpoints(session: ReadSession, pages: Pages) -> CheckpointPage:
    checkpoints, total = await service.checkpoints(
        session, offset=pages.offset, limit=pages.page_size
    )
    return CheckpointPage(checkpoints=checkpoints, **pages.meta(total))


@router.get(
    "/log/key",
    response_class=PlainTextResponse,
    summary="Verifier key",
    description="The signed-note verifier key of the checkpoints: `<name>+<key id>+<key>`.",
)
async def verifier_key(request: Request) -> PlainTextResponse:
    signer: LogSigner = request.app.state.signer
    return PlainTextResponse(signer.verifier_key + "\n", media_type=NOTE_MEDIA_TYPE)


@router.get(
    "/records/{record_uuid}/proof",
    response_model=InclusionProofResponse,
    summary="Inclusion proof of a record",
    description="Against the latest checkpoint by default (409 with Retry-After until one covers "
    "the record), or against any tree_size the log has reached.",
)
async def inclusion_proof(
    record_uuid: str,
    principal: RecordsReader,
    reads: FromReplica,
    settings: SettingsDep,
    tree_size: Annotated[int | None, Query(ge=1)] = None,
) -> InclusionProofResponse:
    return await reads.answer(
        service.inclusion_proof,
        record_uuid,
        tree_size,
        principal.visibility,
        retry_after=math.ceil(settings.checkpoint_interval),
    )


@router.get(
    "/log/consistency",
    response_model=ConsistencyProofResponse,
    summary="Consistency proof between two tree sizes",
)
async def consistency_proof(
    reads: FromReplica,
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
) -> ConsistencyProofResponse:
    return await reads.answer(service.consistency_proof, first, second)


@router.get(
    "/log/entries",
    summary="Records of a seq range, as NDJSON",
    description="Records with start <= seq < end (default: the log's size), in seq order, one "
    "per line, each line the record's canonical leaf bytes (RFC 8785): SHA-256 of 0x00 and the "
    "line without its newline is the record's leaf hash.",
    response_class=StreamingResponse,
)
async def entries(
    _: LogReader,
    session: ReadSession,
    database: DatabaseDep,
    start: Annotated[int, Query(ge=0)] = 0,
    end: Annotated[int | None, Query(ge=0)] = None,
) -> StreamingResponse:
    wanted = await service.entry_range(session, start, end)
    source = await replica.holding(database, wanted.end)

    async def lines() -> AsyncIterator[bytes]:
        for chunk_start in range(wanted.start, wanted.end, ENTRIES_CHUNK):
            chunk_end = min(chunk_start + ENTRIES_CHUNK, wanted.end)
            async with source.read_session() as chunk_session:
                yield b"".join(await service.entry_lines(chunk_session, chunk_start, chunk_end))

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get(
    "/log/tlog/checkpoint",
    response_class=PlainTextResponse,
    summary="tlog-tiles: checkpoint",
)
async def tlog_checkpoint(session: ReadSession) -> PlainTextResponse:
    return await latest_checkpoint(session)


def _tile_address(path: str) -> tree.TileAddress:
    try:
        return tree.parse_tile_path(path)
    except ValueError:
        raise NotFound("No such tile.", code="TILE_NOT_FOUND") from None


def _tile_response(content: bytes, address: tree.TileAddress) -> Response:
    """A full hash tile may be cached by anyone, for good; a partial one, and every entry bundle
    (records' bytes, for holders of log:read only), by no one (no-store: guards.py)."""
    public = address.width is None and address.level is not None
    headers = {"Cache-Control": IMMUTABLE} if public else {}
    return Response(content, media_type="application/octet-stream", headers=headers)


@router.get(
    "/log/tlog/tile/entries/{bundle_path:path}",
    summary="tlog-tiles: entry bundles",
    description="`tile/entries/<N>[.p/<W>]`: each entry is a record's canonical leaf bytes.",
    response_class=Response,
)
async def tlog_entry_bundle(bundle_path: str, _: LogReader, reads: FromReplica) -> Response:
    address = _tile_address(f"tile/entries/{bundle_path}")
    return _tile_response(await reads.answer(service.entry_bundle, address), address)


@router.get(
    "/log/tlog/tile/{tile_path:path}",
    summary="tlog-tiles: hash tiles",
    description="`tile/<L>/<N>[.p/<W>]`: the hashes of tree level 8*L, 256 to a full tile.",
    response_class=Response,
)
async def tlog_hash_tile(tile_path: str, reads: FromReplica) -> Response:
    address = _tile_address(f"tile/{tile_path}")
    return _tile_response(await reads.answer(service.hash_tile, address), address)

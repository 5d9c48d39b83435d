"""The log's read side: checkpoints, inclusion and consistency proofs, tiles, entry ranges."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.access import Visibility
from audittrail.db.models import SignedCheckpoint
from audittrail.errors import Conflict, FieldProblem, NotFound, Unprocessable
from audittrail.integrity import tree
from audittrail.integrity.canonical import record_leaf_bytes
from audittrail.log import head as log_head
from audittrail.log import repository as repo
from audittrail.log import tree_store as store
from audittrail.log.append import MAX_LEAF_BYTES
from audittrail.log.schemas import (
    CheckpointResponse,
    ConsistencyProofResponse,
    HeadResponse,
    InclusionProofResponse,
)

MAX_BUNDLE_ENTRY_BYTES = MAX_LEAF_BYTES


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _invalid(parameter: str, message: str) -> Unprocessable:
    problem = FieldProblem(f"query.{parameter}", "OUT_OF_RANGE", message)
    return Unprocessable(f"Invalid query parameter {parameter}: {message}", details=[problem])


async def latest_checkpoint(session: AsyncSession) -> SignedCheckpoint:
    found = await repo.latest_checkpoint(session)
    if found is None:
        raise NotFound("No checkpoint has been signed yet.", code="NO_CHECKPOINT")
    return found


async def head(session: AsyncSession) -> HeadResponse:
    head = await log_head.read(session)
    return HeadResponse(tree_size=head.size, root_hash=b64(head.root_hash))


async def checkpoints(
    session: AsyncSession, *, offset: int, limit: int
) -> tuple[list[CheckpointResponse], int]:
    found, total = await repo.checkpoints_page(session, offset=offset, limit=limit)
    return [
        CheckpointResponse(
            tree_size=c.tree_size,
            root_hash=b64(c.root_hash),
            created_at=c.created_at,
            note=c.note,
        )
        for c in found
    ], total


async def inclusion_proof(
    session: AsyncSession,
    record_id: str,
    tree_size: int | None,
    visibility: Visibility,
    *,
    retry_after: int,
) -> InclusionProofResponse:
    """The record's proof; 404 for a record beyond the reader's visibility, as on get."""
    found = await repo.inclusion_inputs(session, record_id, tree_size)
    if found is None or not visibility.allows(found.application_id):
        raise NotFound(f"No record {record_id}.", code="RECORD_NOT_FOUND")
    seq, nodes = found.seq, found.nodes
    if tree_size is None:
        if found.checkpoint_size is None or found.checkpoint_size <= seq:
            raise Conflict(
                "No checkpoint covers this record yet; ask again shortly.",
                code="NOT_YET_CHECKPOINTED",
                headers={"Retry-After": str(retry_after)},
            )
        tree_size = found.checkpoint_size
    elif not seq < tree_size <= found.head_size:
        raise _invalid(
            "tree_size",
            f"must be above the record's index {seq} and at most {found.head_size}.",
        )
    return InclusionProofResponse(
        record_id=record_id,
        leaf_index=seq,
        leaf_hash=b64(nodes[(0, seq)]),
        tree_size=tree_size,
        root_hash=b64(tree.tree_root(tree_size, nodes)),
        inclusion_path=[b64(h) for h in tree.inclusion_proof(seq, tree_size, nodes)],
        checkpoint=found.checkpoint_note,
    )


async def consistency_proof(
    session: AsyncSession, first: int, second: int
) -> ConsistencyProofResponse:
    if not 1 <= first <= second:
        raise _invalid("first", f"must be at least 1 and at most second ({second}).")
    found = await repo.consistency_inputs(session, first, second)
    if second > found.head_size:
        raise _invalid("second", f"must be at most the log's size ({found.head_size}).")
    nodes = found.nodes
    return ConsistencyProofResponse(
        first=first,
        second=second,
        first_root=b64(tree.tree_root(first, nodes)),
        second_root=b64(tree.tree_root(second, nodes)),
        proof=[b64(h) for h in tree.consistency_proof(first, second, nodes)],
    )


@dataclass(frozen=True)
class EntryRange:
    start: int
    end: int


async def entry_range(session: AsyncSession, start: int, end: int | None) -> EntryRange:
    head = await log_head.read(session)
    end = head.size if end is None else end
    if not 0 <= start <= end:
        raise _invalid("start", f"must be between 0 and end ({end}).")
    if end > head.size:
        raise _invalid("end", f"must be at most the log's size ({head.size}).")
    return EntryRange(start, end)


async def entry_lines(session: AsyncSession, start: int, end: int) -> list[bytes]:
    """NDJSON lines: each record's canonical leaf bytes, so SHA-256(0x00 || line) is its leaf
    hash."""
    rows = await repo.leaf_rows(session, start, end)
    return [record_leaf_bytes(row._asdict()) + b"\n" for row in rows]


async def _check_grown_to(session: AsyncSession, address: tree.TileAddress) -> None:
    """404 for a tile or bundle past the log's size, before its numbers reach SQL: a tile of a
    high level, or of a huge index, needs node numbers past what a BIGINT holds."""
    head = await log_head.read(session)
    if tree.tile_tree_size(address) > head.size:
        raise NotFound("The log has not grown to this tile yet.", code="TILE_NOT_FOUND")


async def hash_tile(session: AsyncSession, address: tree.TileAddress) -> bytes:
    assert address.level is not None
    await _check_grown_to(session, address)
    wanted = tree.tile_nodes(address.level, address.index, address.width)
    nodes = await store.nodes(session, wanted)
    if len(nodes) < len(wanted):
        raise NotFound("The log has not grown to this tile yet.", code="TILE_NOT_FOUND")
    return b"".join(nodes[node] for node in wanted)


async def entry_bundle(session: AsyncSession, address: tree.TileAddress) -> bytes:
    """C2SP tlog-tiles entry bundle: each entry as a big-endian uint16 length and its bytes."""
    await _check_grown_to(session, address)
    width = address.width or tree.TILE_WIDTH
    start = address.index * tree.TILE_WIDTH
    bundle = bytearray()
    for line in await entry_lines(session, start, start + width):
        entry = line[:-1]
        if len(entry) > MAX_BUNDLE_ENTRY_BYTES:
            raise Conflict(
                "An entry of this bundle is over 65535 bytes, which the tile format cannot hold; "
                "read it from /api/audit-trail/log/entries instead.",
                code="ENTRY_TOO_LARGE_FOR_BUNDLE",
            )
        bundle += len(entry).to_bytes(2, "big") + entry
    return bytes(bundle)

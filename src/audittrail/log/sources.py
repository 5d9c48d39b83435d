"""Where `audittrail verify` reads a log from: the database, a running server, or exported files.

Each source verifies the signed checkpoints against the verifier key, feeds the entries in
seq order (with the stored leaf hashes where it has them) to a LogAudit, and checks each
checkpoint's consistency with the next through the proofs the log itself would serve.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx

from audittrail.db.engine import Database
from audittrail.integrity import tree
from audittrail.integrity.audit import LogAudit, verified_checkpoints
from audittrail.integrity.hashing import HASH_SIZE, leaf_hash
from audittrail.integrity.verify import Checkpoint
from audittrail.log import head as log_head
from audittrail.log import leaf_reader
from audittrail.log import repository as repo
from audittrail.log import tree_store as store
from audittrail.log.leaf_reader import CHUNK

Progress = Callable[[int], None]
_T = TypeVar("_T")


async def audit_database(database_url: str, verifier_key: str, progress: Progress) -> LogAudit:
    database = Database.connect(database_url)
    try:
        async with database.read_session() as session:
            notes, _ = await repo.checkpoints_page(session, offset=0, limit=2**62, ascending=True)
            head = await log_head.read(session)
            count = await repo.record_count(session)
        checkpoints, bad = verified_checkpoints([n.note for n in notes], verifier_key)
        audit = LogAudit(checkpoints, bad)
        chunks = leaf_reader.leaf_chunks(database_url, max(count, head.size))
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                audit.add_leaves(chunk.seqs, chunk.leaves, chunk.stored)
                progress(len(chunk))
        audit.finish(head.size)
        for older, newer in audit.consistency_pairs():
            async with database.read_session() as session:
                nodes = await store.nodes(
                    session, tree.consistency_proof_nodes(older.size, newer.size)
                )
            try:
                proof = tree.consistency_proof(older.size, newer.size, nodes)
            except tree.MissingNodeError as error:
                audit.inconsistent(older.size, newer.size, f"the stored tree lacks a node: {error}")
                continue
            audit.check_consistency(older, newer, proof)
        return audit
    finally:
        await database.dispose()


def audit_files(
    entries_file: Path, checkpoint_file: Path, verifier_key: str, progress: Progress
) -> LogAudit:
    checkpoints, bad = verified_checkpoints([checkpoint_file.read_text()], verifier_key)
    # Entries beyond the checkpoint are vouched for by nothing: they count as extra.
    expected_size = checkpoints[-1].size if checkpoints else None
    if checkpoints:
        verbatim = _audit_verbatim(entries_file, checkpoints, expected_size, progress)
        if verbatim is not None:
            return verbatim
        # The first pass already counted what it read; a second count would double the bar.
        progress = _ignore
    audit = LogAudit(checkpoints, bad)
    with entries_file.open("rb") as lines:
        audit.add_all((entry, None) for _, entry in _counted(_ndjson(lines), progress))
    audit.finish(expected_size)
    return audit


def _audit_verbatim(
    entries_file: Path, checkpoints: list[Checkpoint], expected_size: int | None, progress: Progress
) -> LogAudit | None:
    """The audit with each line's own bytes as its leaf; None unless it found nothing wrong.

    /log/entries writes each entry as its canonical leaf encoding, so an export as served
    verifies without decoding or encoding a single record, which is most of the cost. The lines
    are only hashed: that they are the entries of seq 0, 1, ... unchanged counts only when the
    signed root says so, so anything short of a clean pass (an honest file merely reformatted
    included) is redone from the parsed entries, which alone decides what is wrong and where.
    """
    audit = LogAudit(checkpoints)
    with entries_file.open("rb") as lines:
        entries = (line for line in lines if not line.isspace())
        while batch := list(itertools.islice(entries, CHUNK)):
            audit.add_vouched([leaf_hash(line.removesuffix(b"\n")) for line in batch])
            progress(len(batch))
    audit.finish(expected_size)
    return audit if audit.ok else None


def _ignore(_records: int) -> None:
    """Progress nobody sees."""


def _ndjson(lines: Iterator[bytes]) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """Each non-blank line with its JSON object."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError as error:
            raise ValueError(f"line {number} is not JSON: {error}") from None
        if not isinstance(entry, dict):
            raise ValueError(f"line {number} is not a JSON object")
        yield line, entry


def _counted(items: Iterator[_T], progress: Progress) -> Iterator[_T]:
    for count, item in enumerate(items, start=1):
        yield item
        if count % CHUNK == 0:
            progress(CHUNK)


def audit_server(client: httpx.Client, verifier_key: str, progress: Progress) -> LogAudit:
    """Through the public read API: checkpoints, entries, level-0 hash tiles, consistency proofs."""
    notes = [checkpoint["note"] for checkpoint in _all_checkpoints(client)]
    checkpoints, bad = verified_checkpoints(notes, verifier_key)
    audit = LogAudit(checkpoints, bad)
    stored_leaves = _LeafTiles(client)
    with client.stream(
        "GET", "/api/audit-trail/log/entries", params={"end": stored_leaves.size}
    ) as response:
        response.raise_for_status()
        lines = (line.encode() for line in response.iter_lines())
        audit.add_all(
            (entry, stored_leaves.get(entry.get("seq")))
            for _, entry in _counted(_ndjson(lines), progress)
        )
    audit.finish(stored_leaves.size)
    for older, newer in audit.consistency_pairs():
        answer = client.get(
            "/api/audit-trail/log/consistency", params={"first": older.size, "second": newer.size}
        )
        answer.raise_for_status()
        proof = [base64.b64decode(element) for element in answer.json()["proof"]]
        audit.check_consistency(older, newer, proof)
    return audit


def _all_checkpoints(client: httpx.Client) -> Iterator[dict[str, Any]]:
    page = 1
    while True:
        response = client.get(
            "/api/audit-trail/log/checkpoints", params={"page": page, "page_size": 200}
        )
        response.raise_for_status()
        body = response.json()
        yield from body["checkpoints"]
        if page >= body["total_pages"]:
            return
        page += 1


class _LeafTiles:
    """Stored leaf hashes, read 256 at a time from the level-0 hash tiles."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.size = _head_size(client)
        self._tile_index = -1
        self._hashes: list[bytes] = []

    def get(self, seq: Any) -> bytes | None:
        if not isinstance(seq, int) or not 0 <= seq < self.size:
            return None
        index, offset = divmod(seq, tree.TILE_WIDTH)
        if index != self._tile_index:
            self._load(index)
        return self._hashes[offset] if offset < len(self._hashes) else None

    def _load(self, index: int) -> None:
        width = min(tree.TILE_WIDTH, self.size - index * tree.TILE_WIDTH)
        path = tree.tile_path(0, index, None if width == tree.TILE_WIDTH else width)
        response = self.client.get(f"/api/audit-trail/log/tlog/{path}")
        response.raise_for_status()
        tile = response.content
        self._hashes = [tile[i : i + HASH_SIZE] for i in range(0, len(tile), HASH_SIZE)]
        self._tile_index = index


def _head_size(client: httpx.Client) -> int:
    """The log's size now: the entries endpoint's range ends there."""
    response = client.get("/api/audit-trail/log/head")
    response.raise_for_status()
    size: int = response.json()["tree_size"]
    return size

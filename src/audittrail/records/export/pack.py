"""Evidence packs: one zip with the records, their proofs, the checkpoint, the key and the
manifest, that `audittrail verify --pack` checks with nothing else (docs/export.md).

Written to a file (a zip's directory comes last, and a pack is refused before its first byte
when it would hold a masked record), record by record: memory stays flat whatever its size.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
import time
import zipfile
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import orjson

from audittrail.db.engine import Database
from audittrail.errors import Forbidden
from audittrail.integrity import tree
from audittrail.log import tree_store
from audittrail.log.signer import LogSigner
from audittrail.records.export.formats import ndjson_line
from audittrail.records.export.service import Export

TEMPORARY_PREFIX = ".pack-"
# A direct pack's file older than this has lost its process (a sent one is removed at once).
ABANDONED_SECONDS = 3600
PROOF_CHUNK = 500
LEAF_CHUNK = 5000
README = """\
Evidence pack of the audit log {origin}

records.ndjson    {records} records, each the canonical JSON bytes of its log leaf, by seq
checkpoint.txt    the signed checkpoint of tree size {tree_size} they were taken against
manifest.txt      the signed manifest: filters, counts, seqs, checkpoint, SHA-256 of the data
verifier-key.txt  the log's verifier key (compare its id with the one the log publishes)
{proofs}

To check it:  audittrail verify --pack THIS_FILE --key PUBLISHED_KEY_FILE
The layout is documented precisely enough to write another verifier: docs/export.md.
"""
PER_RECORD = "proofs.ndjson     an RFC 9162 inclusion proof of every record in that tree"
RANGED = "range-proof.json  the proof that the records are every leaf of seqs {start} to {last}"


def temporary_file(directory: Path) -> Path:
    """Where a direct pack is written before it is sent (and then removed)."""
    directory.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=directory, prefix=TEMPORARY_PREFIX, suffix=".zip")
    os.close(descriptor)
    return Path(name)


def remove_abandoned(directory: Path) -> None:
    """The direct packs whose process died before it sent and removed them."""
    cutoff = time.time() - ABANDONED_SECONDS
    for path in directory.glob(f"{TEMPORARY_PREFIX}*.zip"):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


def _member(name: str) -> zipfile.ZipInfo:
    """A member written as a stream, dated now as writestr dates the others (zipfile would
    date it 1980)."""
    member = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    member.compress_type = zipfile.ZIP_DEFLATED
    return member


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


async def write(export: Export, database: Database, signer: LogSigner, path: Path) -> None:
    """Write the pack to `path`; 403 SENSITIVE_PARAM (and no file) if a record would be masked."""
    seqs = array("q")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as pack:
        with pack.open(_member("records.ndjson"), "w") as out:
            async for page in export.rows(database):
                if export.masked:
                    raise Forbidden(
                        "An evidence pack holds records' exact bytes, and some of these records "
                        "hold sensitive params this reader sees masked: ask an admin, or narrow "
                        "the filters.",
                        code="SENSITIVE_PARAM",
                    )
                data = b"".join(ndjson_line(row) for row in page)
                export.digest.update(data)
                out.write(data)
                seqs.extend(row["seq"] for row in page)
        span = export.range()
        if span is None:
            with pack.open(_member("proofs.ndjson"), "w") as out:
                await _write_proofs(out, database, seqs, export.snapshot.tree_size)
        else:
            with pack.open(_member("range-proof.json"), "w") as out:
                await _write_range_proof(out, database, span, export.snapshot.tree_size)
        pack.writestr("checkpoint.txt", export.snapshot.note)
        pack.writestr("verifier-key.txt", signer.verifier_key + "\n")
        pack.writestr("manifest.txt", export.manifest(signer))
        pack.writestr("README.txt", _readme(export, signer, span))


async def _write_proofs(out: IO[bytes], database: Database, seqs: array[int], size: int) -> None:
    for chunk in _chunks(seqs):
        wanted = [(0, seq) for seq in chunk]
        for seq in chunk:
            wanted += tree.inclusion_proof_nodes(seq, size)
        async with database.read_session() as session:
            nodes = await tree_store.nodes(session, wanted)
        lines = [
            orjson.dumps(
                {
                    "inclusion_path": [_b64(h) for h in tree.inclusion_proof(seq, size, nodes)],
                    "leaf_hash": _b64(nodes[(0, seq)]),
                    "seq": seq,
                }
            )
            + b"\n"
            for seq in chunk
        ]
        out.write(b"".join(lines))


def _chunks(seqs: array[int]) -> Iterator[array[int]]:
    for start in range(0, len(seqs), PROOF_CHUNK):
        yield seqs[start : start + PROOF_CHUNK]


async def _write_range_proof(
    out: IO[bytes], database: Database, span: tuple[int, int], size: int
) -> None:
    """range-proof.json, its leaf hashes written as they are read: a range may be the log."""
    start, end = span
    parts = tree.range_proof_ranges(start, end, size)
    async with database.read_session() as session:
        nodes = await tree_store.nodes(session, tree.range_proof_nodes(start, end, size))
    hashes = [
        {"end": hi, "hash": _b64(digest), "start": lo}
        for (lo, hi), digest in zip(parts, tree.range_proof(start, end, size, nodes), strict=True)
    ]
    out.write(b'{"end":%d,"hashes":%s,"leaf_hashes":[' % (end, orjson.dumps(hashes)))
    for first in range(start, end, LEAF_CHUNK):
        last = min(end, first + LEAF_CHUNK)
        async with database.read_session() as session:
            leaves = await tree_store.nodes(session, [(0, seq) for seq in range(first, last)])
        encoded = ",".join(f'"{_b64(leaves[(0, seq)])}"' for seq in range(first, last))
        out.write((encoded if first == start else "," + encoded).encode())
    out.write(b'],"start":%d,"tree_size":%d}\n' % (start, size))


def _readme(export: Export, signer: LogSigner, span: tuple[int, int] | None) -> str:
    proofs = PER_RECORD if span is None else RANGED.format(start=span[0], last=span[1] - 1)
    return README.format(
        origin=signer.origin,
        records=export.records,
        tree_size=export.snapshot.tree_size,
        proofs=proofs,
    )

"""Helpers of the export tests: export over HTTP, split NDJSON from its manifest, check both."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from fastapi import FastAPI

from audittrail.integrity.hashing import leaf_hash
from audittrail.integrity.manifest import Manifest, verify_manifest
from audittrail.integrity.verify import verify_checkpoint
from audittrail.log import checkpointer

EXPORT = "/api/audit-trail/export"


async def checkpoint_now(app: FastAPI) -> None:
    """Sign the head now, so that an export need not wait for the checkpointer's round."""
    await checkpointer.checkpoint_head(app.state.database, app.state.signer)


async def export(client: httpx.AsyncClient, **params: Any) -> httpx.Response:
    response = await client.get(EXPORT, params=params)
    assert response.status_code == 200, response.text
    return response


@dataclass(frozen=True)
class NdjsonExport:
    lines: list[bytes]
    records: list[dict[str, Any]]
    manifest: Manifest
    checkpoint_note: str


def read_ndjson(app: FastAPI, content: bytes) -> NdjsonExport:
    """The records and the verified manifest of an NDJSON export (the manifest's hash and
    checkpoint checked against the data and the log's key)."""
    *lines, last = content.splitlines(keepends=True)
    trailer = orjson.loads(last)
    assert set(trailer) == {"checkpoint", "manifest"}
    key = app.state.signer.verifier_key
    manifest = verify_manifest(trailer["manifest"], key)
    checkpoint = verify_checkpoint(trailer["checkpoint"], key)
    assert (manifest.tree_size, manifest.root_hash) == (checkpoint.size, checkpoint.root_hash)
    assert manifest.data_sha256 == hashlib.sha256(b"".join(lines)).hexdigest()
    records = [orjson.loads(line) for line in lines]
    assert manifest.records == len(records)
    return NdjsonExport(lines, records, manifest, trailer["checkpoint"])


def line_leaf_hash(line: bytes) -> bytes:
    return leaf_hash(line.rstrip(b"\n"))

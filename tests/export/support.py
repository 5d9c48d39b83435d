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
from tests.helpers import RECORDS, create_application, post_record, query_problem

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


# docs/export.md, "CSV": the columns, in this order (what the tests expect, not the code's list).
COLUMNS = [
    "id",
    "seq",
    "created_at",
    "event_type",
    "category",
    "summary",
    "severity",
    "actor",
    "application_id",
    "application_key",
    "entity_type",
    "entity_id",
    "ip_address",
    "source",
    "params",
    "metadata",
]


# Bad inputs that GET /export and POST /exports refuse alike, with their exact answers.
REFUSED: list[tuple[dict[str, str], int, Any]] = [
    (
        {"format": "csv", "params_as_columns": "true"},
        422,
        query_problem("params_as_columns", "needs application_id or application_key."),
    ),
    ({"bom": "true"}, 422, query_problem("bom", "applies to format=csv only.")),
    (
        {"format": "pack", "registered_params_only": "true"},
        422,
        query_problem(
            "registered_params_only", "does not apply to packs: they hold records' exact bytes."
        ),
    ),
    (
        {"tree_size": "123456"},
        404,
        {
            "error": {
                "code": "CHECKPOINT_NOT_FOUND",
                "message": "No signed checkpoint of tree size 123456; see "
                "/api/audit-trail/log/checkpoints.",
            }
        },
    ),
    (
        {"severities": "loud"},
        422,
        query_problem("severities", "'loud' is not one of critical, high, medium, low, none."),
    ),
]


async def export_records(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The system records of exports, newest first."""
    response = await client.get(RECORDS, params={"event_types": "export.created"})
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


async def shop(client: httpx.AsyncClient) -> None:
    await create_application(
        client,
        "shop",
        params=[
            {"key": "amount", "type": "number"},
            {"key": "card", "type": "string", "sensitive": True},
        ],
    )
    for number, severity in enumerate(["low", "high", "critical", "medium"]):
        await post_record(
            client,
            application_key="shop",
            event_type="order.placed" if number % 2 == 0 else "order.refunded",
            severity=severity,
            summary=f"Order {number}",
            params={"amount": number * 10, "card": f"4242-{number}"},
        )
    await post_record(client, event_type="loose.end", summary="No application")

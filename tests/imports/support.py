"""Import files written by hand in the export's documented formats (docs/export.md), and the
records a database holds."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from audittrail.db.engine import Database
from audittrail.db.models import Record
from audittrail.log.append import AppendedRecord
from tests.export.support import COLUMNS

IMPORTS = "/api/audit-trail/imports"
NDJSON = "application/x-ndjson"
CSV = "text/csv"
MANIFEST_LINE = {"checkpoint": "origin\n1\nroot\n\n— key sig\n", "manifest": "audittrail ..."}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def exported(number: int, **fields: Any) -> dict[str, Any]:
    """A record as an export holds it: its sixteen leaf fields."""
    return {
        "id": f"0190a1b2-c3d4-7e5f-8a9b-{number:012d}",
        "seq": number,
        "created_at": f"2024-05-01T10:{number // 60 % 60:02d}:{number % 60:02d}.123456Z",
        "event_type": "invoice.paid",
        "category": "billing",
        "summary": f"Invoice {number} paid",
        "severity": "medium",
        "actor": "alice@example.com",
        "application_id": None,
        "application_key": None,
        "entity_type": "invoice",
        "entity_id": f"INV-{number}",
        "ip_address": "198.51.100.4",
        "source": "manual",
        "params": {},
        "metadata": {},
        **fields,
    }


def ndjson_file(records: Sequence[Any], *, manifest: bool = True) -> bytes:
    """The records' lines (keys sorted, compact, as canonical JSON writes them), then the
    manifest line."""
    lines = [*records, MANIFEST_LINE] if manifest else list(records)
    return b"".join(
        json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        for line in lines
    )


def neutralised(cell: str) -> str:
    """docs/export.md, "Formula injection": a quote in front, but for plain numbers."""
    try:
        float(cell)
    except ValueError:
        return "'" + cell if cell.startswith(FORMULA_START) else cell
    return cell


def csv_cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name in ("params", "metadata"):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return neutralised(str(value))


def csv_file(
    records: Sequence[dict[str, Any]], *, bom: bool = False, param_columns: Sequence[str] = ()
) -> bytes:
    """RFC 4180 with CRLF, the export's columns, then `param.<key>` ones."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([*COLUMNS, *(f"param.{key}" for key in param_columns)])
    for record in records:
        row = [csv_cell(name, record[name]) for name in COLUMNS]
        row += [csv_cell(key, record["params"].get(key)) for key in param_columns]
        writer.writerow(row)
    return ("\ufeff" if bom else "").encode() + text.getvalue().encode()


async def post_import(
    client: httpx.AsyncClient, body: bytes, content_type: str = NDJSON, **params: Any
) -> httpx.Response:
    return await client.post(
        IMPORTS, content=body, headers={"Content-Type": content_type}, params=params
    )


async def stored(database_url: str) -> list[AppendedRecord]:
    """Every record of the log, in log order."""
    database = Database.connect(database_url, pool_size=1)
    try:
        async with database.read_session() as session:
            rows = await session.execute(
                select(Record).order_by(Record.seq).options(selectinload(Record.application))
            )
            return [AppendedRecord.of(record) for record in rows.scalars()]
    finally:
        await database.dispose()


async def imported(database_url: str) -> list[AppendedRecord]:
    """The records an import stored, in log order."""
    return [r for r in await stored(database_url) if r.source == "import"]

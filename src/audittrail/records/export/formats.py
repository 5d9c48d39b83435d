"""An export's bytes: NDJSON of leaf bytes, or CSV a spreadsheet opens safely (docs/export.md)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from audittrail.integrity.canonical import (
    LEAF_FIELDS,
    canonical_json,
    leaf_time,
    record_leaf_bytes,
)

BOM = "\ufeff".encode()


class Format(StrEnum):
    NDJSON = "ndjson"
    CSV = "csv"
    PACK = "pack"


MEDIA_TYPES = {
    Format.NDJSON: "application/x-ndjson",
    Format.CSV: "text/csv; charset=utf-8",
    Format.PACK: "application/zip",
}
EXTENSIONS = {Format.NDJSON: "ndjson", Format.CSV: "csv", Format.PACK: "zip"}


def attachment(export_format: Format, tree_size: int) -> str:
    """The Content-Disposition of an export taken against the checkpoint of this size."""
    return f'attachment; filename="audittrail-export-{tree_size}.{EXTENSIONS[export_format]}"'


# The columns that hold JSON: in CSV as their RFC 8785 text, last.
JSON_COLUMNS = ("params", "metadata")
# The leaf's fields, in the leaf's order but for the JSON ones, which end a CSV row.
COLUMNS = (*(name for name in LEAF_FIELDS if name not in JSON_COLUMNS), *JSON_COLUMNS)
PARAM_COLUMN = "param."

# What a spreadsheet reads as the start of a formula, and the quote that disarms it (and is
# itself doubled, so that an importer can take exactly one off).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def ndjson_line(row: dict[str, Any]) -> bytes:
    """A record's canonical leaf bytes and a newline: SHA-256(0x00 || bytes) is its leaf hash."""
    return record_leaf_bytes(row) + b"\n"


def neutralised(cell: str) -> str:
    """A cell as a spreadsheet may show it without running it (docs/export.md)."""
    if cell.startswith(_FORMULA_START) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def leaf_text(value: Any) -> str:
    """A cell's text: strings as they are, anything else as JSON spells it, null empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return canonical_json(value).decode()


class CsvWriter:
    """Rows to RFC 4180 text (CRLF, quotes only where needed), page by page."""

    def __init__(self, param_keys: Sequence[str] = ()) -> None:
        self.param_keys = list(param_keys)
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")

    def header(self) -> bytes:
        self._writer.writerow([*COLUMNS, *(PARAM_COLUMN + key for key in self.param_keys)])
        return self._take()

    def rows(self, rows: Sequence[dict[str, Any]]) -> bytes:
        param_keys = self.param_keys
        self._writer.writerows(
            [
                *_cells(row),
                *(neutralised(leaf_text(row["params"].get(key))) for key in param_keys),
            ]
            for row in rows
        )
        return self._take()

    def _take(self) -> bytes:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode()


def _text(value: str | None) -> str:
    """A text column's cell: most start with no formula character, and only a look at their
    first character is paid (every cell of millions goes through here)."""
    if not value:
        return ""
    return neutralised(value) if value[0] in _FORMULA_CHARACTERS else value


_FORMULA_CHARACTERS = frozenset(_FORMULA_START)


def _cells(row: dict[str, Any]) -> list[str]:
    """The cells of COLUMNS, in their order."""
    return [
        _text(row["id"]),
        str(row["seq"]),
        leaf_time(row["created_at"]),
        _text(row["event_type"]),
        _text(row["category"]),
        _text(row["summary"]),
        _text(row["severity"]),
        _text(row["actor"]),
        _text(row["application_id"]),
        _text(row["application_key"]),
        _text(row["entity_type"]),
        _text(row["entity_id"]),
        _text(row["ip_address"]),
        _text(row["source"]),
        neutralised(canonical_json(row["params"]).decode()),
        neutralised(canonical_json(row["metadata"]).decode()),
    ]

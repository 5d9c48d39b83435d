"""Records as log entries: the leaf fields of a stored record, and the NDJSON line of an entry."""

from __future__ import annotations

from typing import Any

from audittrail.integrity import canonical
from audittrail.integrity.hashing import leaf_hash


def leaf_fields(record: Any) -> dict[str, Any]:
    """The leaf fields of a records row (ORM object or Core row, metadata read as `metadata_`)."""
    fields = {name: getattr(record, name) for name in canonical.LEAF_FIELDS if name != "metadata"}
    fields["metadata"] = record.metadata_
    return fields


def entry_line(record: Any) -> bytes:
    """One NDJSON line: the canonical leaf bytes, so SHA-256(0x00 || line) is the leaf hash."""
    return canonical.record_leaf_bytes(leaf_fields(record)) + b"\n"


def record_leaf_hash(record: Any) -> bytes:
    return leaf_hash(canonical.record_leaf_bytes(leaf_fields(record)))

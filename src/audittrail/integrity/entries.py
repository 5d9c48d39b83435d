"""Records as log entries: the leaf fields of a stored record, and the NDJSON line of an entry."""

from __future__ import annotations

import operator
from typing import Any

from audittrail.integrity import canonical
from audittrail.integrity.hashing import leaf_hash

# A records row's leaf members in canonical.MEMBERS order (ORM object, Core row or appended
# record: metadata is read as `metadata_`, the ORM's name for it).
_row_members = operator.attrgetter(
    *("metadata_" if name == "metadata" else name for name in canonical.MEMBERS)
)


def leaf_bytes(record: Any) -> bytes:
    return canonical.stored_leaf_bytes(list(_row_members(record)))


def entry_line(record: Any) -> bytes:
    """One NDJSON line: the canonical leaf bytes, so SHA-256(0x00 || line) is the leaf hash."""
    return leaf_bytes(record) + b"\n"


def record_leaf_hash(record: Any) -> bytes:
    return leaf_hash(leaf_bytes(record))

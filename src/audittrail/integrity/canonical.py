"""The leaf encoding of a record: RFC 8785 canonical JSON of a fixed set of its fields."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import rfc8785

from audittrail.integrity.hashing import leaf_hash

# Changing this tuple or the encodings below changes every leaf hash: it is a format, not code.
LEAF_FIELDS = (
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
    "params",
    "metadata",
    "ip_address",
    "source",
)


def record_leaf_bytes(record: Mapping[str, object]) -> bytes:
    """The canonical JSON of the record's leaf fields; other keys of ``record`` are ignored."""
    missing = [name for name in LEAF_FIELDS if name not in record]
    if missing:
        raise ValueError(f"record lacks leaf fields: {', '.join(missing)}")
    # Any: rfc8785 checks at run time that the values are JSON, and raises ValueError if not.
    leaf: dict[str, Any] = {name: record[name] for name in LEAF_FIELDS}
    leaf["seq"] = _seq(leaf["seq"])
    leaf["created_at"] = _timestamp(leaf["created_at"])
    return rfc8785.dumps(leaf)


def record_leaf_hash(record: Mapping[str, object]) -> bytes:
    return leaf_hash(record_leaf_bytes(record))


def _seq(value: object) -> int:
    # bool is an int to Python but would encode as true/false.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"seq must be an integer, got {type(value).__name__}")
    return value


def _timestamp(value: object) -> str:
    """RFC 3339 in UTC with microseconds, so one instant always encodes to one string."""
    if isinstance(value, str):
        return value
    if not isinstance(value, datetime):
        raise ValueError(f"created_at must be a datetime or a string, got {type(value).__name__}")
    if value.utcoffset() is None:
        raise ValueError("created_at must be timezone-aware")
    utc = value.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"

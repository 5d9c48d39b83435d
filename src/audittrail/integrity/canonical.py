"""The leaf encoding of a record: RFC 8785 canonical JSON of a fixed set of its fields.

One function turns a record into its leaf bytes (`record_leaf_bytes`) and one into its leaf hash
(`record_leaf_hash`); a record is any mapping of the leaf fields by their names.
"""

import functools
import json
import operator
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
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

# The leaf's members in RFC 8785's order: their names are ASCII, so UTF-16 order is this one.
MEMBERS = tuple(sorted(LEAF_FIELDS))
_leaf_values = operator.itemgetter(*MEMBERS)


def record_leaf_bytes(record: Mapping[str, Any]) -> bytes:
    """The canonical JSON of the record's leaf fields; other keys of ``record`` are ignored.

    seq is an integer; created_at an aware datetime, or the leaf's text of one (RFC 3339 in UTC
    with microseconds and a Z). ValueError for a record that lacks a field or holds a value RFC
    8785 cannot encode.
    """
    try:
        values = _leaf_values(record)
    except KeyError:
        missing = [name for name in LEAF_FIELDS if name not in record]
        raise ValueError(f"record lacks leaf fields: {', '.join(missing)}") from None
    leaf = dict(zip(MEMBERS, values, strict=True))
    leaf["seq"] = _seq(leaf["seq"])
    leaf["created_at"] = leaf_time(leaf["created_at"])
    # The names are ASCII: only the values need the look `_is_fast_form` gives a whole object
    # (a loop, not all() of a generator: this runs for every record an export or audit reads).
    for value in leaf.values():
        if type(value) is not str and value is not None and not _is_fast_form(value):
            return canonical_json(leaf)
    try:
        return _orjson(leaf)
    except orjson.JSONEncodeError:  # a lone surrogate
        return canonical_json(leaf)


def record_leaf_hash(record: Mapping[str, Any]) -> bytes:
    """The RFC 6962 leaf hash of the record's leaf bytes."""
    return leaf_hash(record_leaf_bytes(record))


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value: orjson's, with sorted keys, where it provably agrees.

    rfc8785 is the reference, but it is pure Python and runs at a small fraction of orjson's
    speed, which the write path and the verifier cannot afford. The two agree byte for byte on
    every value in `fast_form` (a differential test holds them to it); anything else goes to
    rfc8785, which also raises for what RFC 8785 cannot encode.
    """
    try:
        return _orjson(value if _is_fast_form(value) else _fast_form(value))
    except (_NeedsReference, orjson.JSONEncodeError):  # JSONEncodeError: a lone surrogate
        return rfc8785.dumps(value)


def stored_json(value: Any) -> str:
    """The JSON text to store a value as: its canonical text where that reads back as the same
    value; else the standard library's text, which keeps every float a float (canonically 5.0 is
    5, and 3.7e16 is an integer beyond what a leaf can carry)."""
    if _is_fast_form(value):
        try:
            return _orjson(value).decode()
        except orjson.JSONEncodeError:
            pass  # a lone surrogate: ingest refuses those, and the driver will too
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fast_form(value: Any) -> Any:
    """The value as orjson (with sorted keys) writes it the RFC 8785 way: whole floats as
    integers (RFC 8785 writes 5.0 as 5). ValueError where only rfc8785 writes it right:
    numbers outside the plain range, keys past U+FFFF."""
    try:
        return _fast_form(value)
    except _NeedsReference:
        raise ValueError("only the reference encoding writes this value") from None


def _orjson(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


class _NeedsReference(Exception):
    """A value orjson would not write as RFC 8785 does."""


# Between these, orjson and ECMAScript's Number.prototype.toString both write the shortest
# round-tripping digits without an exponent, so they are the same text.
_PLAIN_FLOAT_MIN = 1e-4
_PLAIN_FLOAT_MAX = 1e16
_EXACT_INTEGER_MAX = 2**53 - 1
# Integral doubles up to here have their exact digits as their shortest round-trip form.
_EXACT_FLOAT_INTEGER_MAX = 2.0**53


def _is_fast_form(value: Any) -> bool:
    """Whether `_fast_form` would return the value as it is: checking is cheaper than copying.

    Exact types only, strings first as the most common; a subclass of one goes the long way.
    """
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or _bmp_only(key)):
                return False
            if type(item) is not str and item is not None and not _is_fast_form(item):
                return False
        return True
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        exact: bool = -_EXACT_INTEGER_MAX <= value <= _EXACT_INTEGER_MAX
        return exact
    if kind is float:
        return not value.is_integer() and _PLAIN_FLOAT_MIN <= abs(value) < _PLAIN_FLOAT_MAX
    if kind is list:
        return all(map(_is_fast_form, value))
    return False


def _fast_form(value: Any) -> Any:
    """The value with integral floats as ints; _NeedsReference where orjson would differ."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if -_EXACT_INTEGER_MAX <= value <= _EXACT_INTEGER_MAX:
            return value
        raise _NeedsReference
    if isinstance(value, float):
        if value.is_integer():
            if abs(value) <= _EXACT_FLOAT_INTEGER_MAX:
                return int(value)  # ECMAScript writes 5.0 as 5 and -0.0 as 0
            raise _NeedsReference
        if _PLAIN_FLOAT_MIN <= abs(value) < _PLAIN_FLOAT_MAX:
            return value
        raise _NeedsReference
    if isinstance(value, dict):
        # Sorting by code point (orjson) and by UTF-16 unit (RFC 8785) differ only past U+FFFF.
        if not all(isinstance(key, str) and (key.isascii() or _bmp_only(key)) for key in value):
            raise _NeedsReference
        # Strings, the most common values by far, need no call to come back as they are.
        return {key: item if type(item) is str else _fast_form(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [item if type(item) is str else _fast_form(item) for item in value]
    raise _NeedsReference


def _bmp_only(text: str) -> bool:
    return text.isascii() or all(ord(char) <= 0xFFFF for char in text)


def _seq(value: object) -> int:
    # bool is an int to Python but would encode as true/false.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"seq must be an integer, got {type(value).__name__}")
    return value


def leaf_time(value: object) -> str:
    """RFC 3339 in UTC with microseconds, so one instant always encodes to one string."""
    if isinstance(value, str):
        return value
    if not isinstance(value, datetime):
        raise ValueError(f"created_at must be a datetime or a string, got {type(value).__name__}")
    if value.utcoffset() is None:
        raise ValueError("created_at must be timezone-aware")
    return _utc_text(value)


@functools.lru_cache(maxsize=1)
def _utc_text(value: datetime) -> str:
    """Remembers the last one: every record of a batch has the same created_at."""
    utc = value.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"

"""The leaf encoding of a record: RFC 8785 canonical JSON of a fixed set of its fields."""

import functools
import json
import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring
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

# The leaf's members in RFC 8785's order: their names are ASCII, so UTF-16 order is this one.
MEMBERS = tuple(sorted(LEAF_FIELDS))
_member_values = operator.itemgetter(*MEMBERS)
_SEQ = MEMBERS.index("seq")
_CREATED_AT = MEMBERS.index("created_at")
_TEMPLATE = "{" + ",".join(f'"{name}":%s' for name in MEMBERS) + "}"


def record_leaf_bytes(record: Mapping[str, object]) -> bytes:
    """The canonical JSON of the record's leaf fields; other keys of ``record`` are ignored."""
    try:
        values = list(_member_values(record))
    except KeyError:
        missing = [name for name in LEAF_FIELDS if name not in record]
        raise ValueError(f"record lacks leaf fields: {', '.join(missing)}") from None
    return stored_leaf_bytes(values)


def stored_leaf_bytes(values: list[Any]) -> bytes:
    """The leaf bytes from its members' values in MEMBERS order as a record holds them: seq an
    integer, created_at an aware datetime (or its text). Changes ``values``."""
    values[_SEQ] = _seq(values[_SEQ])
    values[_CREATED_AT] = _timestamp(values[_CREATED_AT])
    return member_leaf_bytes(values)


class JSONText(str):
    """A value's canonical JSON text that also reads back as the value itself (`stored_json`):
    a leaf takes it as it is."""

    __slots__ = ()


def stored_json(value: Any) -> str:
    """The JSON text to store a value as: a JSONText where its canonical text reads back as the
    same value, so the leaf reuses what storage encodes anyway; else the standard library's
    text, which keeps every float a float (canonically 5.0 is 5, and 3.7e16 is an integer
    beyond what a leaf can carry)."""
    text = _encode(value)
    return JSONText(text) if _is_fast_form(value) else text


def member_leaf_bytes(values: Sequence[Any]) -> bytes:
    """The leaf bytes from its members' values in MEMBERS order, created_at as its text.

    RFC 8785 writes an object as its members sorted by name, each as name, colon and the
    value's own canonical form. The leaf's names are fixed, ASCII and sorted in the template, so
    filling it with each value's canonical form is the canonical form of the whole, without
    building and sorting a dict: strings through the standard library's JSON string encoder
    (the same escapes as RFC 8785), other values through canonical_json's fast path. Where
    that path does not apply, or a lone surrogate fails the final UTF-8 encoding, the whole
    leaf goes through canonical_json, which also raises for what RFC 8785 cannot encode.
    """
    try:
        # A list comprehension, not a generator: a sixth of the cost.
        texts = tuple(
            [
                encode_basestring(value)
                if type(value) is str
                else "null"
                if value is None
                else value
                if type(value) is JSONText
                else _value_text(value)
                for value in values
            ]
        )
        return (_TEMPLATE % texts).encode()
    except (_NeedsReference, UnicodeEncodeError):
        leaf = {name: _json_value(value) for name, value in zip(MEMBERS, values, strict=True)}
        return canonical_json(leaf)


def _value_text(value: Any) -> str:
    if type(value) is int and -_EXACT_INTEGER_MAX <= value <= _EXACT_INTEGER_MAX:
        return str(value)  # the most common after strings and null: seq
    return _fast_text(value)


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value: the standard library's encoder where it provably agrees.

    rfc8785 is the reference, but it is pure Python and runs at about a quarter of the speed of
    json.dumps, which the verifier's 100,000 records/s cannot afford. The two agree byte for
    byte on every value `_fast_form` accepts (a differential test holds them to it); anything
    else goes to rfc8785, which also raises for what RFC 8785 cannot encode.
    """
    try:
        return _fast_text(value).encode()
    except (_NeedsReference, UnicodeEncodeError):
        return rfc8785.dumps(value)


def _fast_text(value: Any) -> str:
    """The standard library's JSON text of the value; _NeedsReference where it is not RFC 8785's."""
    return _encode(value if _is_fast_form(value) else _fast_form(value))


def _standard_encoder() -> Callable[[Any], str]:
    """json.dumps with sorted keys, no whitespace and raw UTF-8, as one C encoder made once.

    JSONEncoder.encode makes a new one on every call (and checks for circular references, which
    values parsed from JSON or read from a database cannot have): that was half the cost of
    encoding a record's params. Without the C accelerator, JSONEncoder does the same.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
    encoder = make(None, _not_json, encode_basestring, None, ":", ",", True, False, True)
    return lambda value: "".join(encoder(value, 0))


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


_encode = _standard_encoder()


class _NeedsReference(Exception):
    """A value json.dumps would not write as RFC 8785 does."""


# Between these, Python's repr and ECMAScript's Number.prototype.toString both write the
# shortest round-tripping digits without an exponent, so they are the same text.
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


def fast_form(value: Any) -> Any:
    """The value as the standard library's encoder writes it the RFC 8785 way: whole floats as
    integers (RFC 8785 writes 5.0 as 5). ValueError where only rfc8785 writes it right:
    numbers outside the plain range, keys past U+FFFF."""
    try:
        return _fast_form(value)
    except _NeedsReference:
        raise ValueError("only the reference encoding writes this value") from None


def _fast_form(value: Any) -> Any:
    """The value with integral floats as ints; _NeedsReference where json.dumps would differ."""
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
        # Python sorts keys by code point, RFC 8785 by UTF-16 unit: they differ only past U+FFFF.
        if not all(isinstance(key, str) and (key.isascii() or _bmp_only(key)) for key in value):
            raise _NeedsReference
        # Strings, the most common values by far, need no call to come back as they are.
        return {key: item if type(item) is str else _fast_form(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [item if type(item) is str else _fast_form(item) for item in value]
    raise _NeedsReference


def _json_value(value: Any) -> Any:
    return json.loads(value) if type(value) is JSONText else value


def _bmp_only(text: str) -> bool:
    return text.isascii() or all(ord(char) <= 0xFFFF for char in text)


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
    return _utc_text(value)


@functools.lru_cache(maxsize=1)
def _utc_text(value: datetime) -> str:
    """Remembers the last one: every record of a batch has the same created_at."""
    utc = value.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"

"""What a record may hold beyond its schema: JSON the log can canonicalise, within size and depth.

The leaf encoding is RFC 8785, which is defined over I-JSON: numbers must be finite and
integers exact in a double (|n| < 2**53), strings valid Unicode. PostgreSQL also refuses NUL
in text, and reads a float past 2**53 (always a whole number) back from jsonb as an integer
past 2**53, which RFC 8785 cannot encode. A record that broke any of these could be stored but
never hashed again, so it is refused here, with the path of the offending value. So is one whose
leaf would not fit a tlog-tiles entry bundle, which could never be served.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from audittrail.errors import FieldProblem, PayloadTooLarge, Unprocessable
from audittrail.log import append
from audittrail.schemas import text_problem

MAX_JSON_BYTES = 64 * 1024
MAX_DEPTH = 10
MAX_EXACT_INTEGER = 2**53 - 1


def check_text(field: str, value: str | None, *, location: str = "body") -> None:
    """422 for a string the log cannot store or hash: one with NUL or a lone surrogate."""
    problem = text_problem(value) if value is not None else None
    if problem is not None:
        _refuse_value(f"{location}.{field}", problem)


def check_json(field: str, value: dict[str, Any]) -> None:
    """422 past MAX_DEPTH levels or for values outside I-JSON; 413 past MAX_JSON_BYTES."""
    serialized = _plainly_fine(value)
    if serialized is None:
        _check_each_value(field, value)
        serialized = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    size = len(serialized)
    if size > MAX_JSON_BYTES:
        problem = FieldProblem(
            f"body.{field}", "TOO_LARGE", f"is {size} bytes; the limit is {MAX_JSON_BYTES}."
        )
        raise PayloadTooLarge(
            f"{field} is {size} bytes serialized; the limit is {MAX_JSON_BYTES}.", details=[problem]
        )


def check_leaf_size(record: append.NewRecord) -> None:
    """413 for a record whose leaf bytes could be over what a tlog-tiles entry bundle holds of
    one entry: its bundle could never be served (log/append.py)."""
    size = append.oversized_leaf(record)
    if size is not None:
        message = (
            f"The record takes {size} bytes as the log stores it (its leaf: canonical JSON of "
            f"its fields, params and metadata); the limit is {append.MAX_LEAF_BYTES}."
        )
        problem = FieldProblem("body", "RECORD_TOO_LARGE", message)
        raise PayloadTooLarge(message, code="RECORD_TOO_LARGE", details=[problem])


# json.dumps with any option builds a new encoder per call; this one is built once.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
# Sixteen digits in a row, or an exponent of 16 and up: where a number past 2**53 would show
# (smaller floats and plain text too, harmlessly).
_LONG_NUMBER = re.compile(r"[0-9]{16}|e\+")


def _plainly_fine(value: dict[str, Any]) -> bytes | None:
    """The value serialized, if its serialization alone shows it needs no walk; else None.

    Nearly every record's params qualify, and one encoding is far cheaper than visiting every
    value with its path. Each test errs only towards the walk: a NUL shows as \\u0000, a lone
    surrogate fails to encode, a non-finite float fails to serialize, a number past 2**53 shows
    as a long run of digits or a positive exponent, and fewer brackets than MAX_DEPTH cannot
    nest deeper.
    """
    try:
        text = _COMPACT.encode(value)
        serialized = text.encode()
    except ValueError:  # UnicodeEncodeError is one
        return None
    if "\\u0000" in text or _LONG_NUMBER.search(text):
        return None
    if text.count("{") + text.count("[") > MAX_DEPTH:
        return None
    return serialized


def _check_each_value(field: str, value: dict[str, Any]) -> None:
    """Every key and scalar by its path: 422 for the first the log cannot take, or past
    MAX_DEPTH."""
    deepest = 0
    stack: list[tuple[Any, int, str]] = [(value, 1, f"body.{field}")]
    while stack:
        node, level, path = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, level)
            for key, child in node.items():
                key_problem = text_problem(key)
                if key_problem is not None:
                    _refuse_value(path, f"has a key that {key_problem}")
                stack.append((child, level + 1, f"{path}.{key}"))
        elif isinstance(node, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1, f"{path}[{i}]") for i, child in enumerate(node))
        else:
            scalar_problem = _scalar_problem(node)
            if scalar_problem is not None:
                _refuse_value(path, scalar_problem)
    if deepest > MAX_DEPTH:
        problem = FieldProblem(
            f"body.{field}", "TOO_DEEP", f"nests deeper than {MAX_DEPTH} levels."
        )
        raise Unprocessable(
            f"{field} nests deeper than {MAX_DEPTH} levels.",
            code="JSON_TOO_DEEP",
            details=[problem],
        )


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int) and abs(value) > MAX_EXACT_INTEGER:
        return f"is an integer beyond ±{MAX_EXACT_INTEGER}; send it as a string."
    if isinstance(value, float) and not math.isfinite(value):
        return "is not a finite number."
    if isinstance(value, float) and abs(value) > MAX_EXACT_INTEGER:
        return f"is a number beyond ±{MAX_EXACT_INTEGER}; send it as a string."
    return None


def _refuse_value(path: str, message: str) -> None:
    problem = FieldProblem(path, "UNSUPPORTED_VALUE", message)
    raise Unprocessable(f"{path} {message}", code="UNSUPPORTED_VALUE", details=[problem])

"""Size and depth limits on the free-form JSON of a record (params and metadata)."""

from __future__ import annotations

import json
from typing import Any

from audittrail.errors import FieldProblem, PayloadTooLarge, Unprocessable

MAX_JSON_BYTES = 64 * 1024
MAX_DEPTH = 10


def check(field: str, value: dict[str, Any]) -> None:
    """Raise 422 past MAX_DEPTH levels of nesting, 413 past MAX_JSON_BYTES serialized."""
    if _depth(value) > MAX_DEPTH:
        problem = FieldProblem(
            f"body.{field}", "TOO_DEEP", f"nests deeper than {MAX_DEPTH} levels."
        )
        raise Unprocessable(
            f"{field} nests deeper than {MAX_DEPTH} levels.",
            code="JSON_TOO_DEEP",
            details=[problem],
        )
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_JSON_BYTES:
        problem = FieldProblem(
            f"body.{field}", "TOO_LARGE", f"is {size} bytes; the limit is {MAX_JSON_BYTES}."
        )
        raise PayloadTooLarge(
            f"{field} is {size} bytes serialized; the limit is {MAX_JSON_BYTES}.", details=[problem]
        )


def _depth(value: Any) -> int:
    """Levels of objects and arrays: {} is 1, {"a": {}} is 2. Iterative, so no recursion limit."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest

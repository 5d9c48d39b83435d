"""JSON bodies read strictly: an object that names a key twice is refused (422 DUPLICATE_KEY),
not read as its last value. Parsers differ on which one counts, so what another reader (a
proxy, a SIEM, the verifier) made of the body could be another request. Used by the intake
routes (records/bodies.py) and, through deps.json_bodies, by every FastAPI route with a body.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from audittrail.errors import BadRequest, FieldProblem, Unprocessable


class _DuplicateKey(Exception):
    """An object of the body names a key twice."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) < len(pairs):
        raise _DuplicateKey
    return found


class _Pairs(list[tuple[str, Any]]):
    """An object as its members in order, duplicates kept: read only to say where they are."""


# Built once: json.loads with a hook builds a decoder a call. With the hook, a body decodes
# as fast as json.loads decodes it (docs/NOTES.md, "Duplicate keys").
_DECODER = json.JSONDecoder(object_pairs_hook=_object)
_PAIRS_DECODER = json.JSONDecoder(object_pairs_hook=_Pairs)


def json_value(raw: bytes, where: str, path: str = "body") -> Any:
    """The JSON value of a body or of one line of it (at ``path``); 400 INVALID_JSON if it is
    none, 422 DUPLICATE_KEY if an object names a key twice: parsers differ on which one counts,
    so the record another reader made of it could be another record."""
    try:
        # What json.loads does with bytes, but through the decoder above.
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        try:
            return _DECODER.decode(text)
        except _DuplicateKey:
            raise _duplicates(_PAIRS_DECODER.decode(text), path) from None
    except ValueError:
        raise BadRequest(f"{where} is not valid JSON.", code="INVALID_JSON") from None
    except RecursionError:
        # Deeper than the parser's stack (about 1,000 levels), far past any record's 10: a
        # client's mistake, not a 500.
        raise BadRequest(f"{where} nests too deeply to parse.", code="INVALID_JSON") from None


MAX_DUPLICATES_NAMED = 100


def _duplicates(value: Any, path: str) -> Unprocessable:
    """422 naming the keys the objects of a value (read by _PAIRS_DECODER) repeat, the first
    MAX_DUPLICATES_NAMED of them in the order of the body."""
    stack: list[tuple[Any, str]] = [(value, path)]
    problems: list[FieldProblem] = []
    while stack and len(problems) < MAX_DUPLICATES_NAMED:
        value, where = stack.pop()
        if isinstance(value, _Pairs):
            counts = Counter(key for key, _ in value)
            problems += [
                FieldProblem(
                    f"{where}.{key}", "DUPLICATE_KEY", f"appears {count} times in its object."
                )
                for key, count in counts.items()
                if count > 1
            ]
            stack.extend((item, f"{where}.{key}") for key, item in reversed(value))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{i}]") for i, item in reversed(list(enumerate(value))))
    problems = problems[:MAX_DUPLICATES_NAMED]
    fields = ", ".join(dict.fromkeys(problem.field for problem in problems))
    return Unprocessable(
        f"A JSON object names a key more than once: {fields}.",
        code="DUPLICATE_KEY",
        details=problems,
    )

"""What a release promises to keep: its API, and every byte a record is stored and hashed as.
The files in tests/compat/ were written by release 0.1.0 (15820b6) itself; a change that makes
this fail breaks a client of that release or the log's format, which needs a new major version
(and, for the leaf, a migration of every verifier) rather than a new file here.

The API may grow (routes, optional fields, statuses); what 0.1.0 documented must stay. The one
deliberate exception, in 0.2.0: API keys carry scopes instead of roles (issue 12), so a key's
`roles` left its responses; creating a key with `roles` still works, mapped to their scopes."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from audittrail.app import create_app
from audittrail.config import Settings
from audittrail.integrity.canonical import (
    LEAF_FIELDS,
    canonical_json,
    record_leaf_bytes,
    stored_json,
)
from audittrail.log.append import AppendedRecord

RELEASED = Path(__file__).parent / "compat"


# (schema, property) that 0.1.0 answered and this release deliberately does not.
REMOVED = {("ApiKeyResponse", "roles"), ("ApiKeyCreated", "roles")}
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A schema and its component name, through a $ref (and a nullable anyOf around one)."""
    for option in schema.get("anyOf", []):
        if "$ref" in option:
            schema = option
    ref = schema.get("$ref", "")
    name = ref.rsplit("/", 1)[-1]
    return name, document["components"]["schemas"][name] if ref else schema


def _body_schema(document: dict[str, Any], part: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    content = part.get("content", {})
    media = content.get("application/json") or next(iter(content.values()), {})
    return _resolved(document, media.get("schema", {}))


def _promises(document: dict[str, Any]) -> set[tuple[str, ...]]:
    """What a client of this document may rely on, one line each: operations, parameters,
    request properties (and which are required), statuses and response properties."""
    promises: set[tuple[str, ...]] = set()
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            operation = item[method]
            where = (method.upper(), path)
            promises.add(("operation", *where))
            for parameter in operation.get("parameters", []):
                promises.add(("parameter", *where, parameter["in"], parameter["name"]))
            if "requestBody" in operation:
                name, schema = _body_schema(document, operation["requestBody"])
                for field in schema.get("properties", {}):
                    promises.add(("accepts", *where, field))
            for status, response in operation.get("responses", {}).items():
                promises.add(("status", *where, status))
                name, schema = _body_schema(document, response)
                for field in schema.get("properties", {}):
                    if (name, field) not in REMOVED:
                        promises.add(("answers", *where, status, field))
    return promises


def _requirements(document: dict[str, Any]) -> set[tuple[str, ...]]:
    """What a client must send: required parameters and request properties."""
    required: set[tuple[str, ...]] = set()
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            where = (method.upper(), path)
            for parameter in operation.get("parameters", []):
                if parameter.get("required"):
                    required.add(("parameter", *where, parameter["in"], parameter["name"]))
            if "requestBody" in operation:
                _, schema = _body_schema(document, operation["requestBody"])
                for field in schema.get("required", []):
                    required.add(("requires", *where, field))
    return required


def test_the_api_keeps_every_promise_of_the_released_one(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/unused.db", tune_gc=False))
    released = json.loads((RELEASED / "openapi-0.1.0.json").read_text())
    current = app.openapi()
    assert sorted(_promises(released) - _promises(current)) == []
    # Nothing a 0.1.0 client did not send is required now by an operation it knew.
    known = {promise[1:3] for promise in _promises(released) if promise[0] == "operation"}
    new = {need for need in _requirements(current) - _requirements(released) if need[1:3] in known}
    assert sorted(new) == []


CASES: list[dict[str, Any]] = json.loads((RELEASED / "leaves-0.1.0.json").read_text())


def _record(case: dict[str, Any]) -> dict[str, Any]:
    return {**case["record"], "created_at": datetime.fromisoformat(case["record"]["created_at"])}


@pytest.mark.parametrize("case", CASES, ids=[case["record"]["id"][-4:] for case in CASES])
def test_a_record_is_stored_and_hashed_as_released(case: dict[str, Any]) -> None:
    """Through the public leaf function, the way the log appends a record, and the canonical
    JSON a request is hashed as."""
    record = _record(case)
    leaf = base64.b64decode(case["leaf"])
    assert record_leaf_bytes(record) == leaf
    appended = AppendedRecord(**{name: record[name] for name in LEAF_FIELDS}, application=None)
    assert record_leaf_bytes(appended.leaf_fields()) == leaf
    assert stored_json(record["params"]) == case["stored_params"]
    assert stored_json(record["metadata"]) == case["stored_metadata"]
    # What an idempotency key's request hash is taken of (records/idempotency.py).
    assert canonical_json(record["params"]) == base64.b64decode(case["canonical_params"])

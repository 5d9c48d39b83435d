"""What a release promises to keep: the OpenAPI document, and every byte a record is stored and
hashed as. The files in tests/compat/ were written by release 0.1.0 (15820b6) itself; a change
that makes this fail changes the public API or the log's format, which needs a new version (and,
for the leaf, a migration of every verifier) rather than a new file here."""

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


def test_the_openapi_document_is_the_released_one(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/unused.db", tune_gc=False))
    document = json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"
    assert document == (RELEASED / "openapi-0.1.0.json").read_text()


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

"""Small helpers the tests share."""

from __future__ import annotations

import io
from typing import Any

import httpx
import structlog

RECORDS = "/api/audit-trail/records"
APPLICATIONS = "/api/audit-trail/applications"
# The seed's AuditParamApplicationResponse, in its order.
APPLICATION_FIELDS = [
    "id",
    "key",
    "name",
    "created_at",
    "updated_at",
    "description",
    "accent_color",
    "param_count",
]


async def record_total(client: httpx.AsyncClient, **filters: Any) -> int:
    response = await client.get(RECORDS, params={"page_size": 1, **filters})
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


async def create_application(
    client: httpx.AsyncClient, key: str = "billing", **fields: Any
) -> dict[str, Any]:
    response = await client.post(APPLICATIONS, json={"key": key, "name": key.title(), **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def post_record(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"event_type": "test.event", "summary": "A test record", **fields}
    response = await client.post(RECORDS, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def query_problem(parameter: str, message: str, code: str = "INVALID_QUERY_PARAMETER") -> Any:
    """The 422 body of a bad query parameter, as records/query.py's `invalid` answers it."""
    return {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": f"Invalid query parameter {parameter}: {message}",
            "details": [{"field": f"query.{parameter}", "code": code, "message": message}],
        }
    }


def logged_into(buffer: io.StringIO) -> Any:
    """A logger that renders as logs.py configured structlog last, into the buffer: patched in
    for a module's `log`, since structlog keeps each module's logger once it is first used (so
    capturing stderr would depend on which test came first)."""
    config = structlog.get_config()
    return structlog.wrap_logger(
        structlog.PrintLogger(buffer),
        processors=config["processors"],
        wrapper_class=config["wrapper_class"],
    )

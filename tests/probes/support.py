"""Helpers of the probes: the error envelope, and what the service holds before and after."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.helpers import APPLICATIONS, record_total

LOG_HEAD = "/api/audit-trail/log/head"
API_KEYS = "/api/api-keys"
USERS = "/api/users"


def error(code: str, message: str, details: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The error envelope, with `details` only where there are some (errors.AppError.body)."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body}


def problem(field: str, code: str, message: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def invalid(*problems: dict[str, str]) -> dict[str, Any]:
    """The 422 of a request FastAPI's validation refused (errors.request_validation_error)."""
    fields = ", ".join(dict.fromkeys(p["field"] for p in problems))
    return error("VALIDATION_ERROR", f"Invalid request: {fields}.", list(problems))


def assert_answer(response: httpx.Response, status: int, body: dict[str, Any]) -> None:
    assert (response.status_code, response.json()) == (status, body), response.text


async def total(client: httpx.AsyncClient, path: str) -> int:
    response = await client.get(path, params={"page_size": 1})
    assert response.status_code == 200, response.text
    count: int = response.json()["total"]
    return count


@dataclass(frozen=True)
class Holdings:
    """What a refused request must leave as it was: the log (every change appends a system
    record), the records listed, and the applications, API keys and users."""

    log_size: int
    records: int
    applications: int
    api_keys: int
    users: int


async def holdings(client: httpx.AsyncClient) -> Holdings:
    head = await client.get(LOG_HEAD)
    assert head.status_code == 200, head.text
    return Holdings(
        log_size=head.json()["tree_size"],
        records=await record_total(client),
        applications=await total(client, APPLICATIONS),
        api_keys=await total(client, API_KEYS),
        users=await total(client, USERS),
    )

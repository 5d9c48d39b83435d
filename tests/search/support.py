"""What the search tests share: posting named records, and reading back which of them a query
finds (by name; any other record by its event type, so that a system record found shows)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import make_client
from tests.helpers import RECORDS

Record = dict[str, Any]
API_KEYS = "/api/api-keys"
NUL_IN_URL = {
    "error": {"code": "INVALID_CHARACTER", "message": "The URL contains a NUL character."}
}


class Posted:
    """Records posted under names: the ids by name, and names by id."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.records: dict[str, Record] = {}

    async def post(self, client: httpx.AsyncClient, name: str, **fields: Any) -> Record:
        # The defaults' words (sample, noted) are searched for by no test.
        body = {"event_type": "sample.noted", "summary": "Noted", **fields}
        response = await client.post(RECORDS, json=body)
        assert response.status_code == 201, response.text
        record: Record = response.json()
        self.ids[name] = record["id"]
        self.records[name] = record
        return record

    async def post_all(
        self, client: httpx.AsyncClient, records: Mapping[str, Mapping[str, Any]]
    ) -> None:
        for name, fields in records.items():
            await self.post(client, name, **fields)

    def name(self, record: Record) -> str:
        by_id = {record_id: name for name, record_id in self.ids.items()}
        return by_id.get(record["id"], str(record["event_type"]))

    def names(self, records: list[Record]) -> list[str]:
        return [self.name(record) for record in records]


async def listing(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(RECORDS, params={"page_size": 200, **params})
    assert response.status_code == 200, (params, response.text)
    body: dict[str, Any] = response.json()
    return body


async def found(client: httpx.AsyncClient, posted: Posted, **params: Any) -> set[str]:
    """The names of the records the query finds (all of them: one page), checked against its
    total."""
    body = await listing(client, **params)
    assert body["total"] == len(body["records"]), params
    listed = ids(body["records"])
    assert len(set(listed)) == len(listed), params  # no record twice
    return set(posted.names(body["records"]))


def ids(records: list[Record]) -> list[str]:
    return [record["id"] for record in records]


def query_error(parameter: str, message: str, code: str = "INVALID_QUERY_PARAMETER") -> Any:
    """The exact body of one of the record list's own query-parameter errors."""
    return {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": f"Invalid query parameter {parameter}: {message}",
            "details": [{"field": f"query.{parameter}", "code": code, "message": message}],
        }
    }


async def key_client(
    app: FastAPI,
    admin: httpx.AsyncClient,
    name: str,
    scopes: list[str],
    applications: list[str] | None = None,
) -> httpx.AsyncClient:
    """A client with a new API key of these scopes (bound to these applications, if given)."""
    body: dict[str, Any] = {"name": name, "scopes": scopes}
    if applications is not None:
        body["applications"] = applications
    response = await admin.post(API_KEYS, json=body)
    assert response.status_code == 201, response.text
    return make_client(app, {"X-API-Key": response.json()["key"]})


async def writer_client(app: FastAPI, admin: httpx.AsyncClient, name: str) -> httpx.AsyncClient:
    """A client whose records carry the actor api_key:<name>."""
    response = await admin.post(API_KEYS, json={"name": name, "roles": ["writer"]})
    assert response.status_code == 201, response.text
    return make_client(app, {"Authorization": f"Bearer {response.json()['key']}"})

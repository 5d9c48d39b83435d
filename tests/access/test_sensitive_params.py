"""Params registered as sensitive: their values reach admins, and holders of log:read through
the log's own entries (the bytes that are hashed); every other reader sees them masked."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import make_client
from tests.helpers import APPLICATIONS, RECORDS, create_application, post_record

ENTRIES = "/api/audit-trail/log/entries"


async def key_client(
    app: FastAPI, admin: httpx.AsyncClient, scopes: list[str]
) -> httpx.AsyncClient:
    response = await admin.post("/api/api-keys", json={"name": "-".join(scopes), "scopes": scopes})
    assert response.status_code == 201, response.text
    return make_client(app, {"X-API-Key": response.json()["key"]})


@pytest.fixture
async def secret_record(client: httpx.AsyncClient) -> str:
    await create_application(
        client,
        "billing",
        params=[
            {"key": "iban", "label": "IBAN", "type": "string", "sensitive": True},
            {"key": "amount", "label": "Amount", "type": "number"},
        ],
    )
    created = await post_record(
        client,
        application_key="billing",
        params={"iban": "DE89370400440532013000", "amount": 12.5, "note": "unregistered"},
    )
    # The creator's own answer carries what it sent.
    assert created["params"]["iban"] == "DE89370400440532013000"
    record_id: str = created["id"]
    return record_id


MASKED = {"iban": "[masked]", "amount": 12.5, "note": "unregistered"}
PLAIN = {"iban": "DE89370400440532013000", "amount": 12.5, "note": "unregistered"}


@pytest.mark.parametrize(
    "scopes", [["records:read"], ["records:read", "log:read", "export", "stats:read"]]
)
async def test_readers_and_auditors_see_sensitive_values_masked(
    app: FastAPI, client: httpx.AsyncClient, secret_record: str, scopes: list[str]
) -> None:
    reader = await key_client(app, client, scopes)
    listed = (await reader.get(RECORDS, params={"application_key": "billing"})).json()
    assert [r["params"] for r in listed["records"]] == [MASKED]
    assert (await reader.get(f"{RECORDS}/{secret_record}")).json()["params"] == MASKED


async def test_admins_see_sensitive_values(client: httpx.AsyncClient, secret_record: str) -> None:
    listed = (await client.get(RECORDS, params={"application_key": "billing"})).json()
    assert [r["params"] for r in listed["records"]] == [PLAIN]
    assert (await client.get(f"{RECORDS}/{secret_record}")).json()["params"] == PLAIN


async def test_the_log_entries_are_the_hashed_bytes_for_log_readers_only(
    app: FastAPI, client: httpx.AsyncClient, secret_record: str
) -> None:
    auditor = await key_client(app, client, ["log:read"])
    response = await auditor.get(ENTRIES)
    assert response.status_code == 200, response.text
    entries = [json.loads(line) for line in response.text.splitlines()]
    assert [e["params"] for e in entries if e["id"] == secret_record] == [PLAIN]
    reader = await key_client(app, client, ["records:read"])
    refused = await reader.get(ENTRIES)
    assert refused.status_code == 403
    assert refused.json() == {
        "error": {"code": "FORBIDDEN", "message": "This needs the scope log:read."}
    }


async def test_masking_follows_the_definition_as_it_is_now(
    app: FastAPI, client: httpx.AsyncClient, secret_record: str
) -> None:
    """Marking a param sensitive later masks the values recorded before."""
    reader = await key_client(app, client, ["records:read"])
    changed = await client.patch(f"{APPLICATIONS}/billing/params/amount", json={"sensitive": True})
    assert changed.status_code == 200, changed.text
    params = (await reader.get(f"{RECORDS}/{secret_record}")).json()["params"]
    assert params == {**MASKED, "amount": "[masked]"}


@pytest.mark.parametrize(
    "params",
    [
        {"application_key": "billing"},
        {},
    ],
    ids=["within the application", "across applications"],
)
async def test_readers_cannot_filter_by_a_sensitive_param(
    app: FastAPI, client: httpx.AsyncClient, secret_record: str, params: dict[str, str]
) -> None:
    """Else "contains 'DE89'", then "contains 'DE893'", ... would spell the masked value out."""
    reader = await key_client(app, client, ["records:read"])
    for operator, value in (
        ("contains", "DE89"),
        ("eq", "DE89370400440532013000"),
        ("exists", True),
    ):
        response = await reader.get(
            RECORDS,
            params={
                **params,
                "param_filters": json.dumps(
                    [{"key": "iban", "operator": operator, "value": value}]
                ),
            },
        )
        assert response.status_code == 403
        assert response.json() == {
            "error": {
                "code": "SENSITIVE_PARAM",
                "message": "Only an admin may filter by a sensitive param: iban.",
            }
        }
    # Other params filter as ever; admins filter by any.
    amount = json.dumps([{"key": "amount", "operator": "gt", "value": 10}])
    allowed = await reader.get(RECORDS, params={**params, "param_filters": amount})
    assert allowed.json()["total"] == 1
    iban = json.dumps([{"key": "iban", "operator": "contains", "value": "DE89"}])
    assert (await client.get(RECORDS, params={**params, "param_filters": iban})).json()[
        "total"
    ] == 1


async def test_only_admins_unmask_a_sensitive_param(
    app: FastAPI, client: httpx.AsyncClient, secret_record: str
) -> None:
    """Else a key with applications:write could clear the flag, or delete the definition, and
    read the values back."""
    registrar = await key_client(app, client, ["applications:write", "records:read"])
    refused = {
        "error": {
            "code": "SENSITIVE_PARAM",
            "message": "Param iban is sensitive: only an admin may make it not sensitive or "
            "delete it.",
        }
    }
    stored = (await client.get("/api/audit-trail/log/head")).json()["tree_size"]
    unmark = await registrar.patch(f"{APPLICATIONS}/billing/params/iban", json={"sensitive": False})
    assert (unmark.status_code, unmark.json()) == (403, refused)
    delete = await registrar.delete(f"{APPLICATIONS}/billing/params/iban")
    assert (delete.status_code, delete.json()) == (403, refused)
    assert (await client.get("/api/audit-trail/log/head")).json()["tree_size"] == stored
    params = (await registrar.get(f"{RECORDS}/{secret_record}")).json()["params"]
    assert params == MASKED
    # Its other changes, and an admin's unmasking, go through.
    relabel = await registrar.patch(
        f"{APPLICATIONS}/billing/params/iban", json={"label": "Account"}
    )
    assert relabel.status_code == 200, relabel.text
    unmasked = await client.patch(f"{APPLICATIONS}/billing/params/iban", json={"sensitive": False})
    assert unmasked.status_code == 200, unmasked.text
    assert (await registrar.get(f"{RECORDS}/{secret_record}")).json()["params"] == PLAIN

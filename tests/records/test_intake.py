"""What a process keeps of keys and applications never lets a record through that another
process's change has made invalid, nor refuses one that such a change has made valid.

Two app instances on one database stand for two server processes: each keeps its own copy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audittrail.app import create_app
from audittrail.config import Settings
from tests.auth.conftest import API_KEYS, assert_unauthenticated
from tests.conftest import ADMIN_KEY, make_client
from tests.helpers import APPLICATIONS, RECORDS, create_application, record_total


@pytest.fixture
async def other_process(settings: Settings, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A second server on the same database, as the admin; started after the first."""
    other = create_app(settings)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with other.router.lifespan_context(other), make_client(other, headers) as client:
        yield client


async def _writer_key(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post(API_KEYS, json={"name": "ingest", "roles": ["writer"]})
    assert response.status_code == 201, response.text
    key: dict[str, Any] = response.json()
    return key


def _record(**fields: Any) -> dict[str, Any]:
    return {"event_type": "invoice.paid", "summary": "Invoice paid", **fields}


async def test_a_key_revoked_through_another_process_is_refused_at_once(
    app: FastAPI, client: httpx.AsyncClient, other_process: httpx.AsyncClient
) -> None:
    key = await _writer_key(client)
    async with make_client(app, {"X-API-Key": key["key"]}) as writer:
        assert (await writer.post(RECORDS, json=_record())).status_code == 201
        assert (await other_process.delete(f"{API_KEYS}/{key['id']}")).status_code == 200
        stored = await record_total(client)
        for path, body in ((RECORDS, _record()), (f"{RECORDS}/batch", [_record()])):
            assert_unauthenticated(await writer.post(path, json=body))
        assert await record_total(client) == stored


async def test_an_application_archived_through_another_process_takes_no_record(
    client: httpx.AsyncClient, other_process: httpx.AsyncClient
) -> None:
    await create_application(client, "billing")
    assert (await client.post(RECORDS, json=_record(application_key="billing"))).status_code == 201
    archived = await other_process.patch(f"{APPLICATIONS}/billing", json={"archived": True})
    assert archived.status_code == 200, archived.text
    stored = await record_total(client)
    response = await client.post(RECORDS, json=_record(application_key="billing"))
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "APPLICATION_ARCHIVED",
            "message": "Application billing is archived and takes no new records.",
            "details": [
                {
                    "field": "body.application_key",
                    "code": "APPLICATION_ARCHIVED",
                    "message": "application billing is archived.",
                }
            ],
        }
    }
    assert await record_total(client) == stored


async def test_a_param_required_through_another_process_applies_at_once(
    client: httpx.AsyncClient, other_process: httpx.AsyncClient
) -> None:
    await create_application(client, "billing")
    assert (await client.post(RECORDS, json=_record(application_key="billing"))).status_code == 201
    param = {"key": "amount", "type": "number", "required": True}
    created = await other_process.post(f"{APPLICATIONS}/billing/params", json=param)
    assert created.status_code == 201, created.text
    stored = await record_total(client)
    response = await client.post(f"{RECORDS}/batch", json=[_record(application_key="billing")])
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "BATCH_VALIDATION_FAILED"
    assert response.json()["error"]["details"][0]["field"].startswith("body[0].params")
    assert await record_total(client) == stored
    fits = _record(application_key="billing", params={"amount": 12.5})
    assert (await client.post(RECORDS, json=fits)).status_code == 201


async def test_an_application_created_through_another_process_is_known_at_once(
    client: httpx.AsyncClient, other_process: httpx.AsyncClient
) -> None:
    unknown = await client.post(RECORDS, json=_record(application_key="shipping"))
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "APPLICATION_NOT_FOUND"
    await create_application(other_process, "shipping")
    response = await client.post(RECORDS, json=_record(application_key="shipping"))
    assert response.status_code == 201, response.text
    assert response.json()["application_key"] == "shipping"
    assert response.json()["application"]["key"] == "shipping"


async def test_a_key_created_through_another_process_works_at_once(
    app: FastAPI, other_process: httpx.AsyncClient
) -> None:
    key = await _writer_key(other_process)
    async with make_client(app, {"Authorization": f"Bearer {key['key']}"}) as writer:
        response = await writer.post(RECORDS, json=_record())
    assert response.status_code == 201, response.text
    assert response.json()["actor"] == "api_key:ingest"


async def test_an_application_renamed_through_another_process_shows_its_new_name(
    client: httpx.AsyncClient, other_process: httpx.AsyncClient
) -> None:
    await create_application(client, "billing")
    assert (await client.post(RECORDS, json=_record(application_key="billing"))).status_code == 201
    renamed = await other_process.patch(f"{APPLICATIONS}/billing", json={"name": "Invoicing"})
    assert renamed.status_code == 200, renamed.text
    response = await client.post(RECORDS, json=_record(application_key="billing"))
    assert response.status_code == 201
    assert response.json()["application"]["name"] == "Invoicing"

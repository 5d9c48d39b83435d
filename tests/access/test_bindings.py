"""API keys bound to applications: they write only their applications' records, read only
those, and learn nothing of the others (404, as for a record that does not exist)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import make_client
from tests.helpers import APPLICATIONS, RECORDS, create_application, post_record, record_total

API_KEYS = "/api/api-keys"
NOT_ALLOWED = {
    "error": {
        "code": "APPLICATION_NOT_ALLOWED",
        "message": "This API key is bound to applications: its records must name one of them.",
    }
}


@pytest.fixture
async def bound(app: FastAPI, client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A key bound to billing, that writes and reads records; shop exists beside it."""
    await create_application(client, "billing")
    await create_application(client, "shop")
    response = await client.post(
        API_KEYS,
        json={
            "name": "billing-service",
            "scopes": ["records:write", "records:read", "applications:read"],
            "applications": ["billing"],
        },
    )
    assert response.status_code == 201, response.text
    return make_client(app, {"X-API-Key": response.json()["key"]})


def record(**fields: Any) -> dict[str, Any]:
    return {"event_type": "invoice.paid", "summary": "Invoice paid", **fields}


async def test_a_bound_key_shows_its_binding(
    client: httpx.AsyncClient, bound: httpx.AsyncClient
) -> None:
    billing = (await client.get(f"{APPLICATIONS}/billing")).json()
    keys = (await client.get(API_KEYS)).json()["api_keys"]
    made = next(key for key in keys if key["name"] == "billing-service")
    assert made["applications"] == [{"id": billing["id"], "key": "billing"}]
    assert made["scopes"] == ["records:write", "records:read", "applications:read"]
    me = (await bound.get("/api/auth/me")).json()
    assert me["applications"] == [billing["id"]]
    assert me["roles"] == []


async def test_a_bound_key_writes_records_of_its_application(
    client: httpx.AsyncClient, bound: httpx.AsyncClient
) -> None:
    by_key = await bound.post(RECORDS, json=record(application_key="billing"))
    assert by_key.status_code == 201, by_key.text
    billing_id = by_key.json()["application_id"]
    by_id = await bound.post(RECORDS, json=record(application_id=billing_id))
    assert by_id.status_code == 201, by_id.text
    batch = await bound.post(f"{RECORDS}/batch", json=[record(application_key="billing")] * 3)
    assert batch.status_code == 201, batch.text
    assert await record_total(client, application_key="billing") == 5


@pytest.mark.parametrize(
    "fields",
    [
        {"application_key": "shop"},
        {},
        {"application_key": "nosuchapp"},
        {"application_id": "00000000-0000-0000-0000-000000000000"},
    ],
    ids=["another application", "no application", "an unknown key", "an unknown id"],
)
async def test_a_bound_key_cannot_write_records_of_others_or_none(
    client: httpx.AsyncClient, bound: httpx.AsyncClient, fields: dict[str, Any]
) -> None:
    before = await record_total(client)
    response = await bound.post(RECORDS, json=record(**fields))
    assert response.status_code == 403
    assert response.json() == NOT_ALLOWED
    assert await record_total(client) == before


async def test_a_bound_key_cannot_name_its_application_and_another(
    client: httpx.AsyncClient, bound: httpx.AsyncClient
) -> None:
    shop = (await client.get(f"{APPLICATIONS}/shop")).json()
    response = await bound.post(
        RECORDS, json=record(application_key="billing", application_id=shop["id"])
    )
    assert (response.status_code, response.json()) == (403, NOT_ALLOWED)


async def test_a_batch_with_one_record_of_another_application_is_refused_whole(
    client: httpx.AsyncClient, bound: httpx.AsyncClient
) -> None:
    before = await record_total(client)
    items = [record(application_key="billing"), record(application_key="shop"), record()]
    response = await bound.post(f"{RECORDS}/batch", json=items)
    assert response.status_code == 403
    message = NOT_ALLOWED["error"]["message"]
    assert response.json() == {
        "error": {
            "code": "APPLICATION_NOT_ALLOWED",
            "message": "2 of 3 records name applications this API key is not bound to; "
            "nothing was stored.",
            "details": [
                {"field": "body[1]", "code": "APPLICATION_NOT_ALLOWED", "message": message},
                {"field": "body[2]", "code": "APPLICATION_NOT_ALLOWED", "message": message},
            ],
        }
    }
    assert await record_total(client) == before


async def test_a_bound_key_reads_only_its_applications_records(
    client: httpx.AsyncClient, bound: httpx.AsyncClient
) -> None:
    mine = await post_record(client, **record(application_key="billing"))
    theirs = await post_record(client, **record(application_key="shop"))
    unowned = await post_record(client, **record())
    listed = (await bound.get(RECORDS, params={"page_size": 100})).json()
    assert [r["id"] for r in listed["records"]] == [mine["id"]]
    assert listed["total"] == 1
    # Asking for another application's records by name finds none, rather than a 403 that
    # would confirm the application exists.
    assert (await bound.get(RECORDS, params={"application_key": "shop"})).json()["total"] == 0
    assert (await bound.get(f"{RECORDS}/{mine['id']}")).status_code == 200
    for other in (theirs, unowned):
        response = await bound.get(f"{RECORDS}/{other['id']}")
        assert response.status_code == 404
        assert response.json() == {
            "error": {"code": "RECORD_NOT_FOUND", "message": f"No record {other['id']}."}
        }
        proof = await bound.get(f"{RECORDS}/{other['id']}/proof")
        assert (proof.status_code, proof.json()) == (404, response.json())


async def test_a_bound_key_sees_only_its_applications(
    client: httpx.AsyncClient, bound: httpx.AsyncClient
) -> None:
    listed = (await bound.get(APPLICATIONS)).json()
    assert [a["key"] for a in listed["applications"]] == ["billing"]
    assert listed["total"] == 1
    for path in (f"{APPLICATIONS}/shop", f"{APPLICATIONS}/shop/params"):
        response = await bound.get(path)
        assert response.status_code == 404
        assert response.json() == {
            "error": {"code": "APPLICATION_NOT_FOUND", "message": "No application shop."}
        }


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (
            {"scopes": ["records:write", "admin"], "applications": ["billing"]},
            422,
            {
                "code": "SCOPE_NOT_BINDABLE",
                "message": "A key bound to applications cannot hold admin.",
                "details": [
                    {
                        "field": "body.scopes",
                        "code": "SCOPE_NOT_BINDABLE",
                        "message": "admin reach beyond applications.",
                    }
                ],
            },
        ),
        (
            {"scopes": ["log:read", "applications:write"], "applications": ["billing"]},
            422,
            {
                "code": "SCOPE_NOT_BINDABLE",
                "message": "A key bound to applications cannot hold applications:write, log:read.",
                "details": [
                    {
                        "field": "body.scopes",
                        "code": "SCOPE_NOT_BINDABLE",
                        "message": "applications:write, log:read reach beyond applications.",
                    }
                ],
            },
        ),
        (
            {"applications": ["billing", "nope"]},
            422,
            {
                "code": "APPLICATION_NOT_FOUND",
                "message": "applications names an unregistered application.",
                "details": [
                    {
                        "field": "body.applications.1",
                        "code": "APPLICATION_NOT_FOUND",
                        "message": "no application nope.",
                    }
                ],
            },
        ),
        (
            {"scopes": ["records:read"], "roles": ["reader"]},
            422,
            {
                "code": "SCOPES_AND_ROLES",
                "message": "Give scopes or roles, not both.",
                "details": [
                    {
                        "field": "body.roles",
                        "code": "SCOPES_AND_ROLES",
                        "message": "give scopes or roles, not both.",
                    }
                ],
            },
        ),
        (
            {"applications": ["bill\u0000ing"]},
            422,
            {
                "code": "VALIDATION_ERROR",
                "message": "Invalid request: body.applications.0.",
                "details": [
                    {
                        "field": "body.applications.0",
                        "code": "UNSUPPORTED_VALUE",
                        "message": "contains a NUL character.",
                    }
                ],
            },
        ),
    ],
    ids=[
        "admin scope",
        "log and applications:write",
        "unknown application",
        "scopes and roles",
        "a NUL",
    ],
)
async def test_keys_that_cannot_be_made_are_refused(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    status: int,
    error: dict[str, Any],
) -> None:
    await create_application(client, "billing")
    before = (await client.get(API_KEYS)).json()["total"]
    response = await client.post(API_KEYS, json={"name": "refused", **body})
    assert response.status_code == status
    assert response.json() == {"error": error}
    assert (await client.get(API_KEYS)).json()["total"] == before


@pytest.mark.parametrize(
    ("roles", "scopes"),
    [
        (None, ["records:write", "applications:read"]),
        (["writer"], ["records:write", "applications:read"]),
        (["reader"], ["records:read", "stats:read", "applications:read"]),
        (["auditor"], ["records:read", "stats:read", "export", "log:read"]),
        (
            ["reader", "writer"],
            ["records:write", "records:read", "stats:read", "applications:read"],
        ),
    ],
)
async def test_roles_given_for_a_key_become_their_scopes(
    client: httpx.AsyncClient, roles: list[str] | None, scopes: list[str]
) -> None:
    body: dict[str, Any] = (
        {"name": "by-role"} if roles is None else {"name": "by-role", "roles": roles}
    )
    response = await client.post(API_KEYS, json=body)
    assert response.status_code == 201, response.text
    assert response.json()["scopes"] == scopes
    assert response.json()["applications"] is None


async def test_a_bound_key_learns_nothing_of_another_applications_params(
    client: httpx.AsyncClient, bound: httpx.AsyncClient
) -> None:
    """A filter that does not fit a param's registered type is a 422 within one's own
    application; naming another's, it is what a made-up application gets: no records."""
    await client.post(
        f"{APPLICATIONS}/shop/params", json={"key": "amount", "label": "Amount", "type": "integer"}
    )
    await post_record(client, **record(application_key="shop", params={"amount": 12}))
    filters = '[{"key": "amount", "operator": "contains", "value": "1"}]'
    for application in ("shop", "madeup"):
        response = await bound.get(
            RECORDS, params={"application_key": application, "param_filters": filters}
        )
        assert response.status_code == 200, response.text
        assert response.json()["total"] == 0

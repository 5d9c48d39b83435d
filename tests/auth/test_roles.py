"""Roles: readers read, writers write, only admins manage users, keys and applications."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.auth.conftest import (
    ADMIN_ONLY,
    API_KEYS,
    ME,
    USERS,
    CreateKey,
    CreateUser,
    LogIn,
)
from tests.helpers import APPLICATIONS, RECORDS, create_application, post_record, record_total

NEEDS_WRITER = {"error": {"code": "FORBIDDEN", "message": "This needs the scope records:write."}}
NEEDS_READER = {"error": {"code": "FORBIDDEN", "message": "This needs the scope records:read."}}

# (principal, how it authenticates): keys and users alike, each way in.
PRINCIPALS = [
    ("reader", "api key"),
    ("reader", "access token"),
    ("writer", "api key"),
    ("writer", "session cookie"),
]


async def headers_for(
    role: str, way: str, create_key: CreateKey, create_user: CreateUser, log_in: LogIn
) -> dict[str, str]:
    if way == "api key":
        key = await create_key(f"{role}-key", [role])
        return {"X-API-Key": key["key"]}
    email, password = f"{role}@example.com", f"{role} password 123"
    await create_user(email, password, [role])
    login = await log_in(email, password)
    return login.bearer if way == "access token" else login.cookie_header


@pytest.fixture
async def as_role(
    request: pytest.FixtureRequest, create_key: CreateKey, create_user: CreateUser, log_in: LogIn
) -> dict[str, str]:
    role, way = request.param
    return await headers_for(role, way, create_key, create_user, log_in)


@pytest.mark.parametrize(
    "as_role", [p for p in PRINCIPALS if p[0] == "reader"], indirect=True, ids=str
)
async def test_a_reader_reads_but_does_not_write(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, as_role: dict[str, str]
) -> None:
    record = await post_record(client)
    stored = await record_total(client)
    response = await anonymous.post(
        RECORDS, json={"event_type": "x", "summary": "y"}, headers=as_role
    )
    assert response.status_code == 403
    assert response.json() == NEEDS_WRITER
    assert "www-authenticate" not in response.headers
    assert await record_total(client) == stored

    listed = await anonymous.get(RECORDS, headers=as_role)
    assert listed.status_code == 200
    assert record["id"] in [r["id"] for r in listed.json()["records"]]
    assert (await anonymous.get(f"{RECORDS}/{record['id']}", headers=as_role)).status_code == 200
    assert (await anonymous.get(APPLICATIONS, headers=as_role)).status_code == 200
    me = (await anonymous.get(ME, headers=as_role)).json()
    assert me["scopes"] == ["applications:read", "records:read", "stats:read"]


@pytest.mark.parametrize(
    "as_role", [p for p in PRINCIPALS if p[0] == "writer"], indirect=True, ids=str
)
async def test_a_writer_writes_but_does_not_read_records(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, as_role: dict[str, str]
) -> None:
    await create_application(client, "billing")
    response = await anonymous.post(
        RECORDS,
        json={"event_type": "x", "summary": "y", "application_key": "billing"},
        headers=as_role,
    )
    assert response.status_code == 201, response.text

    listed = await anonymous.get(RECORDS, headers=as_role)
    assert listed.status_code == 403
    assert listed.json() == NEEDS_READER
    one = await anonymous.get(f"{RECORDS}/{response.json()['id']}", headers=as_role)
    assert one.status_code == 403
    assert one.json() == NEEDS_READER
    # Writers look applications up, to learn their params.
    assert (await anonymous.get(APPLICATIONS, headers=as_role)).status_code == 200
    assert (await anonymous.get(f"{APPLICATIONS}/billing", headers=as_role)).status_code == 200


async def test_a_user_with_both_roles_reads_and_writes(
    anonymous: httpx.AsyncClient, create_user: CreateUser, log_in: LogIn
) -> None:
    await create_user("both@example.com", "both roles password", ["reader", "writer"])
    headers = (await log_in("both@example.com", "both roles password")).bearer
    created = await anonymous.post(
        RECORDS, json={"event_type": "x", "summary": "y"}, headers=headers
    )
    assert created.status_code == 201
    assert (await anonymous.get(RECORDS, headers=headers)).status_code == 200


NEEDS_APPLICATIONS_WRITE = {
    "error": {"code": "FORBIDDEN", "message": "This needs the scope applications:write."}
}
ADMIN_ONLY_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", USERS, {"email": "new@example.com", "password": "long password", "roles": ["admin"]}),
    ("GET", USERS, None),
    ("GET", f"{USERS}/{{user_id}}", None),
    ("PATCH", f"{USERS}/{{user_id}}", {"roles": ["admin"]}),
    ("POST", API_KEYS, {"name": "escalated", "roles": ["admin"]}),
    ("GET", API_KEYS, None),
    ("GET", f"{API_KEYS}/{{key_id}}", None),
    ("DELETE", f"{API_KEYS}/{{key_id}}", None),
    ("POST", APPLICATIONS, {"key": "payroll", "name": "Payroll"}),
    ("PATCH", f"{APPLICATIONS}/billing", {"name": "Renamed"}),
    ("DELETE", f"{APPLICATIONS}/billing", None),
    ("POST", f"{APPLICATIONS}/billing/params", {"key": "amount", "type": "number"}),
]


async def snapshot(client: httpx.AsyncClient) -> list[Any]:
    """Everything an admin-only call could change."""
    paths = [USERS, API_KEYS, APPLICATIONS, f"{APPLICATIONS}/billing/params", RECORDS]
    return [(await client.get(path, params={"page_size": 200})).json() for path in paths]


@pytest.mark.parametrize("as_role", PRINCIPALS, indirect=True, ids=str)
async def test_only_admins_manage_users_keys_and_applications(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, as_role: dict[str, str]
) -> None:
    await create_application(client, "billing")
    ids = {
        "user_id": (await client.get(USERS)).json()["users"][0]["id"],
        "key_id": (await client.get(API_KEYS)).json()["api_keys"][0]["id"],
    }
    before = await snapshot(client)
    for method, path, body in ADMIN_ONLY_CALLS:
        response = await anonymous.request(method, path.format(**ids), json=body, headers=as_role)
        assert response.status_code == 403, (method, path, response.text)
        needed = NEEDS_APPLICATIONS_WRITE if path.startswith(APPLICATIONS) else ADMIN_ONLY
        assert response.json() == needed
    assert await snapshot(client) == before


async def test_a_signed_in_admin_manages(anonymous: httpx.AsyncClient, log_in: LogIn) -> None:
    headers = (await log_in()).cookie_header
    user = await anonymous.post(
        USERS, json={"email": "ops@example.com", "password": "ops password 1"}, headers=headers
    )
    assert user.status_code == 201, user.text
    key = await anonymous.post(API_KEYS, json={"name": "ops"}, headers=headers)
    assert key.status_code == 201, key.text
    assert key.json()["created_by"] == "admin@example.com"
    application = await anonymous.post(
        APPLICATIONS, json={"key": "ops", "name": "Ops"}, headers=headers
    )
    assert application.status_code == 201, application.text

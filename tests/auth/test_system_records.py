"""The security records the service writes itself: logins, logouts, users and keys changed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.auth.conftest import (
    API_KEYS,
    LOGIN,
    LOGOUT,
    SAME_ORIGIN,
    USERS,
    CreateKey,
    CreateUser,
    LogIn,
    security_records,
)
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, CLIENT_ADDRESS
from tests.helpers import RECORDS


def only(records: list[dict[str, Any]], event_type: str) -> dict[str, Any]:
    [record] = [r for r in records if r["event_type"] == event_type]
    return record


def admin_id(records: list[dict[str, Any]]) -> str:
    entity_id: str = only(records, "user.created")["entity_id"]
    return entity_id


async def test_a_login_and_a_logout_are_recorded(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    login = await anonymous.post(LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert login.status_code == 200
    assert (await anonymous.post(LOGOUT, headers=SAME_ORIGIN)).status_code == 204
    records = await security_records(client)
    user_id = admin_id(records)
    signed_in, signed_out = only(records, "auth.login"), only(records, "auth.logout")
    for record, summary in (
        (signed_in, f"{ADMIN_EMAIL} signed in"),
        (signed_out, f"{ADMIN_EMAIL} signed out"),
    ):
        assert record["summary"] == summary
        assert record["category"] == "security"
        assert record["actor"] == ADMIN_EMAIL
        assert (record["entity_type"], record["entity_id"]) == ("user", user_id)
        assert record["ip_address"] == CLIENT_ADDRESS[0]
        assert record["application_id"] is None
    session_id = signed_in["params"]["session_id"]
    assert signed_in["params"] == {"session_id": session_id}
    assert signed_out["params"] == {}


@pytest.mark.parametrize(
    ("email", "password", "reason", "known"),
    [
        ("Nobody@Example.com", "whatever it is", "unknown_user", False),
        (ADMIN_EMAIL, "a wrong password", "wrong_password", True),
        ("sleepy@example.com", "sleepy password", "inactive", True),
    ],
)
async def test_a_failed_login_is_recorded_with_its_reason(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_user: CreateUser,
    email: str,
    password: str,
    reason: str,
    known: bool,
) -> None:
    sleepy = await create_user("sleepy@example.com", "sleepy password", ["reader"])
    assert (await client.patch(f"{USERS}/{sleepy['id']}", json={"is_active": False})).is_success
    users = {u["email"]: u["id"] for u in (await client.get(USERS)).json()["users"]}

    response = await anonymous.post(LOGIN, json={"email": email, "password": password})
    assert response.status_code == 401
    records = await security_records(client, event_types="auth.login_failed")
    [failed] = records
    # Never what was typed: a guesser could type "system" (test_failed_logins.py).
    assert failed["actor"] == "anonymous"
    if known:
        assert failed["summary"] == f"Failed login for {email.lower()}"
    else:
        assert failed["summary"] == "Failed login for an unknown email"
    assert failed["params"] == {"reason": reason, "email": email.lower()}
    assert failed["severity"] == "medium"
    assert failed["entity_type"] == "user"
    assert failed["entity_id"] == (users[email.lower()] if known else None)
    assert failed["ip_address"] == CLIENT_ADDRESS[0]
    assert password not in str(records)
    assert await security_records(client, event_types="auth.login") == []


async def test_creating_and_changing_a_user_is_recorded_without_passwords(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, log_in: LogIn
) -> None:
    first, second = "first password 1", "second password 2"
    admin = (await log_in()).bearer
    created = await anonymous.post(
        USERS,
        json={"email": "kim@example.com", "password": first, "roles": ["reader"]},
        headers=admin,
    )
    user_id = created.json()["id"]
    changed = await client.patch(
        f"{USERS}/{user_id}", json={"roles": ["writer"], "is_active": False, "password": second}
    )
    assert changed.status_code == 200

    records = await security_records(client, entity_id=user_id)
    assert [r["event_type"] for r in records] == ["user.created", "user.updated"]
    creation, update = records
    assert creation["actor"] == ADMIN_EMAIL  # the signed-in admin
    assert creation["entity_type"] == "user"
    assert creation["params"] == {
        "email": {"old": None, "new": "kim@example.com"},
        "roles": {"old": None, "new": ["reader"]},
    }
    assert update["actor"] == "api_key:bootstrap"
    assert update["severity"] == "medium"
    assert update["params"] == {
        "roles": {"old": ["reader"], "new": ["writer"]},
        "is_active": {"old": True, "new": False},
        "password": {"old": "[redacted]", "new": "[redacted]"},
    }
    everything = (await client.get(RECORDS, params={"page_size": 200})).text
    assert first not in everything and second not in everything
    assert ADMIN_PASSWORD not in everything


async def test_an_unchanged_field_is_left_out_of_the_change(
    client: httpx.AsyncClient, create_user: CreateUser
) -> None:
    user = await create_user("lee@example.com", "lee password 1", ["reader"])
    response = await client.patch(
        f"{USERS}/{user['id']}", json={"roles": ["reader"], "is_active": False}
    )
    assert response.status_code == 200
    update = only(await security_records(client, entity_id=user["id"]), "user.updated")
    assert update["params"] == {"is_active": {"old": True, "new": False}}
    assert update["summary"] == "User lee@example.com changed: is_active"
    assert update["severity"] == "low"


async def test_creating_and_revoking_a_key_is_recorded_without_the_secret(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, log_in: LogIn
) -> None:
    admin = (await log_in()).cookie_header
    created = (
        await anonymous.post(API_KEYS, json={"name": "etl", "roles": ["writer"]}, headers=admin)
    ).json()
    revoked = (await client.delete(f"{API_KEYS}/{created['id']}")).json()

    records = await security_records(client, entity_id=created["id"])
    assert [r["event_type"] for r in records] == ["api_key.created", "api_key.revoked"]
    creation, revocation = records
    assert creation["actor"] == ADMIN_EMAIL
    assert creation["summary"] == f"API key etl ({created['prefix']}…) created"
    assert creation["params"] == {
        "name": {"old": None, "new": "etl"},
        "scopes": {"old": None, "new": ["records:write", "applications:read"]},
        "applications": {"old": None, "new": None},
    }
    assert revocation["actor"] == "api_key:bootstrap"
    assert revocation["entity_type"] == "api_key"
    assert revocation["severity"] == "medium"
    [(old, new)] = [(v["old"], v["new"]) for v in revocation["params"].values()]
    assert list(revocation["params"]) == ["revoked_at"]
    assert old is None
    assert new.replace("+00:00", "Z") == revoked["revoked_at"]
    assert created["key"] not in (await client.get(RECORDS, params={"page_size": 200})).text


async def test_failed_management_writes_no_record(
    client: httpx.AsyncClient, create_key: CreateKey, create_user: CreateUser
) -> None:
    await create_user("max@example.com", "max password 1", ["reader"])
    key = await create_key("dup", ["reader"])
    await client.delete(f"{API_KEYS}/{key['id']}")
    before = await security_records(client)
    failures = [
        await client.post(USERS, json={"email": "max@example.com", "password": "max password 1"}),
        await client.post(API_KEYS, json={"name": "dup"}),
        await client.delete(f"{API_KEYS}/{key['id']}"),
        await client.patch(f"{USERS}/nobody", json={"is_active": False}),
    ]
    assert [f.status_code for f in failures] == [409, 409, 409, 404]
    assert await security_records(client) == before

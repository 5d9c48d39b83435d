"""Users: created, listed, fetched and changed by admins; deactivation ends their sessions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.auth.conftest import (
    LOGIN,
    LOGIN_FAILED,
    ME,
    USERS,
    CreateUser,
    LogIn,
    assert_unauthenticated,
)
from tests.helpers import RECORDS, record_total

USER_FIELDS = ["id", "email", "roles", "is_active", "created_at", "updated_at"]
PASSWORD = "a long password"


def parse_time(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


async def user_list(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get(USERS, params={"page_size": 200})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_create_lowercases_the_email_and_hides_the_password(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    password = "kx7 plum fog"  # the shortest allowed, and hard enough to guess
    response = await client.post(USERS, json={"email": "Alice@Example.COM", "password": password})
    assert response.status_code == 201, response.text
    user = response.json()
    assert list(user) == USER_FIELDS
    assert user["email"] == "alice@example.com"
    assert user["roles"] == ["reader"]
    assert user["is_active"] is True
    assert before <= parse_time(user["created_at"]) <= datetime.now(UTC)
    assert password not in response.text
    assert (await client.get(f"{USERS}/{user['id']}")).json() == user
    login = await anonymous.post(LOGIN, json={"email": "ALICE@example.com", "password": password})
    assert login.status_code == 200, login.text


async def test_roles_are_stored_once_each_in_order(client: httpx.AsyncClient) -> None:
    response = await client.post(
        USERS,
        json={
            "email": "ops@example.com",
            "password": PASSWORD,
            "roles": ["writer", "reader", "writer"],
        },
    )
    assert response.status_code == 201
    assert response.json()["roles"] == ["reader", "writer"]


async def test_an_email_is_taken_whatever_its_case(
    client: httpx.AsyncClient, create_user: CreateUser
) -> None:
    await create_user("bob@example.com", PASSWORD, ["reader"])
    users, stored = await user_list(client), await record_total(client)
    response = await client.post(USERS, json={"email": "BOB@example.com", "password": PASSWORD})
    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "USER_EXISTS", "message": "A user with email bob@example.com exists."}
    }
    assert await user_list(client) == users
    assert await record_total(client) == stored


async def test_concurrent_creates_of_one_email_make_one_user(client: httpx.AsyncClient) -> None:
    body = {"email": "race@example.com", "password": PASSWORD}
    responses = await asyncio.gather(*(client.post(USERS, json=body) for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    assert [u["email"] for u in (await user_list(client))["users"]].count("race@example.com") == 1


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"email": "carol@example.com", "password": "x" * 11}, "body.password", "STRING_TOO_SHORT"),
        (
            {"email": "carol@example.com", "password": "x" * 1025},
            "body.password",
            "STRING_TOO_LONG",
        ),
        ({"email": "carol@example.com"}, "body.password", "MISSING"),
        ({"email": "not an email", "password": PASSWORD}, "body.email", "VALUE_ERROR"),
        ({"password": PASSWORD}, "body.email", "MISSING"),
        (
            {"email": "carol@example.com", "password": PASSWORD, "roles": []},
            "body.roles",
            "TOO_SHORT",
        ),
        (
            {"email": "carol@example.com", "password": PASSWORD, "roles": ["root"]},
            "body.roles.0",
            "LITERAL_ERROR",
        ),
        (
            {"email": "carol@example.com", "password": PASSWORD, "is_active": False},
            "body.is_active",
            "EXTRA_FORBIDDEN",
        ),
    ],
)
async def test_a_malformed_user_is_422_and_stores_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], field: str, code: str
) -> None:
    users, stored = await user_list(client), await record_total(client)
    response = await client.post(USERS, json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [(p["field"], p["code"]) for p in error["details"]] == [(field, code)]
    if "password" in body:
        assert body["password"] not in response.text
    assert await user_list(client) == users
    assert await record_total(client) == stored


async def test_users_are_listed_by_email_page_by_page(
    client: httpx.AsyncClient, create_user: CreateUser
) -> None:
    for email in ("zed@example.com", "amy@example.com"):
        await create_user(email, PASSWORD, ["reader"])
    response = await client.get(USERS, params={"page_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page"], body["page_size"], body["total_pages"]) == (3, 1, 2, 2)
    assert [u["email"] for u in body["users"]] == ["admin@example.com", "amy@example.com"]
    assert list(body["users"][0]) == USER_FIELDS
    second = (await client.get(USERS, params={"page": 2, "page_size": 2})).json()
    assert [u["email"] for u in second["users"]] == ["zed@example.com"]


@pytest.mark.parametrize(
    ("method", "body"), [("GET", None), ("PATCH", {"is_active": False})], ids=["get", "patch"]
)
async def test_an_unknown_user_is_404(
    client: httpx.AsyncClient, method: str, body: dict[str, Any] | None
) -> None:
    stored = await record_total(client)
    response = await client.request(method, f"{USERS}/nobody", json=body)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "USER_NOT_FOUND", "message": "No user nobody."}}
    assert await record_total(client) == stored


async def test_a_role_change_applies_to_open_sessions(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_user: CreateUser,
    log_in: LogIn,
) -> None:
    user = await create_user("dora@example.com", PASSWORD, ["reader"])
    headers = (await log_in("dora@example.com", PASSWORD)).bearer
    body = {"event_type": "x", "summary": "y"}
    assert (await anonymous.post(RECORDS, json=body, headers=headers)).status_code == 403

    response = await client.patch(f"{USERS}/{user['id']}", json={"roles": ["writer"]})
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["roles"] == ["writer"]
    assert parse_time(changed["updated_at"]) > parse_time(user["updated_at"])
    assert (await anonymous.post(RECORDS, json=body, headers=headers)).status_code == 201
    assert (await anonymous.get(RECORDS, headers=headers)).status_code == 403


async def test_deactivation_ends_sessions_and_logins_for_good(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_user: CreateUser,
    log_in: LogIn,
) -> None:
    user = await create_user("erin@example.com", PASSWORD, ["reader"])
    login = await log_in("erin@example.com", PASSWORD)

    response = await client.patch(f"{USERS}/{user['id']}", json={"is_active": False})
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    for headers in (login.bearer, login.cookie_header):
        assert_unauthenticated(await anonymous.get(ME, headers=headers))
    failed = await anonymous.post(LOGIN, json={"email": "erin@example.com", "password": PASSWORD})
    assert_unauthenticated(failed, LOGIN_FAILED)

    # Reactivated, the user signs in afresh: the sessions of before stay ended.
    assert (await client.patch(f"{USERS}/{user['id']}", json={"is_active": True})).is_success
    for headers in (login.bearer, login.cookie_header):
        assert_unauthenticated(await anonymous.get(ME, headers=headers))
    assert (await log_in("erin@example.com", PASSWORD)).access_token


async def test_a_new_password_replaces_the_old(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_user: CreateUser,
    log_in: LogIn,
) -> None:
    user = await create_user("finn@example.com", PASSWORD, ["reader"])
    response = await client.patch(f"{USERS}/{user['id']}", json={"password": "a newer password"})
    assert response.status_code == 200
    assert list(response.json()) == USER_FIELDS
    old = await anonymous.post(LOGIN, json={"email": "finn@example.com", "password": PASSWORD})
    assert_unauthenticated(old, LOGIN_FAILED)
    assert (await log_in("finn@example.com", "a newer password")).access_token


async def test_an_empty_patch_changes_nothing(
    client: httpx.AsyncClient, create_user: CreateUser
) -> None:
    user = await create_user("gus@example.com", PASSWORD, ["reader"])
    stored = await record_total(client)
    response = await client.patch(f"{USERS}/{user['id']}", json={})
    assert response.status_code == 200
    assert response.json() == user
    same = await client.patch(f"{USERS}/{user['id']}", json={"roles": ["reader"]})
    assert same.json() == user
    assert await record_total(client) == stored


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"password": "x" * 11}, "body.password", "STRING_TOO_SHORT"),
        ({"roles": []}, "body.roles", "TOO_SHORT"),
        ({"roles": ["root"]}, "body.roles.0", "LITERAL_ERROR"),
        ({"is_active": "maybe"}, "body.is_active", "BOOL_PARSING"),
        ({"email": "new@example.com"}, "body.email", "EXTRA_FORBIDDEN"),
    ],
)
async def test_a_malformed_patch_is_422_and_changes_nothing(
    client: httpx.AsyncClient,
    create_user: CreateUser,
    body: dict[str, Any],
    field: str,
    code: str,
) -> None:
    user = await create_user("hana@example.com", PASSWORD, ["reader"])
    stored = await record_total(client)
    response = await client.patch(f"{USERS}/{user['id']}", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [(p["field"], p["code"]) for p in error["details"]] == [(field, code)]
    assert (await client.get(f"{USERS}/{user['id']}")).json() == user
    assert await record_total(client) == stored


@pytest.mark.parametrize("field", ["roles", "is_active", "password"])
async def test_null_is_not_a_value_for_a_user_field(
    client: httpx.AsyncClient, create_user: CreateUser, field: str
) -> None:
    user = await create_user("ivan@example.com", PASSWORD, ["reader"])
    stored = await record_total(client)
    response = await client.patch(f"{USERS}/{user['id']}", json={field: None})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert (await client.get(f"{USERS}/{user['id']}")).json() == user
    assert await record_total(client) == stored


async def test_a_null_names_its_field(client: httpx.AsyncClient, create_user: CreateUser) -> None:
    user = await create_user("jo@example.com", PASSWORD, ["reader"])
    response = await client.patch(f"{USERS}/{user['id']}", json={"roles": None})
    assert response.json()["error"]["details"] == [
        {
            "field": "body.roles",
            "code": "VALUE_ERROR",
            "message": "Value error, cannot be null; leave the field out to keep its value",
        }
    ]

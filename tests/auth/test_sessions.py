"""Login, the session cookie, logout, and GET /api/auth/me."""

from __future__ import annotations

import httpx
import pytest

from audittrail.access import SCOPES
from tests.auth.conftest import (
    LOGIN,
    LOGIN_FAILED,
    LOGOUT,
    ME,
    SAME_ORIGIN,
    SESSION_COOKIE,
    USERS,
    CreateUser,
    LogIn,
    assert_unauthenticated,
)
from tests.conftest import ADMIN_EMAIL, ADMIN_KEY, ADMIN_PASSWORD
from tests.helpers import record_total


def cookie_attributes(response: httpx.Response) -> dict[str, str]:
    """The attributes of the one Set-Cookie header, names lower-cased."""
    [header] = response.headers.get_list("set-cookie")
    name_value, *attributes = (part.strip() for part in header.split(";"))
    assert name_value.startswith(f"{SESSION_COOKIE}="), header
    pairs = (attribute.partition("=") for attribute in attributes)
    return {name.lower(): value for name, _, value in pairs}


async def test_login_answers_a_bearer_token_and_sets_the_cookie(
    anonymous: httpx.AsyncClient,
) -> None:
    response = await anonymous.post(LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["access_token", "token_type", "expires_in"]
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"].count(".") == 2
    assert cookie_attributes(response) == {
        "httponly": "",
        "max-age": "28800",
        "path": "/",
        "samesite": "lax",
    }
    assert body["access_token"] != response.cookies[SESSION_COOKIE]


async def test_the_cookie_is_secure_over_https(https_client: httpx.AsyncClient) -> None:
    response = await https_client.post(
        LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200, response.text
    attributes = cookie_attributes(response)
    assert "secure" in attributes
    assert attributes["httponly"] == "" and attributes["samesite"] == "lax"
    assert (await https_client.get(ME)).json()["email"] == ADMIN_EMAIL


async def test_the_email_is_matched_whatever_its_case(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.post(
        LOGIN, json={"email": ADMIN_EMAIL.upper(), "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("nobody@example.com", ADMIN_PASSWORD),
        (ADMIN_EMAIL, "not the password"),
        (ADMIN_EMAIL, ADMIN_PASSWORD.upper()),
        ("inactive@example.com", "inactive user password"),
    ],
    ids=["unknown email", "wrong password", "password in the wrong case", "inactive user"],
)
async def test_every_failed_login_is_the_same_401(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_user: CreateUser,
    email: str,
    password: str,
) -> None:
    inactive = await create_user("inactive@example.com", "inactive user password", ["reader"])
    patched = await client.patch(f"{USERS}/{inactive['id']}", json={"is_active": False})
    assert patched.status_code == 200, patched.text
    response = await anonymous.post(LOGIN, json={"email": email, "password": password})
    assert_unauthenticated(response, LOGIN_FAILED)
    assert "set-cookie" not in response.headers
    assert not anonymous.cookies


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"email": ADMIN_EMAIL}, "body.password", "MISSING"),
        ({"password": ADMIN_PASSWORD}, "body.email", "MISSING"),
        ({"email": ADMIN_EMAIL, "password": ""}, "body.password", "STRING_TOO_SHORT"),
        ({"email": "", "password": ADMIN_PASSWORD}, "body.email", "STRING_TOO_SHORT"),
        (
            {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "remember": True},
            "body.remember",
            "EXTRA_FORBIDDEN",
        ),
    ],
)
async def test_a_malformed_login_is_422_and_starts_no_session(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    body: dict[str, object],
    field: str,
    code: str,
) -> None:
    stored = await record_total(client)
    response = await anonymous.post(LOGIN, json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [(p["field"], p["code"]) for p in error["details"]] == [(field, code)]
    assert "set-cookie" not in response.headers
    assert await record_total(client) == stored


async def test_logout_with_the_cookie_ends_cookie_and_token(
    anonymous: httpx.AsyncClient,
) -> None:
    login = await anonymous.post(LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    token_headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (await anonymous.get(ME)).status_code == 200  # the jar sends the cookie
    assert (await anonymous.get(ME, headers=token_headers)).status_code == 200
    cookie = anonymous.cookies[SESSION_COOKIE]

    response = await anonymous.post(LOGOUT, headers=SAME_ORIGIN)
    assert response.status_code == 204
    assert response.content == b""
    cleared = cookie_attributes(response)
    assert cleared["max-age"] == "0" and cleared["path"] == "/"
    assert SESSION_COOKIE not in anonymous.cookies

    assert_unauthenticated(await anonymous.get(ME, headers=token_headers))
    assert_unauthenticated(
        await anonymous.get(ME, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
    )
    assert_unauthenticated(await anonymous.post(LOGOUT, headers=token_headers))


async def test_logout_with_the_token_ends_the_cookie_too(
    anonymous: httpx.AsyncClient, log_in: LogIn
) -> None:
    login = await log_in()
    response = await anonymous.post(LOGOUT, headers=login.bearer)
    assert response.status_code == 204
    assert_unauthenticated(await anonymous.get(ME, headers=login.cookie_header))


async def test_logout_ends_only_its_own_session(
    anonymous: httpx.AsyncClient, log_in: LogIn
) -> None:
    first, second = await log_in(), await log_in()
    assert (await anonymous.post(LOGOUT, headers=first.bearer)).status_code == 204
    assert (await anonymous.get(ME, headers=second.bearer)).status_code == 200
    assert (await anonymous.get(ME, headers=second.cookie_header)).status_code == 200


async def test_an_api_key_cannot_log_out(client: httpx.AsyncClient) -> None:
    stored = await record_total(client)
    response = await client.post(LOGOUT)
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "NO_SESSION", "message": "API keys are revoked, not signed out."}
    }
    assert (await client.get(ME)).status_code == 200
    assert await record_total(client) == stored


async def test_logout_needs_credentials(anonymous: httpx.AsyncClient) -> None:
    assert_unauthenticated(await anonymous.post(LOGOUT))


async def test_me_for_a_user(
    anonymous: httpx.AsyncClient, log_in: LogIn, create_user: CreateUser
) -> None:
    user = await create_user("Writer@Example.com", "writer password 1", ["writer", "reader"])
    login = await log_in("writer@example.com", "writer password 1")
    for headers in (login.bearer, login.cookie_header):
        response = await anonymous.get(ME, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "kind": "user",
            "id": user["id"],
            "email": "writer@example.com",
            "name": "writer@example.com",
            "actor": "writer@example.com",
            "roles": ["reader", "writer"],
            "scopes": ["applications:read", "records:read", "records:write", "stats:read"],
            "applications": None,
        }


async def test_me_for_an_api_key(client: httpx.AsyncClient, anonymous: httpx.AsyncClient) -> None:
    [bootstrap] = (await client.get("/api/api-keys")).json()["api_keys"]
    expected = {
        "kind": "api_key",
        "id": bootstrap["id"],
        "email": None,
        "name": "bootstrap",
        "actor": "api_key:bootstrap",
        "roles": [],
        "scopes": sorted(SCOPES),
        "applications": None,
    }
    assert (await client.get(ME)).json() == expected
    assert (await anonymous.get(ME, headers={"X-API-Key": ADMIN_KEY})).json() == expected

"""Sessions: the cookie's flags, a new session at each login, idle and absolute expiry, a user's
own list of sessions and ending one, and what ends them all (deactivation, a password reset)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from audittrail.config import Settings
from tests.auth.conftest import (
    API_KEYS,
    LOGIN,
    LOGIN_FAILED,
    ME,
    SAME_ORIGIN,
    SESSION_COOKIE,
    USERS,
    AppWith,
    CreateUser,
    LogIn,
    Login,
    MovableClock,
    assert_unauthenticated,
    security_records,
)
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, CLIENT_ADDRESS, make_client
from tests.helpers import RECORDS, record_total

SESSIONS = "/api/auth/sessions"
SESSION_FIELDS = [
    "id",
    "created_at",
    "last_seen_at",
    "expires_at",
    "ip_address",
    "user_agent",
    "current",
]
NO_SESSION = {"error": {"code": "NO_SESSION", "message": "API keys have no sessions or password."}}
PASSWORD = "quiet harbour lantern"
IDLE = 30 * 60


def parse_time(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


def cookie_attributes(response: httpx.Response) -> dict[str, str]:
    [header] = response.headers.get_list("set-cookie")
    _, *attributes = (part.strip() for part in header.split(";"))
    pairs = (attribute.partition("=") for attribute in attributes)
    return {name.lower(): value for name, _, value in pairs}


async def works(anonymous: httpx.AsyncClient, login: Login) -> list[bool]:
    """Whether the login's cookie and its access token each still sign in."""
    return [
        (await anonymous.get(ME, headers=headers)).status_code == 200
        for headers in (login.cookie_header, login.bearer)
    ]


async def sessions_of(anonymous: httpx.AsyncClient, login: Login) -> list[dict[str, Any]]:
    response = await anonymous.get(SESSIONS, headers=login.bearer)
    assert response.status_code == 200, response.text
    sessions: list[dict[str, Any]] = response.json()["sessions"]
    return sessions


async def session_id(anonymous: httpx.AsyncClient, login: Login) -> str:
    [current] = [s for s in await sessions_of(anonymous, login) if s["current"]]
    found: str = current["id"]
    return found


# The Secure flag


@pytest.mark.parametrize(
    ("setting", "base_url", "headers", "trusted", "secure"),
    [
        ("auto", "http://testserver", {}, False, False),
        ("auto", "https://testserver", {}, False, True),
        # Behind a TLS proxy the app hears plain HTTP: the proxy says what the client used.
        ("auto", "http://testserver", {"X-Forwarded-Proto": "https"}, True, True),
        ("auto", "http://testserver", {"X-Forwarded-Proto": "https, http"}, True, True),
        ("auto", "http://testserver", {"X-Forwarded-Proto": "http"}, True, False),
        # Anyone else's say-so is ignored.
        ("auto", "http://testserver", {"X-Forwarded-Proto": "https"}, False, False),
        ("always", "http://testserver", {}, False, True),
        ("never", "https://testserver", {}, False, False),
    ],
    ids=[
        "auto over http",
        "auto over https",
        "auto behind a trusted TLS proxy",
        "auto behind two proxies",
        "auto behind a trusted plain proxy",
        "auto, forwarded by an untrusted peer",
        "always",
        "never",
    ],
)
async def test_the_cookie_is_secure_as_configured_and_as_the_client_came(
    app_with: AppWith,
    setting: str,
    base_url: str,
    headers: dict[str, str],
    trusted: bool,
    secure: bool,
) -> None:
    proxies = [CLIENT_ADDRESS[0]] if trusted else []
    async with app_with(cookie_secure=setting, trusted_proxies=proxies) as app:
        transport = httpx.ASGITransport(app=app, client=CLIENT_ADDRESS)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as browser:
            response = await browser.post(
                LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, headers=headers
            )
    assert response.status_code == 200, response.text
    attributes = cookie_attributes(response)
    assert ("secure" in attributes) is secure
    assert attributes["httponly"] == "" and attributes["samesite"] == "lax"
    assert attributes["path"] == "/" and attributes["max-age"] == "28800"


def test_production_refuses_a_cookie_that_is_never_secure(settings: Settings) -> None:
    fields = {name: getattr(settings, name) for name in type(settings).model_fields}
    production = {**fields, "env": "production", "database_url": "postgresql://db/audittrail"}
    with pytest.raises(ValidationError, match="AUDITTRAIL_COOKIE_SECURE=never"):
        Settings(**{**production, "cookie_secure": "never"})
    assert Settings(**{**production, "cookie_secure": "auto"}).cookie_secure == "auto"


def test_the_cookie_is_always_secure_in_production_unless_configured(settings: Settings) -> None:
    """Behind a TLS proxy left out of trusted_proxies, auto would never set Secure."""
    fields = {name: getattr(settings, name) for name in type(settings).model_fields}
    fields.pop("cookie_secure")
    production = {**fields, "env": "production", "database_url": "postgresql://db/audittrail"}
    assert Settings(**production).secure_cookie == "always"
    assert Settings(**{**fields, "env": "development"}).secure_cookie == "auto"


# A new session at each login


async def test_each_login_starts_a_new_session_and_ends_the_one_presented(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, app_with: AppWith
) -> None:
    first = await anonymous.post(LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    old = Login(first.json()["access_token"], first.cookies[SESSION_COOKIE], first)
    old_id = await session_id(anonymous, old)

    # The browser signs in again, sending the cookie it has (the jar does).
    anonymous.cookies.set(SESSION_COOKIE, old.cookie)
    second = await anonymous.post(LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert second.status_code == 200
    new = Login(second.json()["access_token"], second.cookies[SESSION_COOKIE], second)
    assert new.cookie != old.cookie
    assert await works(anonymous, old) == [False, False]
    assert await works(anonymous, new) == [True, True]
    new_id = await session_id(anonymous, new)
    assert [s["id"] for s in await sessions_of(anonymous, new)] == [new_id]

    [_, replacing] = await security_records(client, event_types="auth.login")
    assert replacing["params"] == {"session_id": new_id, "replaced_session_id": old_id}


async def test_a_login_presenting_a_dead_cookie_just_signs_in(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    anonymous.cookies.set(SESSION_COOKIE, "not-a-session")
    response = await anonymous.post(LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code == 200
    [login] = await security_records(client, event_types="auth.login")
    assert list(login["params"]) == ["session_id"]


# Expiry


async def test_an_unused_session_ends_after_the_idle_time(
    anonymous: httpx.AsyncClient, log_in: LogIn, moved_clock: MovableClock
) -> None:
    used, unused = await log_in(), await log_in()
    for _ in range(2):  # used every 25 minutes
        moved_clock.advance(25 * 60)
        assert await works(anonymous, used) == [True, True]
    assert await works(anonymous, unused) == [False, False]
    # The cookie (the access token's hour is up before then).
    moved_clock.advance(IDLE - 5)
    assert (await anonymous.get(ME, headers=used.cookie_header)).status_code == 200
    moved_clock.advance(IDLE + 1)
    assert_unauthenticated(await anonymous.get(ME, headers=used.cookie_header))


async def test_a_session_ends_at_its_lifetime_however_used(
    app_with: AppWith, moved_clock: MovableClock
) -> None:
    async with app_with(session_lifetime_seconds=3600) as app, make_client(app) as browser:
        response = await browser.post(
            LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        login = Login(response.json()["access_token"], response.cookies[SESSION_COOKIE], response)
        assert cookie_attributes(response)["max-age"] == "3600"
        for _ in range(2):
            moved_clock.advance(20 * 60)
            assert await works(browser, login) == [True, True]
        moved_clock.advance(20 * 60 - 5)
        assert await works(browser, login) == [True, True]
        moved_clock.advance(10)
        assert await works(browser, login) == [False, False]


async def test_last_seen_is_noted_at_most_once_a_minute(
    anonymous: httpx.AsyncClient, log_in: LogIn, moved_clock: MovableClock
) -> None:
    login = await log_in()
    [start] = await sessions_of(anonymous, login)
    assert start["last_seen_at"] == start["created_at"]
    moved_clock.advance(30)
    [same] = await sessions_of(anonymous, login)
    assert same["last_seen_at"] == start["created_at"]
    moved_clock.advance(31)
    before = moved_clock.now()
    await anonymous.get(ME, headers=login.cookie_header)
    [seen] = await sessions_of(anonymous, login)
    assert parse_time(seen["last_seen_at"]) >= before


# My sessions


async def test_a_user_lists_their_live_sessions(
    app: FastAPI, anonymous: httpx.AsyncClient, create_user: CreateUser, log_in: LogIn
) -> None:
    await create_user("nia@example.com", PASSWORD, ["reader"])
    async with make_client(app) as browser:
        response = await browser.post(
            LOGIN,
            json={"email": "nia@example.com", "password": PASSWORD},
            headers={"User-Agent": "Firefox/140.0\x1b[2J"},
        )
    first = Login(response.json()["access_token"], response.cookies[SESSION_COOKIE], response)
    second, ended = (
        await log_in("nia@example.com", PASSWORD),
        await log_in("nia@example.com", PASSWORD),
    )
    await log_in()  # the admin's, not listed
    assert (await anonymous.post("/api/auth/logout", headers=ended.bearer)).status_code == 204

    response = await anonymous.get(SESSIONS, headers=first.cookie_header)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["page"], body["page_size"], body["total_pages"]) == (2, 1, 50, 1)
    newest, oldest = body["sessions"]
    assert list(oldest) == SESSION_FIELDS
    assert (oldest["current"], newest["current"]) == (True, False)
    assert oldest["user_agent"] == "Firefox/140.0[2J"  # no control characters kept
    assert newest["user_agent"] == "python-httpx/" + httpx.__version__
    for session in body["sessions"]:
        assert session["ip_address"] == CLIENT_ADDRESS[0]
        created = parse_time(session["created_at"])
        assert parse_time(session["expires_at"]) - created == timedelta(hours=8)
    assert await session_id(anonymous, second) == newest["id"]


async def test_an_api_key_has_no_sessions(client: httpx.AsyncClient) -> None:
    stored = await record_total(client)
    for method in ("GET", "DELETE"):
        path = SESSIONS if method == "GET" else f"{SESSIONS}/anything"
        response = await client.request(method, path)
        assert (response.status_code, response.json()) == (400, NO_SESSION)
    assert await record_total(client) == stored


async def test_a_user_ends_one_of_their_sessions(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, log_in: LogIn
) -> None:
    here, there = await log_in(), await log_in()
    there_id = await session_id(anonymous, there)
    response = await anonymous.delete(f"{SESSIONS}/{there_id}", headers=here.cookie_header)
    assert response.status_code == 204, response.text
    assert "set-cookie" not in response.headers
    assert await works(anonymous, there) == [False, False]
    assert await works(anonymous, here) == [True, True]
    [record] = await security_records(client, event_types="auth.session_revoked")
    assert record["actor"] == ADMIN_EMAIL
    assert record["summary"] == f"{ADMIN_EMAIL} ended a session"
    assert record["params"] == {"session_id": there_id}


async def test_ending_the_current_session_signs_out(
    anonymous: httpx.AsyncClient, log_in: LogIn
) -> None:
    login = await log_in()
    response = await anonymous.delete(
        f"{SESSIONS}/{await session_id(anonymous, login)}", headers=login.cookie_header
    )
    assert response.status_code == 204
    assert cookie_attributes(response)["max-age"] == "0"
    assert await works(anonymous, login) == [False, False]


async def test_another_users_session_or_an_ended_one_is_404(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_user: CreateUser,
    log_in: LogIn,
) -> None:
    await create_user("omar@example.com", PASSWORD, ["reader"])
    admin, omar = await log_in(), await log_in("omar@example.com", PASSWORD)
    ended = await log_in("omar@example.com", PASSWORD)
    ended_id = await session_id(anonymous, ended)
    assert (await anonymous.delete(f"{SESSIONS}/{ended_id}", headers=omar.bearer)).is_success
    stored = await record_total(client)
    for other in (await session_id(anonymous, admin), ended_id, "no-such-session"):
        response = await anonymous.delete(f"{SESSIONS}/{other}", headers=omar.cookie_header)
        assert (response.status_code, response.json()) == (
            404,
            {"error": {"code": "SESSION_NOT_FOUND", "message": f"No session {other}."}},
        )
    assert await works(anonymous, admin) == [True, True]
    assert await works(anonymous, omar) == [True, True]
    assert await record_total(client) == stored


async def test_sessions_need_a_signed_in_caller(anonymous: httpx.AsyncClient) -> None:
    assert_unauthenticated(await anonymous.get(SESSIONS))
    assert_unauthenticated(await anonymous.delete(f"{SESSIONS}/x", headers=SAME_ORIGIN))


# What ends every session of a user


async def test_deactivating_a_user_ends_their_sessions_and_revokes_their_keys_at_once(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_user: CreateUser,
    log_in: LogIn,
) -> None:
    user = await create_user("pia@example.com", PASSWORD, ["admin"])
    login, other = (
        await log_in("pia@example.com", PASSWORD),
        await log_in("pia@example.com", PASSWORD),
    )
    keys = []
    for name, scopes in (("pia-etl", None), ("pia-reports", None), ("pia-admin", ["admin"])):
        body = {"name": name} if scopes is None else {"name": name, "scopes": scopes}
        created = await anonymous.post(API_KEYS, json=body, headers=login.bearer)
        assert created.status_code == 201, created.text
        keys.append(created.json())
    # A key made with her key acts on her authority too, and goes with it.
    made_by_key = await anonymous.post(
        API_KEYS, json={"name": "pia-grandchild"}, headers={"X-API-Key": keys[-1]["key"]}
    )
    assert made_by_key.status_code == 201, made_by_key.text
    keys.append(made_by_key.json())
    not_hers = (await client.post(API_KEYS, json={"name": "kept"})).json()
    for key in (*keys, not_hers):  # each kept by the process for the records it takes
        response = await anonymous.post(
            RECORDS, json={"event_type": "x", "summary": "y"}, headers={"X-API-Key": key["key"]}
        )
        assert response.status_code == 201, response.text

    response = await client.patch(f"{USERS}/{user['id']}", json={"is_active": False})
    assert response.status_code == 200, response.text
    updated_at = response.json()["updated_at"]

    for session in (login, other):
        assert await works(anonymous, session) == [False, False]
    stored = await record_total(client)
    for key in keys:
        headers = {"X-API-Key": key["key"]}
        assert_unauthenticated(await anonymous.get(ME, headers=headers))
        for path, body in (
            (RECORDS, {"event_type": "x", "summary": "y"}),
            (f"{RECORDS}/batch", []),
        ):
            assert_unauthenticated(await anonymous.post(path, json=body, headers=headers))
        listed = (await client.get(f"{API_KEYS}/{key['id']}")).json()
        assert listed["revoked_at"] == updated_at  # one change, at one time
    assert await record_total(client) == stored
    assert (await anonymous.get(ME, headers={"X-API-Key": not_hers["key"]})).status_code == 200

    records = await security_records(client, actors="api_key:bootstrap")
    changes = [r for r in records if r["entity_id"] in {user["id"], *(k["id"] for k in keys)}]
    assert [(r["event_type"], r["entity_id"]) for r in changes[-1 - len(keys) :]] == [
        ("user.updated", user["id"]),
        *(("api_key.revoked", key["id"]) for key in keys),
    ]
    for record in changes[-len(keys) :]:
        assert record["params"] == {
            "revoked_at": {"old": None, "new": record["params"]["revoked_at"]["new"]},
            "reason": "its creator pia@example.com was deactivated",
        }
        assert record["severity"] == "medium"
    # Reactivated, the user's keys stay revoked.
    assert (await client.patch(f"{USERS}/{user['id']}", json={"is_active": True})).is_success
    assert_unauthenticated(await anonymous.get(ME, headers={"X-API-Key": keys[0]["key"]}))


async def test_an_admins_password_reset_ends_the_users_sessions(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_user: CreateUser,
    log_in: LogIn,
) -> None:
    user = await create_user("quinn@example.com", PASSWORD, ["reader"])
    login = await log_in("quinn@example.com", PASSWORD)
    assert (await client.patch(f"{USERS}/{user['id']}", json={"roles": ["writer"]})).is_success
    assert await works(anonymous, login) == [True, True]  # a role change keeps them

    reset = await client.patch(f"{USERS}/{user['id']}", json={"password": "brisk meadow falcon"})
    assert reset.status_code == 200, reset.text
    assert await works(anonymous, login) == [False, False]
    old = await anonymous.post(LOGIN, json={"email": "quinn@example.com", "password": PASSWORD})
    assert_unauthenticated(old, LOGIN_FAILED)
    assert await works(anonymous, await log_in("quinn@example.com", "brisk meadow falcon")) == [
        True,
        True,
    ]

"""CSRF: a change made with the session cookie must come from the app's own pages (or an allowed
origin's); bodies are read only as the JSON (or NDJSON) they say they are."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audittrail.access import CurrentPrincipal
from tests.auth.conftest import (
    API_KEYS,
    LOGIN,
    LOGOUT,
    ME,
    SAME_ORIGIN,
    SESSION_COOKIE,
    USERS,
    AppWith,
    LogIn,
    assert_unauthenticated,
)
from tests.conftest import ADMIN_EMAIL, ADMIN_KEY, ADMIN_PASSWORD, CLIENT_ADDRESS, make_client
from tests.helpers import RECORDS, record_total

SESSIONS = "/api/auth/sessions"
PASSWORD = "/api/auth/password"
CSRF_REJECTED = {
    "error": {
        "code": "CSRF_REJECTED",
        "message": "A change made with the session cookie must come from this site's own pages.",
    }
}
JSON_ONLY = {
    "error": {
        "code": "UNSUPPORTED_MEDIA_TYPE",
        "message": "The request body must be application/json.",
    }
}
JSON_OR_NDJSON = {
    "error": {
        "code": "UNSUPPORTED_MEDIA_TYPE",
        "message": "The request body must be application/json or application/x-ndjson.",
    }
}
RECORD = {"event_type": "x.done", "summary": "Done"}

# What a page of another site can make a browser send with the cookie (or a client that is no
# browser, and says nothing of where it is).
FORGED = {
    "nothing said": {},
    "cross-site": {"Sec-Fetch-Site": "cross-site"},
    "same-site (a sibling subdomain)": {"Sec-Fetch-Site": "same-site"},
    "another origin": {"Origin": "https://evil.example"},
    "a sandboxed page": {"Origin": "null"},
    "this host over another scheme": {"Origin": "https://testserver"},
    "a look-alike host": {"Origin": "http://testserver.evil.example"},
    "cross-site with its origin": {
        "Sec-Fetch-Site": "cross-site",
        "Origin": "https://evil.example",
    },
}
OWN_PAGES = {
    "same-origin": {"Sec-Fetch-Site": "same-origin"},
    "typed by the user": {"Sec-Fetch-Site": "none"},
    "own origin": {"Origin": "http://testserver"},
    "own origin with its default port": {"Origin": "HTTP://TestServer:80"},
}


@pytest.fixture
def put_route(app: FastAPI) -> str:
    """A PUT route that requires a principal: the app has none of its own yet."""

    async def replace(principal: CurrentPrincipal) -> dict[str, str]:
        return {"actor": principal.actor}

    app.router.add_api_route("/test/put", replace, methods=["PUT"])
    return "/test/put"


async def everything(client: httpx.AsyncClient) -> list[Any]:
    """Users, keys and records: each change made through the API leaves a record too."""
    paths = (USERS, API_KEYS, RECORDS)
    return [(await client.get(path, params={"page_size": 200})).json() for path in paths]


def changes(admin_id: str, key_id: str, session_id: str, put: str) -> list[tuple[str, str, Any]]:
    """One change of each kind, by every unsafe method, the ingest routes included."""
    return [
        ("POST", RECORDS, RECORD),
        ("POST", f"{RECORDS}/batch", [RECORD]),
        ("POST", API_KEYS, {"name": "forged"}),
        ("PATCH", f"{USERS}/{admin_id}", {"roles": ["reader"]}),
        ("DELETE", f"{API_KEYS}/{key_id}", None),
        ("DELETE", f"{SESSIONS}/{session_id}", None),
        ("POST", LOGOUT, None),
        ("POST", PASSWORD, {"current_password": ADMIN_PASSWORD, "new_password": "kx7 plum fog"}),
        ("PUT", put, None),
    ]


@pytest.mark.parametrize("forged", FORGED.values(), ids=FORGED.keys())
async def test_a_forged_change_with_the_cookie_is_403_and_changes_nothing(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    log_in: LogIn,
    put_route: str,
    forged: dict[str, str],
) -> None:
    login = await log_in()
    cookie = {"Cookie": f"{SESSION_COOKIE}={login.cookie}"}
    admin_id = (await anonymous.get(ME, headers=login.bearer)).json()["id"]
    [bootstrap] = (await client.get(API_KEYS)).json()["api_keys"]
    [own] = (await anonymous.get(SESSIONS, headers=login.bearer)).json()["sessions"]
    before = await everything(client)

    for method, path, body in changes(admin_id, bootstrap["id"], own["id"], put_route):
        response = await anonymous.request(method, path, json=body, headers={**cookie, **forged})
        assert (response.status_code, response.json()) == (403, CSRF_REJECTED), (method, path)
        assert "set-cookie" not in response.headers

    assert await everything(client) == before
    assert (await anonymous.get(ME, headers={**cookie, **forged})).status_code == 200


@pytest.mark.parametrize("own", OWN_PAGES.values(), ids=OWN_PAGES.keys())
async def test_a_change_from_the_apps_own_pages_is_made(
    anonymous: httpx.AsyncClient, log_in: LogIn, put_route: str, own: dict[str, str]
) -> None:
    headers = {"Cookie": f"{SESSION_COOKIE}={(await log_in()).cookie}", **own}
    created = await anonymous.post(RECORDS, json=RECORD, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["actor"] == ADMIN_EMAIL
    batch = await anonymous.post(f"{RECORDS}/batch", json=[RECORD], headers=headers)
    assert batch.status_code == 201, batch.text
    key = await anonymous.post(API_KEYS, json={"name": "from-the-console"}, headers=headers)
    assert key.status_code == 201, key.text
    put = await anonymous.put(put_route, headers=headers)
    assert (put.status_code, put.json()) == (200, {"actor": ADMIN_EMAIL})
    assert (await anonymous.post(LOGOUT, headers=headers)).status_code == 204


async def test_reads_with_the_cookie_need_no_origin(
    anonymous: httpx.AsyncClient, log_in: LogIn
) -> None:
    cookie = {"Cookie": f"{SESSION_COOKIE}={(await log_in()).cookie}"}
    for path in (ME, RECORDS, SESSIONS):
        response = await anonymous.get(path, headers={**cookie, **FORGED["cross-site"]})
        assert response.status_code == 200, (path, response.text)


async def test_keys_and_tokens_are_not_checked(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, log_in: LogIn
) -> None:
    """No browser sends them by itself: a request with one was meant by whoever sent it. A cookie
    sent alongside is not what authenticates it."""
    login = await log_in()
    cookie = {"Cookie": f"{SESSION_COOKIE}={login.cookie}"}
    credentials = (login.bearer, {"X-API-Key": ADMIN_KEY}, {"Authorization": f"Bearer {ADMIN_KEY}"})
    for index, credential in enumerate(credentials):
        for extra in ({}, cookie):
            headers = {**credential, **extra, **FORGED["cross-site with its origin"]}
            response = await anonymous.post(RECORDS, json=RECORD, headers=headers)
            assert response.status_code == 201, response.text
            name = f"key-{index}-{len(extra)}"
            key = await anonymous.post(API_KEYS, json={"name": name}, headers=headers)
            assert key.status_code == 201, key.text


async def test_a_bad_cookie_is_the_same_401_wherever_it_comes_from(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    stored = await record_total(client)
    headers = {"Cookie": f"{SESSION_COOKIE}=not-a-session", **FORGED["cross-site"]}
    for path, body in ((RECORDS, RECORD), (API_KEYS, {"name": "x"}), (LOGOUT, None)):
        assert_unauthenticated(await anonymous.post(path, json=body, headers=headers))
    assert await record_total(client) == stored


async def test_an_allowed_origin_may_make_changes(
    client: httpx.AsyncClient, app_with: AppWith
) -> None:
    async with (
        app_with(allowed_origins=["https://Console.Example.com:443"]) as app,
        make_client(app) as browser,
    ):
        login = await browser.post(LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert login.status_code == 200
        console = {"Sec-Fetch-Site": "cross-site", "Origin": "https://console.example.com"}
        created = await browser.post(RECORDS, json=RECORD, headers=console)
        assert created.status_code == 201, created.text
        stored = await record_total(client)
        other = {"Sec-Fetch-Site": "cross-site", "Origin": "https://other.example.com"}
        refused = await browser.post(RECORDS, json=RECORD, headers=other)
        assert (refused.status_code, refused.json()) == (403, CSRF_REJECTED)
        assert await record_total(client) == stored


async def test_behind_a_trusted_proxy_the_origin_is_the_forwarded_schemes(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, app_with: AppWith
) -> None:
    over_https = {"X-Forwarded-Proto": "https", "Origin": "https://testserver"}
    async with app_with(trusted_proxies=[CLIENT_ADDRESS[0]]) as app, make_client(app) as browser:
        login = await browser.post(LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert login.status_code == 200
        created = await browser.post(RECORDS, json=RECORD, headers=over_https)
        assert created.status_code == 201, created.text
        stored = await record_total(client)
        plain = {"X-Forwarded-Proto": "https", "Origin": "http://testserver"}
        refused = await browser.post(RECORDS, json=RECORD, headers=plain)
        assert (refused.status_code, refused.json()) == (403, CSRF_REJECTED)
        assert await record_total(client) == stored

    # A peer that is no trusted proxy does not say which scheme the client used.
    login = await anonymous.post(LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert login.status_code == 200
    stored = await record_total(client)
    refused = await anonymous.post(RECORDS, json=RECORD, headers=over_https)
    assert (refused.status_code, refused.json()) == (403, CSRF_REJECTED)
    assert await record_total(client) == stored


# (method, path, content type, body, expected error)
NOT_JSON: list[tuple[str, str, str | None, bytes, dict[str, Any]]] = [
    ("POST", API_KEYS, "text/plain", b'{"name": "plain"}', JSON_ONLY),
    ("POST", API_KEYS, "application/x-www-form-urlencoded", b"name=form", JSON_ONLY),
    (
        "POST",
        API_KEYS,
        "multipart/form-data; boundary=x",
        b'--x\r\n\r\n{"name": "m"}\r\n--x--',
        JSON_ONLY,
    ),
    ("POST", API_KEYS, None, b'{"name": "untyped"}', JSON_ONLY),
    ("POST", API_KEYS, "application/vnd.api+json", b'{"name": "suffixed"}', JSON_ONLY),
    (
        "PATCH",
        f"{USERS}/{{admin_id}}",
        "application/merge-patch+json",
        b'{"roles": ["reader"]}',
        JSON_ONLY,
    ),
    ("POST", RECORDS, "text/plain", b'{"event_type": "x", "summary": "y"}', JSON_ONLY),
    ("POST", RECORDS, None, b'{"event_type": "x", "summary": "y"}', JSON_ONLY),
    ("POST", RECORDS, "application/x-ndjson", b'{"event_type": "x", "summary": "y"}', JSON_ONLY),
    (
        "POST",
        f"{RECORDS}/batch",
        "text/plain",
        b'[{"event_type": "x", "summary": "y"}]',
        JSON_OR_NDJSON,
    ),
    ("POST", f"{RECORDS}/batch", None, b'[{"event_type": "x", "summary": "y"}]', JSON_OR_NDJSON),
]


async def test_a_body_that_is_not_declared_json_is_415_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    admin_id = (await client.get(USERS)).json()["users"][0]["id"]
    before = await everything(client)
    for method, path, content_type, body, error in NOT_JSON:
        headers = {} if content_type is None else {"Content-Type": content_type}
        response = await client.request(
            method, path.format(admin_id=admin_id), content=body, headers=headers
        )
        assert (response.status_code, response.json()) == (415, error), (path, content_type)
    assert await everything(client) == before


async def test_a_login_form_is_415_and_starts_no_session(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    stored = await record_total(client)
    response = await anonymous.post(LOGIN, data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert (response.status_code, response.json()) == (415, JSON_ONLY)
    assert "set-cookie" not in response.headers
    assert await record_total(client) == stored


async def test_json_is_json_with_parameters_and_in_any_case(client: httpx.AsyncClient) -> None:
    for index, content_type in enumerate(("application/json; charset=utf-8", "Application/JSON")):
        response = await client.post(
            API_KEYS, content=f'{{"name": "typed-{index}"}}', headers={"Content-Type": content_type}
        )
        assert response.status_code == 201, response.text
        record = await client.post(
            RECORDS,
            content=b'{"event_type": "x", "summary": "y"}',
            headers={"Content-Type": content_type},
        )
        assert record.status_code == 201, record.text


async def test_an_unauthenticated_intake_is_401_before_its_body_is_looked_at(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    stored = await record_total(client)
    response = await anonymous.post(RECORDS, content=b"x", headers={"Content-Type": "text/plain"})
    assert_unauthenticated(response)
    assert await record_total(client) == stored


async def test_a_cross_site_form_with_the_cookie_is_refused_as_forged(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, log_in: LogIn
) -> None:
    """What a form on another site sends: text/plain, the cookie, and where it comes from."""
    headers = {
        "Cookie": f"{SESSION_COOKIE}={(await log_in()).cookie}",
        "Content-Type": "text/plain",
        **FORGED["cross-site with its origin"],
    }
    stored = await record_total(client)
    response = await anonymous.post(
        RECORDS, content=b'{"event_type": "x", "summary": "y"}', headers=headers
    )
    assert (response.status_code, response.json()) == (403, CSRF_REJECTED)
    assert await record_total(client) == stored
    same = await anonymous.post(
        RECORDS, json=RECORD, headers={**headers, **SAME_ORIGIN, "Content-Type": "application/json"}
    )
    assert same.status_code == 201, same.text

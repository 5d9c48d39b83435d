"""The four ways to authenticate, and every way each of them fails: one 401, whatever went wrong."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest

from audittrail.config import Settings
from tests.auth.conftest import (
    API_KEYS,
    LOGOUT,
    ME,
    SESSION_COOKIE,
    CreateKey,
    LogIn,
    MovableClock,
    assert_unauthenticated,
)
from tests.conftest import ADMIN_EMAIL, ADMIN_KEY
from tests.helpers import RECORDS, record_total

Headers = dict[str, str]


@dataclass
class Context:
    client: httpx.AsyncClient
    anonymous: httpx.AsyncClient
    log_in: LogIn
    create_key: CreateKey
    clock: MovableClock
    secret: str


@pytest.fixture
def context(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    log_in: LogIn,
    create_key: CreateKey,
    moved_clock: MovableClock,
    settings: Settings,
) -> Context:
    return Context(client, anonymous, log_in, create_key, moved_clock, settings.signing_secret())


async def exercise(anonymous: httpx.AsyncClient, headers: Headers) -> list[httpx.Response]:
    """The three endpoints every way to authenticate opens: write, list, who-am-I."""
    return [
        await anonymous.post(
            RECORDS, json={"event_type": "auth.test", "summary": "via"}, headers=headers
        ),
        await anonymous.get(RECORDS, headers=headers),
        await anonymous.get(ME, headers=headers),
    ]


# --- each way in --------------------------------------------------------------------------------


async def _key_as_bearer(context: Context) -> Headers:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


async def _key_as_header(context: Context) -> Headers:
    return {"X-API-Key": ADMIN_KEY}


async def _access_token(context: Context) -> Headers:
    return (await context.log_in()).bearer


async def _session_cookie(context: Context) -> Headers:
    return (await context.log_in()).cookie_header


WAYS_IN: dict[str, tuple[Callable[[Context], Awaitable[Headers]], str]] = {
    "api key as bearer": (_key_as_bearer, "api_key:bootstrap"),
    "api key as X-API-Key": (_key_as_header, "api_key:bootstrap"),
    "access token as bearer": (_access_token, ADMIN_EMAIL),
    "session cookie": (_session_cookie, ADMIN_EMAIL),
}


@pytest.mark.parametrize("way", WAYS_IN)
async def test_each_way_in_opens_write_list_and_me(
    context: Context, anonymous: httpx.AsyncClient, way: str
) -> None:
    make_headers, actor = WAYS_IN[way]
    created, listed, me = await exercise(anonymous, await make_headers(context))
    assert created.status_code == 201, created.text
    assert created.json()["actor"] == actor
    assert listed.status_code == 200, listed.text
    assert created.json()["id"] in [record["id"] for record in listed.json()["records"]]
    assert me.status_code == 200, me.text
    assert me.json()["actor"] == actor


# --- each way it fails --------------------------------------------------------------------------


async def _nothing(context: Context) -> Headers:
    return {}


async def _garbage_bearer(context: Context) -> Headers:
    return {"Authorization": "Bearer not-a-key"}


async def _garbage_jwt_bearer(context: Context) -> Headers:
    return {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}


async def _garbage_key_header(context: Context) -> Headers:
    return {"X-API-Key": "atk_" + "x" * 43}


async def _garbage_cookie(context: Context) -> Headers:
    return {"Cookie": f"{SESSION_COOKIE}=not-a-session"}


async def _key_in_cookie(context: Context) -> Headers:
    return {"Cookie": f"{SESSION_COOKIE}={ADMIN_KEY}"}


async def _key_as_basic(context: Context) -> Headers:
    return {"Authorization": f"Basic {ADMIN_KEY}"}


async def _empty_bearer(context: Context) -> Headers:
    return {"Authorization": "Bearer "}


async def _revoked_key(context: Context) -> str:
    key = await context.create_key("soon-revoked", ["admin"])
    response = await context.client.delete(f"{API_KEYS}/{key['id']}")
    assert response.status_code == 200, response.text
    return str(key["key"])


async def _revoked_key_as_bearer(context: Context) -> Headers:
    return {"Authorization": f"Bearer {await _revoked_key(context)}"}


async def _revoked_key_as_header(context: Context) -> Headers:
    return {"X-API-Key": await _revoked_key(context)}


async def _expired_key(context: Context) -> str:
    expires_at = context.clock.now() + timedelta(hours=1)
    key = await context.create_key("soon-expired", ["admin"], expires_at=expires_at.isoformat())
    works = await context.client.get(ME, headers={"Authorization": f"Bearer {key['key']}"})
    assert works.status_code == 200, works.text
    context.clock.advance(3601)
    return str(key["key"])


async def _expired_key_as_bearer(context: Context) -> Headers:
    return {"Authorization": f"Bearer {await _expired_key(context)}"}


async def _expired_key_as_header(context: Context) -> Headers:
    return {"X-API-Key": await _expired_key(context)}


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def _forged_past_exp(context: Context) -> Headers:
    claims = _claims((await context.log_in()).access_token)
    claims.update(iat=claims["iat"] - 7200, exp=claims["iat"] - 3600)
    return {"Authorization": f"Bearer {jwt.encode(claims, context.secret, algorithm='HS256')}"}


async def _token_past_its_lifetime(context: Context) -> Headers:
    login = await context.log_in()
    context.clock.advance(login.response.json()["expires_in"] + 1)
    return login.bearer


async def _wrong_signature(context: Context) -> Headers:
    claims = _claims((await context.log_in()).access_token)
    forged = jwt.encode(claims, "another-secret-" + "x" * 40, algorithm="HS256")
    return {"Authorization": f"Bearer {forged}"}


async def _unsigned_token(context: Context) -> Headers:
    claims = _claims((await context.log_in()).access_token)
    return {"Authorization": f"Bearer {jwt.encode(claims, '', algorithm='none')}"}


async def _someone_elses_subject(context: Context) -> Headers:
    claims = _claims((await context.log_in()).access_token)
    claims["sub"] = "0190c0de-0000-7000-8000-000000000000"
    return {"Authorization": f"Bearer {jwt.encode(claims, context.secret, algorithm='HS256')}"}


async def _logged_out(context: Context, via: str) -> Headers:
    login = await context.log_in()
    headers = login.bearer if via == "token" else login.cookie_header
    response = await context.anonymous.post(LOGOUT, headers=headers)
    assert response.status_code == 204, response.text
    return headers


async def _token_after_logout(context: Context) -> Headers:
    return await _logged_out(context, "token")


async def _cookie_after_logout(context: Context) -> Headers:
    return await _logged_out(context, "cookie")


async def _session_expired(context: Context, via: str) -> Headers:
    login = await context.log_in()
    context.clock.advance(8 * 3600 + 1)
    return login.bearer if via == "token" else login.cookie_header


async def _cookie_of_expired_session(context: Context) -> Headers:
    return await _session_expired(context, "cookie")


async def _token_of_expired_session(context: Context) -> Headers:
    return await _session_expired(context, "token")


FAILURES: dict[str, Callable[[Context], Awaitable[Headers]]] = {
    "no credential": _nothing,
    "garbage bearer": _garbage_bearer,
    "garbage jwt-shaped bearer": _garbage_jwt_bearer,
    "empty bearer": _empty_bearer,
    "api key with the basic scheme": _key_as_basic,
    "garbage X-API-Key": _garbage_key_header,
    "garbage cookie": _garbage_cookie,
    "api key in the cookie": _key_in_cookie,
    "revoked key as bearer": _revoked_key_as_bearer,
    "revoked key as X-API-Key": _revoked_key_as_header,
    "expired key as bearer": _expired_key_as_bearer,
    "expired key as X-API-Key": _expired_key_as_header,
    "access token with exp in the past": _forged_past_exp,
    "access token past expires_in": _token_past_its_lifetime,
    "access token with a wrong signature": _wrong_signature,
    "unsigned access token": _unsigned_token,
    "access token naming another subject": _someone_elses_subject,
    "access token after logout": _token_after_logout,
    "cookie after logout": _cookie_after_logout,
    "cookie of an expired session": _cookie_of_expired_session,
    "access token of an expired session": _token_of_expired_session,
}


@pytest.mark.parametrize("failure", FAILURES)
async def test_every_failure_is_the_same_401_and_stores_nothing(
    context: Context, anonymous: httpx.AsyncClient, failure: str
) -> None:
    headers = await FAILURES[failure](context)
    stored = await record_total(context.client)
    for response in await exercise(anonymous, headers):
        assert_unauthenticated(response)
    assert await record_total(context.client) == stored


async def test_a_bad_bearer_is_not_rescued_by_a_good_key_header(
    anonymous: httpx.AsyncClient,
) -> None:
    """One credential is used (bearer first); a wrong one fails even next to a right one."""
    response = await anonymous.get(
        ME, headers={"Authorization": "Bearer nope", "X-API-Key": ADMIN_KEY}
    )
    assert_unauthenticated(response)


async def test_the_access_token_lives_expires_in_seconds(log_in: LogIn) -> None:
    login = await log_in()
    claims = _claims(login.access_token)
    assert claims["exp"] - claims["iat"] == login.response.json()["expires_in"] == 3600
    assert claims["iss"] == "audittrail"


async def test_the_access_token_works_until_it_expires(
    log_in: LogIn, anonymous: httpx.AsyncClient, moved_clock: MovableClock
) -> None:
    login = await log_in()
    # Used every 20 minutes, so that the session never goes idle (30 minutes).
    for _ in range(2):
        moved_clock.advance(20 * 60)
        assert (await anonymous.get(ME, headers=login.bearer)).status_code == 200
    moved_clock.advance(20 * 60 - 5)
    response = await anonymous.get(ME, headers=login.bearer)
    assert response.status_code == 200, response.text

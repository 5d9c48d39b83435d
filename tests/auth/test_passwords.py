"""Passwords: the policy (12 characters, and hard to guess for zxcvbn, knowing the user's email),
wherever one is set; users changing their own; argon2 kept outside the log's lock."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from audittrail.auth import credentials
from audittrail.log import head as log_head
from tests.auth.conftest import (
    LOGIN,
    LOGIN_FAILED,
    ME,
    SESSION_COOKIE,
    USERS,
    CreateUser,
    LogIn,
    Login,
    assert_unauthenticated,
    security_records,
)
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.helpers import record_total

PASSWORD = "/api/auth/password"
STRONG = "quiet harbour lantern"
NEWER = "brisk meadow falcon"
WRONG_PASSWORD = {"error": {"code": "WRONG_PASSWORD", "message": "The current password is wrong."}}
NO_SESSION = {"error": {"code": "NO_SESSION", "message": "API keys have no sessions or password."}}


def too_weak(field: str, advice: str) -> dict[str, Any]:
    return {
        "error": {
            "code": "PASSWORD_TOO_WEAK",
            "message": f"The password is too easy to guess: {advice}",
            "details": [{"field": field, "code": "PASSWORD_TOO_WEAK", "message": advice}],
        }
    }


# (password, email, zxcvbn's advice): each at least 12 characters, each guessable.
GUESSABLE = [
    ("password1234", "kim@example.com", "This is a very common password."),
    ("aaaaaaaaaaaa", "kim@example.com", 'Repeats like "aaa" are easy to guess.'),
    ("qwertyuiop12", "kim@example.com", "This is similar to a commonly used password."),
    ("abcdefghijkl", "kim@example.com", 'Sequences like "abc" or "6543" are easy to guess.'),
    # Strong for anyone else (below): guessable from the user's own email.
    (
        "zanzibarquokka",
        "zanzibar.quokka@example.com",
        "Add another word or two. Uncommon words are better.",
    ),
]


async def users_and_records(client: httpx.AsyncClient) -> list[Any]:
    users = (await client.get(USERS, params={"page_size": 200})).json()
    return [users, await record_total(client)]


async def signs_in(anonymous: httpx.AsyncClient, email: str, password: str) -> bool:
    response = await anonymous.post(LOGIN, json={"email": email, "password": password})
    return response.status_code == 200


async def works(anonymous: httpx.AsyncClient, login: Login) -> list[bool]:
    return [
        (await anonymous.get(ME, headers=headers)).status_code == 200
        for headers in (login.cookie_header, login.bearer)
    ]


@pytest.mark.parametrize(("password", "email", "advice"), GUESSABLE, ids=[g[0] for g in GUESSABLE])
async def test_a_guessable_password_is_422_with_zxcvbns_advice_and_stores_nothing(
    client: httpx.AsyncClient, password: str, email: str, advice: str
) -> None:
    before = await users_and_records(client)
    response = await client.post(USERS, json={"email": email, "password": password})
    assert (response.status_code, response.json()) == (422, too_weak("body.password", advice))
    assert password not in response.text
    assert await users_and_records(client) == before


async def test_a_password_guessable_only_from_someone_elses_email_is_theirs_to_refuse(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        USERS, json={"email": "kim@example.com", "password": "zanzibarquokka"}
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple " * 35,  # 1,015 characters: scored by its first 72
        "kx7 plum fog",  # the shortest allowed
    ],
    ids=["long", "shortest"],
)
async def test_a_strong_password_of_any_allowed_length_is_taken(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, password: str
) -> None:
    response = await client.post(USERS, json={"email": "lou@example.com", "password": password})
    assert response.status_code == 201, response.text
    assert await signs_in(anonymous, "lou@example.com", password)


async def test_a_password_weak_in_its_first_72_characters_is_refused_whatever_follows(
    client: httpx.AsyncClient,
) -> None:
    before = await users_and_records(client)
    password = "a" * 72 + "kx7 plum fog"
    response = await client.post(USERS, json={"email": "lou@example.com", "password": password})
    assert (response.status_code, response.json()) == (
        422,
        too_weak("body.password", 'Repeats like "aaa" are easy to guess.'),
    )
    assert await users_and_records(client) == before


async def test_an_admin_reset_to_a_guessable_password_changes_nothing(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_user: CreateUser,
    log_in: LogIn,
) -> None:
    user = await create_user("mo@example.com", STRONG, ["reader"])
    login = await log_in("mo@example.com", STRONG)
    before = await users_and_records(client)
    response = await client.patch(f"{USERS}/{user['id']}", json={"password": "password1234"})
    assert (response.status_code, response.json()) == (
        422,
        too_weak("body.password", "This is a very common password."),
    )
    assert await users_and_records(client) == before
    assert await works(anonymous, login) == [True, True]
    assert await signs_in(anonymous, "mo@example.com", STRONG)


async def test_an_admin_reset_of_an_unknown_user_is_404_before_any_check(
    client: httpx.AsyncClient,
) -> None:
    before = await users_and_records(client)
    response = await client.patch(f"{USERS}/nobody", json={"password": "password1234"})
    assert (response.status_code, response.json()) == (
        404,
        {"error": {"code": "USER_NOT_FOUND", "message": "No user nobody."}},
    )
    assert await users_and_records(client) == before


# A user changing their own password


async def test_a_user_changes_their_password_and_their_other_sessions_end(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_user: CreateUser,
    log_in: LogIn,
) -> None:
    user = await create_user("ray@example.com", STRONG, ["reader"])
    here, elsewhere = (
        await log_in("ray@example.com", STRONG),
        await log_in("ray@example.com", STRONG),
    )
    response = await anonymous.post(
        PASSWORD,
        json={"current_password": STRONG, "new_password": NEWER},
        headers=here.cookie_header,
    )
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert await works(anonymous, here) == [True, True]
    assert await works(anonymous, elsewhere) == [False, False]
    assert_unauthenticated(
        await anonymous.post(LOGIN, json={"email": "ray@example.com", "password": STRONG}),
        LOGIN_FAILED,
    )
    assert await signs_in(anonymous, "ray@example.com", NEWER)

    [record] = await security_records(client, event_types="user.password_changed")
    assert record["actor"] == "ray@example.com"
    assert (record["entity_type"], record["entity_id"]) == ("user", user["id"])
    assert record["summary"] == "ray@example.com changed their password"
    assert record["severity"] == "medium"
    assert record["params"] == {
        "password": {"old": "[redacted]", "new": "[redacted]"},
        "sessions_ended": 1,
    }
    everything = (await client.get("/api/audit-trail/records", params={"page_size": 200})).text
    assert STRONG not in everything and NEWER not in everything


async def test_a_wrong_current_password_is_403_and_changes_nothing(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_user: CreateUser,
    log_in: LogIn,
) -> None:
    user = await create_user("sol@example.com", STRONG, ["reader"])
    here, elsewhere = (
        await log_in("sol@example.com", STRONG),
        await log_in("sol@example.com", STRONG),
    )
    before = (await client.get(USERS, params={"page_size": 200})).json()
    response = await anonymous.post(
        PASSWORD,
        json={"current_password": "not the password", "new_password": NEWER},
        headers=here.bearer,
    )
    assert (response.status_code, response.json()) == (403, WRONG_PASSWORD)
    assert "www-authenticate" not in response.headers
    assert (await client.get(USERS, params={"page_size": 200})).json() == before
    assert await works(anonymous, here) == [True, True]
    assert await works(anonymous, elsewhere) == [True, True]
    assert await signs_in(anonymous, "sol@example.com", STRONG)
    assert not await signs_in(anonymous, "sol@example.com", NEWER)
    # Only the failure is recorded: someone with the session was guessing.
    [failed] = await security_records(client, event_types="user.password_change_failed")
    assert failed["actor"] == "sol@example.com"
    assert (failed["entity_id"], failed["params"]) == (user["id"], {"reason": "wrong_password"})
    assert await security_records(client, event_types="user.password_changed") == []


def _invalid(field: str, code: str, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": f"Invalid request: {field}.",
            "details": [{"field": field, "code": code, "message": message}],
        }
    }


BAD_CHANGES = [
    (
        {"current_password": STRONG, "new_password": "password1234"},
        too_weak("body.new_password", "This is a very common password."),
    ),
    (
        {"current_password": STRONG, "new_password": "x" * 11},
        _invalid(
            "body.new_password", "STRING_TOO_SHORT", "String should have at least 12 characters"
        ),
    ),
    (
        {"new_password": NEWER},
        _invalid("body.current_password", "MISSING", "Field required"),
    ),
    (
        {"current_password": STRONG},
        _invalid("body.new_password", "MISSING", "Field required"),
    ),
    (
        {"current_password": STRONG, "new_password": NEWER, "email": "x@example.com"},
        _invalid("body.email", "EXTRA_FORBIDDEN", "Extra inputs are not permitted"),
    ),
]


@pytest.mark.parametrize(
    ("body", "error"), BAD_CHANGES, ids=[str(sorted(b)) for b, _ in BAD_CHANGES]
)
async def test_a_bad_password_change_is_422_and_changes_nothing(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_user: CreateUser,
    log_in: LogIn,
    body: dict[str, Any],
    error: dict[str, Any],
) -> None:
    await create_user("tao@example.com", STRONG, ["reader"])
    here, elsewhere = (
        await log_in("tao@example.com", STRONG),
        await log_in("tao@example.com", STRONG),
    )
    before = await users_and_records(client)
    response = await anonymous.post(PASSWORD, json=body, headers=here.cookie_header)
    assert (response.status_code, response.json()) == (422, error)
    assert await users_and_records(client) == before
    assert await works(anonymous, elsewhere) == [True, True]
    assert await signs_in(anonymous, "tao@example.com", STRONG)


async def test_only_a_signed_in_user_changes_a_password(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    before = await users_and_records(client)
    body = {"current_password": ADMIN_PASSWORD, "new_password": NEWER}
    response = await client.post(PASSWORD, json=body)
    assert (response.status_code, response.json()) == (400, NO_SESSION)
    assert_unauthenticated(await anonymous.post(PASSWORD, json=body))
    assert await users_and_records(client) == before
    assert await signs_in(anonymous, ADMIN_EMAIL, ADMIN_PASSWORD)


# Argon2 (tens of milliseconds of CPU) never runs under the log's lock.


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The order of argon2's work and of taking the log's lock, as the requests go."""
    taken: list[str] = []
    hash_password, verify_password, lock = (
        credentials.hash_password,
        credentials.verify_password,
        log_head.lock,
    )

    async def hashing(password: str) -> str:
        taken.append("hash")
        return await hash_password(password)

    async def verifying(password_hash: str | None, password: str) -> bool:
        taken.append("verify")
        return await verify_password(password_hash, password)

    async def locking(*args: Any, **kwargs: Any) -> Any:
        taken.append("lock")
        return await lock(*args, **kwargs)

    monkeypatch.setattr(credentials, "hash_password", hashing)
    monkeypatch.setattr(credentials, "verify_password", verifying)
    monkeypatch.setattr(log_head, "lock", locking)
    return taken


def before_the_lock(steps: list[str]) -> list[str]:
    return steps[: steps.index("lock")] if "lock" in steps else steps


async def test_passwords_are_checked_and_hashed_before_the_lock_is_taken(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, steps: list[str]
) -> None:
    created = await client.post(USERS, json={"email": "uma@example.com", "password": STRONG})
    assert created.status_code == 201
    assert before_the_lock(steps) == ["hash"], steps
    steps.clear()
    reset = await client.patch(f"{USERS}/{created.json()['id']}", json={"password": NEWER})
    assert reset.status_code == 200
    assert before_the_lock(steps) == ["hash"] and "lock" in steps, steps
    login = await anonymous.post(LOGIN, json={"email": "uma@example.com", "password": NEWER})
    headers = {
        "Authorization": f"Bearer {login.json()['access_token']}",
        "Cookie": f"{SESSION_COOKIE}=ignored",
    }
    steps.clear()
    body = {"current_password": NEWER, "new_password": STRONG}
    assert (await anonymous.post(PASSWORD, json=body, headers=headers)).status_code == 204
    assert before_the_lock(steps) == ["verify", "hash"] and "lock" in steps, steps

"""Failed logins: recorded as `anonymous`, what was typed kept as data; the same answer, at the
same cost, whether the email is unknown or the password wrong."""

from __future__ import annotations

from typing import Any, Literal

import httpx
import pytest
from argon2 import PasswordHasher, extract_parameters

from audittrail.auth import credentials
from tests.auth.conftest import (
    LOGIN,
    LOGIN_FAILED,
    USERS,
    CreateUser,
    assert_unauthenticated,
    security_records,
)
from tests.conftest import ADMIN_EMAIL
from tests.helpers import RECORDS

# What a guesser may type as the email, and what the record keeps of it: lower-cased, as it was
# looked up, without control and format characters.
TYPED = [
    ("system", "system"),
    ("api_key:bootstrap", "api_key:bootstrap"),
    ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    (
        "admin@example.com\r\nseverity: low\x1b[2J\u202etxt.exe",
        "admin@example.comseverity: low[2jtxt.exe",
    ),
    ("é" * 320, "é" * 320),
]


async def failed_logins(client: httpx.AsyncClient, **filters: Any) -> list[dict[str, Any]]:
    response = await client.get(
        RECORDS, params={"event_types": "auth.login_failed", "page_size": 200, **filters}
    )
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


async def test_a_failed_login_is_anonymous_whatever_was_typed(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    for typed, _ in TYPED:
        response = await anonymous.post(LOGIN, json={"email": typed, "password": "a guess"})
        assert_unauthenticated(response, LOGIN_FAILED)

    records = await security_records(client, event_types="auth.login_failed")
    assert [r["actor"] for r in records] == ["anonymous"] * len(TYPED)
    assert [r["params"] for r in records] == [
        {"reason": "unknown_user", "email": kept} for _, kept in TYPED
    ]
    assert {r["summary"] for r in records} == {"Failed login for an unknown email"}
    assert {r["entity_id"] for r in records} == {None}

    # Filtering by actor finds none of them among the system's or a key's records.
    for actor in ("system", "api_key:bootstrap", "<script>alert(1)</script>"):
        assert await failed_logins(client, actors=actor) == []
    system = (await client.get(RECORDS, params={"actors": "system", "page_size": 200})).json()
    assert system["total"] >= 2  # the bootstrap's own records
    assert {r["event_type"] for r in system["records"]} == {"user.created", "api_key.created"}
    assert len(await failed_logins(client, actors="anonymous")) == len(TYPED)


async def test_a_known_users_failed_login_names_them_in_its_summary(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    response = await anonymous.post(LOGIN, json={"email": "ADMIN@example.com", "password": "no"})
    assert_unauthenticated(response, LOGIN_FAILED)
    [record] = await failed_logins(client)
    assert record["actor"] == "anonymous"
    assert record["summary"] == f"Failed login for {ADMIN_EMAIL}"
    assert record["params"] == {"reason": "wrong_password", "email": ADMIN_EMAIL}
    assert record["entity_type"] == "user" and record["entity_id"] is not None


class CountingHasher(PasswordHasher):
    """Argon2id at its cheapest, noting the parameters of each hash a password is checked
    against."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.checked: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.checked.append(hash if isinstance(hash, str) else hash.decode())
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(credentials, "_hasher", counting)
    return counting


async def test_an_unknown_email_and_a_wrong_password_get_the_same_answer_at_the_same_cost(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    create_user: CreateUser,
    hasher: CountingHasher,
) -> None:
    inactive = await create_user("vic@example.com", "quiet harbour lantern", ["reader"])
    assert (await client.patch(f"{USERS}/{inactive['id']}", json={"is_active": False})).is_success
    attempts = {
        "unknown email": ("nobody@example.com", "quiet harbour lantern"),
        "wrong password": (ADMIN_EMAIL, "quiet harbour lantern"),
        "inactive user": ("vic@example.com", "quiet harbour lantern"),
    }
    answers = {}
    for name, (email, password) in attempts.items():
        hasher.checked.clear()
        response = await anonymous.post(LOGIN, json={"email": email, "password": password})
        varying = {"date", "x-request-id", "content-length"}
        headers = {k: v for k, v in response.headers.items() if k not in varying}
        answers[name] = (response.status_code, response.json(), headers)
        # One argon2 verification each; an unknown email's against a hash made as real ones
        # are in production (the users' here are cheaper, for the tests' speed).
        [checked] = hasher.checked
        if name == "unknown email":
            production = extract_parameters(PasswordHasher().hash("x"))
            assert extract_parameters(checked) == production
    first = answers["unknown email"]
    assert first[:2] == (401, LOGIN_FAILED)
    assert first[2]["www-authenticate"] == "Bearer"
    assert answers["wrong password"] == first
    assert answers["inactive user"] == first
